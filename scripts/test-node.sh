#!/usr/bin/env bash
# Runs the conformance suite (every loop, with its network suites), the fault suites and
# `loopkit examples` on another Node major version: `scripts/test-node.sh 22`.
# Expects a built workspace (`pnpm install && tsc -b`); `pnpm test:node22` does both.
#
# The addons are rebuilt with that Node and that Node's own headers (the registry package
# ships include/node, and each install.mjs picks the running Node's headers when
# npm_config_nodedir is unset), then loaded by it before any test runs. @loopkit/uv's is
# N-API, ABI-stable, so the Node-20 build would load too; building on each version checks
# that the C code compiles against each version's node_api.h as well. @loopkit/core's
# continuation-slot addon is V8-API, so it must be built per Node (install.mjs keeps one
# build per ABI, build/abi-N): on Node 20 to 23 core must track tasks with the slot itself,
# on Node 24 with task frames in it. On exit the machine's Node's builds, set aside before,
# are put back (core's per-ABI builds made here kept beside them), so the workspace is left
# as `pnpm install` made it without compiling both addons again.
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
  for pkg in uv core; do
    (cd packages/$pkg && env "$@" npm_config_node_gyp="$gyp" PATH="$(dirname "$with"):$PATH" "$with" install.mjs >>"$log" 2>&1)
  done
  # install.mjs never fails (an install must not): whether the addons load is the check.
  if ! "$with" --input-type=module -e "
    import { isAvailable, loadError } from './packages/uv/dist/index.js';
    import { _world } from './packages/core/dist/index.js';
    if (!isAvailable()) { console.error('the addon did not load on Node ' + process.version + ': ' + loadError()); process.exit(1); }
    const { mechanism, reason } = _world.taskTracking;
    const expected = process.versions.node.split('.')[0] >= 24 ? 'task-frame' : 'continuation-slot';
    if (mechanism !== expected) { console.error('core tracks tasks with ' + mechanism + ' on Node ' + process.version + ', not ' + expected + ': ' + reason); process.exit(1); }
    console.log('addons built and loaded on Node ' + process.version + '; tasks tracked with ' + mechanism);"; then
    cat "$log" >&2
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
  echo "  (headers: $(sed -n 's/.*"nodedir": "\([^"]*\)".*/\1/p' packages/uv/build/config.gypi))"
}
saved=$(mktemp -d "${TMPDIR:-/tmp}/loopkit-addons-XXXXXX")
for pkg in uv core; do
  if [ -d packages/$pkg/build ]; then cp -a packages/$pkg/build "$saved/$pkg"; fi
done
restore() {
  if [ -d packages/core/build ] && [ -d "$saved/core" ]; then
    for abi in packages/core/build/abi-*; do
      if [ -d "$abi" ] && [ ! -e "$saved/core/${abi##*/}" ]; then cp -a "$abi" "$saved/core/"; fi
    done
  fi
  for pkg in uv core; do
    rm -rf packages/$pkg/build
    if [ -d "$saved/$pkg" ]; then mv "$saved/$pkg" packages/$pkg/build; fi
  done
  rm -rf "$saved"
}
trap restore EXIT

start=$SECONDS
echo "== Node $major: $node ($("$node" -v))"
build_addon "$node" -u npm_config_nodedir
# vitest's workers are forks of the Node that runs it, so the suites run on $node.
"$node" node_modules/vitest/vitest.mjs run tests/loops.test.ts tests/faults
"$node" packages/loopkit/dist/cli.js examples
echo "== Node $major: done in $((SECONDS - start)) s"
