// Builds the addon at install time (pnpm/npm run this as the `install` script).
// A failed build never fails the install: the package then loads with
// isAvailable() === false and loadError() explaining why.
//
// Offline machines: node-gyp would download Node's headers. When
// npm_config_nodedir is not set and the running Node's own prefix ships its
// headers (/usr/bin/node -> /usr/include/node, as distro packages and the
// official tarballs do), point node-gyp there instead.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

// The addon's C code is POSIX (BSD sockets, epoll/kqueue/poll, eventfd/pipes): on Windows
// there is nothing to build, and loopkit's policy picks the proactor there (node:net, which
// libuv drives with IOCP). Saying so beats a node-gyp run that must fail.
if (process.platform === 'win32') {
  console.log('@loopkit/uv: the native addon is POSIX-only and is not built on Windows; loopkit uses the proactor there.');
  process.exit(0);
}

const env = { ...process.env };
const prefix = dirname(dirname(process.execPath));
if (!env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) {
  env.npm_config_nodedir = prefix;
}

// npm and pnpm tell scripts where their bundled node-gyp is; else use PATH.
const gyp = env.npm_config_node_gyp;
const [cmd, args] = gyp ? [process.execPath, [gyp, 'rebuild']] : ['node-gyp', ['rebuild']];
const r = spawnSync(cmd, args, { stdio: 'inherit', env, shell: !gyp && process.platform === 'win32' });
if (r.status !== 0) {
  console.warn(
    `@loopkit/uv: native build failed (${r.error?.message ?? `exit ${r.status}`}); ` +
      'the package still loads but isAvailable() is false. Set npm_config_nodedir and rerun pnpm install.',
  );
}
