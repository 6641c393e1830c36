/**
 * What a stranger gets: every package packed (`pnpm pack`, as a publish would), installed
 * with npm from the tarballs into an empty folder, then used there. Plain ESM runs the
 * README's example and the `loopkit` command; a TypeScript consumer type-checks against
 * the shipped declarations (skipLibCheck off) under moduleResolution node16 and bundler.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packAll } from '../../scripts/pack.mjs';

const TSC = fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url));
let app = '';

const README_EXAMPLE = `
import { run, sleep, gather, currentTask, timeout, TimeoutError } from 'loopkit';

const result = await run(async () => {
  const worker = async (name, delay) => {
    await sleep(delay);
    return \`\${name} done in \${currentTask().getName()}\`;
  };
  const both = await gather(() => worker('a', 0.2), () => worker('b', 0.1));
  try {
    await timeout(0.05, async () => sleep(1));
  } catch (e) {
    if (!(e instanceof TimeoutError)) throw e;
  }
  return both;
});
console.log(JSON.stringify(result));
`;

const CONSUMER = `
import { createSecureContext } from 'node:tls';
import { run, sleep, Future, Protocol, ProactorEventLoop, getEventLoopPolicy, gather, openConnection, socket, type AbstractEventLoop, type Transport } from 'loopkit';
import { Task } from '@loopkit/core';
import { isAvailable } from '@loopkit/uv';

class Echo extends Protocol {
  private transport: Transport | null = null;
  override connectionMade(transport: Transport): void {
    this.transport = transport;
  }
  override dataReceived(data: Uint8Array): void {
    this.transport!.write(data);
  }
}

export async function main(): Promise<number> {
  const loop: AbstractEventLoop = new ProactorEventLoop();
  const value: number = await loop.runUntilComplete(async () => {
    const f = new Future<number>();
    loop.callLater(0.01, () => f.setResult(41));
    return (await f) + 1;
  });
  loop.close();
  const t: Task<string> | null = null;
  void t;
  void Echo;
  void getEventLoopPolicy();
  return run(async () => (await sleep(0.001, value)) + (isAvailable() ? 0 : 0));
}

// The shipped declarations type each method's options and results (tests/types checks them all in the repository).
export async function typed(loop: AbstractEventLoop): Promise<void> {
  const [n, s]: [number, string] = await gather(async () => 1, Promise.resolve('two'));
  void [n, s];
  await openConnection('example.com', 443, { ssl: createSecureContext({}), serverHostname: 'example.com', limit: 1024 });
  // @ts-expect-error a misspelt option is a type error
  await loop.createServer(() => new Echo(), '127.0.0.1', 0, { reuse_address: true });
  // @ts-expect-error a misspelt TLS key is a type error
  await loop.createConnection(() => new Echo(), 'example.com', 443, { ssl: { rejectUnauthorised: false } });
  const listener = socket();
  const [conn] = await loop.sockAccept(listener);
  conn.close();
}
`;

function tsconfig(moduleResolution: 'node16' | 'bundler'): object {
  return {
    compilerOptions: {
      target: 'ES2022',
      module: moduleResolution === 'node16' ? 'node16' : 'esnext',
      moduleResolution,
      strict: true,
      noEmit: true,
      skipLibCheck: false,
      types: ['node'],
    },
    files: ['consumer.ts'],
  };
}

const root = mkdtempSync(join(tmpdir(), 'loopkit-install-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

beforeAll(() => {
  const tarballs = packAll(join(root, 'packs')).map((p) => p.tarball);
  app = join(root, 'app');
  execFileSync('mkdir', ['-p', app]);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'stranger', private: true, type: 'module' }));
  // One npm install of every tarball (npm links nothing: a plain node_modules), with the
  // addons' install scripts as a user gets them, plus the types a TypeScript user adds.
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...tarballs, '@types/node@^20.19.0'], {
    cwd: app,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  writeFileSync(join(app, 'readme.mjs'), README_EXAMPLE);
  writeFileSync(join(app, 'consumer.ts'), CONSUMER);
  writeFileSync(join(app, 'tsconfig.node16.json'), JSON.stringify(tsconfig('node16')));
  writeFileSync(join(app, 'tsconfig.bundler.json'), JSON.stringify(tsconfig('bundler')));
}, 600_000);

describe('installed from the packed tarballs with npm', () => {
  it('runs the README example as plain ESM', () => {
    const r = spawnSync(process.execPath, ['readme.mjs'], { cwd: app, encoding: 'utf8', timeout: 30_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('["a done in Task-2","b done in Task-3"]');
  });

  it('installs the loopkit command, whose info finds the addon built at install', () => {
    const r = spawnSync(join(app, 'node_modules/.bin/loopkit'), ['info'], { cwd: app, encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('native addon    loaded (@loopkit/uv)');
    expect(r.stdout).toMatch(/chosen backend  selector \(SelectorEventLoop\)/);
  });

  it("builds core's continuation-slot addon at install, and core tracks tasks with it (Node 20 to 23)", () => {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', "import { _world } from '@loopkit/core'; console.log(JSON.stringify(_world.taskTracking))"], {
      cwd: app,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.stderr).toBe('');
    const major = Number(process.versions.node.split('.')[0]);
    expect(JSON.parse(r.stdout).mechanism).toBe(major < 24 ? 'continuation-slot' : 'async-local-storage');
  });

  for (const resolution of ['node16', 'bundler'] as const) {
    it(`type-checks a TypeScript consumer with moduleResolution ${resolution}`, () => {
      const r = spawnSync(process.execPath, [TSC, '-p', `tsconfig.${resolution}.json`], { cwd: app, encoding: 'utf8', timeout: 120_000 });
      expect(r.stdout + r.stderr).toBe('');
      expect(r.status).toBe(0);
    }, 150_000); // tsc takes ~10 s alone and 30 s+ on a loaded machine: above vitest's 20 s default
  }
});
