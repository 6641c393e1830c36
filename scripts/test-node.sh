#!/usr/bin/env bash
# Runs the conformance suite (every loop, with its network suites), the fault suites and
# `loopkit examples` on another Node major version: `scripts/test-node.sh 22`.
# Expects a built workspace (`pnpm install && tsc -b`); `pnpm test:node22` does both.
#
# The addon is rebuilt with that Node and that Node's own headers (the registry package
# ships include/node, and install.mjs picks the running Node's headers when
# npm_config_nodedir is unset), then loaded by it before any test runs. N-API is ABI-stable,
# so the Node-20 build would load too; building on each version checks that the C code
# compiles against each version's node_api.h as well. On exit the addon is rebuilt for the
# machine's Node again, so the workspace is left as `pnpm install` made it.
set -euo pipefail
cd "$(dirname "$0")/.."
major=${1:?usage: scripts/test-node.sh MAJOR}
node=$(scripts/node-bin.sh "$major")
gyp=$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js
[ -f "$gyp" ] || { echo "test-node: npm's node-gyp not found at $gyp" >&2; exit 1; }

build_addon() { # $1: the node to build with; the rest: extra environment
  local with=$1
  shift
  local log
  log=$(mktemp)
  (cd packages/uv && env "$@" npm_config_node_gyp="$gyp" PATH="$(dirname "$with"):$PATH" "$with" install.mjs >"$log" 2>&1)
  # install.mjs never fails (an install must not): whether the addon loads is the check.
  if ! "$with" --input-type=module -e "
    import { isAvailable, loadError } from './packages/uv/dist/index.js';
    if (!isAvailable()) { console.error('the addon did not load on Node ' + process.version + ': ' + loadError()); process.exit(1); }
    console.log('addon built and loaded on Node ' + process.version);"; then
    cat "$log" >&2
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
  echo "  (headers: $(sed -n 's/.*"nodedir": "\([^"]*\)".*/\1/p' packages/uv/build/config.gypi))"
}
restore() { build_addon "$(command -v node)" npm_config_nodedir="${npm_config_nodedir:-/usr}"; }
trap restore EXIT

start=$SECONDS
echo "== Node $major: $node ($("$node" -v))"
build_addon "$node" -u npm_config_nodedir
# vitest's workers are forks of the Node that runs it, so the suites run on $node.
"$node" node_modules/vitest/vitest.mjs run tests/loops.test.ts tests/faults
"$node" packages/loopkit/dist/cli.js examples
echo "== Node $major: done in $((SECONDS - start)) s"
