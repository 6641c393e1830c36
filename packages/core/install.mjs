// Builds the continuation-slot addon (native/task_slot.cc) at install time, for the Node
// that installs: pnpm/npm run this as the `install` script. Only Node 20 to 23 use it
// (Node 24 keeps its AsyncContextFrame in that slot, and AsyncLocalStorage costs nothing
// there), and nothing is built on Windows. A failed build never fails the install: core
// then tracks the running task with AsyncLocalStorage, as it does without the addon.
//
// Offline machines: node-gyp would download Node's headers. When npm_config_nodedir is
// not set and the running Node's own prefix ships its headers (/usr/bin/node ->
// /usr/include/node), point node-gyp there instead.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

const major = Number(process.versions.node.split('.')[0]);
if (process.platform === 'win32' || major >= 24) {
  console.log(`@loopkit/core: no continuation-slot addon needed on Node ${process.version} (${process.platform}); tasks are tracked with AsyncLocalStorage.`);
  process.exit(0);
}

const env = { ...process.env };
const prefix = dirname(dirname(process.execPath));
if (!env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'v8.h'))) {
  env.npm_config_nodedir = prefix;
}

// npm and pnpm tell scripts where their bundled node-gyp is; else use PATH.
const gyp = env.npm_config_node_gyp;
const [cmd, args] = gyp ? [process.execPath, [gyp, 'rebuild']] : ['node-gyp', ['rebuild']];
const r = spawnSync(cmd, args, { stdio: 'inherit', env });
if (r.status !== 0) {
  console.warn(
    `@loopkit/core: the continuation-slot addon did not build (${r.error?.message ?? `exit ${r.status}`}); ` +
      'tasks are tracked with AsyncLocalStorage instead (slower on Node 20 and 22). Set npm_config_nodedir and reinstall to build it.',
  );
}
