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
