/**
 * What `import 'loopkit'` loads: Node built-ins that few programs use (child processes,
 * datagrams, DNS) wait for their first use, node:util is not imported as an ES module (its
 * namespace would evaluate every lazy export: 15 internal modules on Node 24), and no CommonJS
 * package is imported from an ES module (Node 20 and 22 would scan its source with their
 * JavaScript lexer). Each one
 * imported again would cost every program's start RSS and time (bench/README.md).
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const loopkit = fileURLToPath(new URL('../packages/loopkit/dist/index.js', import.meta.url));
const major = Number(process.versions.node.split('.')[0]);

/** Node's own module loads in a fresh process that runs `body` after importing loopkit. */
function modulesLoaded(body: string): string[] {
  const source = `import * as loopkit from ${JSON.stringify(loopkit)};\n${body}\nconsole.log(JSON.stringify(process.moduleLoadList));`;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', source], { encoding: 'utf8', timeout: 20_000 });
  expect(result.stderr).toBe('');
  return JSON.parse(result.stdout.trim().split('\n').pop()!) as string[];
}

describe('import loopkit', () => {
  it("loads no child_process, dgram or dns until a program uses them, nor node:util's lazy exports, nor a CommonJS lexer", () => {
    const loaded = modulesLoaded(`
      const loop = loopkit.newEventLoop();
      await loop.runUntilComplete(async () => { await loopkit.sleep(0); loopkit.getEventLoopPolicy(); });
      loop.close();
    `);
    expect(loaded.filter((m) => /^NativeModule (child_process|dgram|dns)$/.test(m))).toEqual([]);
    // util.parseArgs' module: loaded by nothing but node:util's ES module namespace.
    expect(loaded.filter((m) => m.startsWith('NativeModule internal/util/parse_args'))).toEqual([]);
    if (major < 24) expect(loaded.filter((m) => m.includes('cjs-module-lexer'))).toEqual([]);
  });

  it('loads each when a program first uses it', () => {
    const loaded = modulesLoaded(`
      for (const backend of ['selector', 'proactor']) {
        process.env.LOOPKIT_BACKEND = backend;
        const loop = loopkit.newEventLoop();
        await loop.runUntilComplete(async () => {
          const [transport] = await loop.createDatagramEndpoint(() => new loopkit.DatagramProtocol(), { localAddr: ['127.0.0.1', 0] });
          transport.close();
          await loop.getaddrinfo('localhost', 80);
          const proc = await loopkit.createSubprocessExec(process.execPath, ['-e', ''], { stdout: loopkit.PIPE });
          await proc.communicate();
        });
        loop.close();
      }
    `);
    expect(loaded.filter((m) => /^NativeModule (child_process|dgram|dns)$/.test(m)).sort()).toEqual([
      'NativeModule child_process',
      'NativeModule dgram',
      'NativeModule dns',
    ]);
  });
});
