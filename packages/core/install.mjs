// Builds the continuation-slot addon (native/task_slot.cc) at install time, for the Node
// that installs: pnpm/npm run this as the `install` script. Node 20 to 23 keep the running
// task in that slot; Node 24 and later keep a frame per task step there (task-slot.ts).
// Nothing is built on Windows. A failed build never fails the install: core then tracks the
// running task with AsyncLocalStorage, as it does without the addon.
//
// The build is kept per Node ABI (build/abi-<process.versions.modules>/), so running this
// script with another Node (a Node 24 beside a Node 20) adds its build without removing the
// other's: node-gyp's rebuild empties build/ first, so the other ABIs' builds are set aside.
//
// Offline machines: node-gyp would download Node's headers. When npm_config_nodedir is
// not set and the running Node's own prefix ships its headers (/usr/bin/node ->
// /usr/include/node), point node-gyp there instead.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

if (process.platform === 'win32') {
  console.log(`@loopkit/core: no continuation-slot addon on ${process.platform}; tasks are tracked with AsyncLocalStorage.`);
  process.exit(0);
}

const here = dirname(fileURLToPath(import.meta.url));
const build = join(here, 'build');
const env = { ...process.env };
const prefix = dirname(dirname(process.execPath));
if (!env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'v8.h'))) {
  env.npm_config_nodedir = prefix;
}

const kept = mkdtempSync(join(tmpdir(), 'loopkit-core-abi-'));
const others = existsSync(build) ? readdirSync(build).filter((name) => name.startsWith('abi-')) : [];
for (const name of others) renameSync(join(build, name), join(kept, name));

// npm and pnpm tell scripts where their bundled node-gyp is; else use PATH.
const gyp = env.npm_config_node_gyp;
const [cmd, args] = gyp ? [process.execPath, [gyp, 'rebuild']] : ['node-gyp', ['rebuild']];
const r = spawnSync(cmd, args, { stdio: 'inherit', env, cwd: here });

mkdirSync(build, { recursive: true });
for (const name of others) renameSync(join(kept, name), join(build, name));
rmSync(kept, { recursive: true, force: true });
if (r.status === 0) {
  const abi = join(build, `abi-${process.versions.modules}`);
  mkdirSync(abi, { recursive: true });
  copyFileSync(join(build, 'Release', 'task_slot.node'), join(abi, 'task_slot.node'));
} else {
  console.warn(
    `@loopkit/core: the continuation-slot addon did not build (${r.error?.message ?? `exit ${r.status}`}); ` +
      'tasks are tracked with AsyncLocalStorage instead (slower). Set npm_config_nodedir and reinstall to build it.',
  );
}
