/**
 * Two copies of @loopkit/core in one process (npm nests a second version when two dependents
 * pin different ones) share one loop world: a Future of copy A inside a loop of copy B binds
 * to that loop, currentTask/getRunningLoop agree, cancellation crosses. And a copy whose loop
 * world has another layout refuses to load, naming both copies.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CORE = fileURLToPath(new URL('../../packages/core/', import.meta.url));
const CHILD = fileURLToPath(new URL('./two-copies.mjs', import.meta.url));
let copyA = '';
let copyB = '';

/** Packs core (npm pack: what a registry would serve) and unpacks it at `dir`, as `version`. */
function unpack(tarball: string, dir: string, version: string): string {
  mkdirSync(dir, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', dir, '--strip-components=1']);
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ ...manifest, version }));
  return dir;
}

const tmp = mkdtempSync(join(tmpdir(), 'loopkit-two-copies-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

beforeAll(() => {
  const name = execFileSync('npm', ['pack', '--silent', '--pack-destination', tmp, CORE], { encoding: 'utf8' }).trim().split('\n').pop()!;
  const tarball = join(tmp, name);
  // Two paths as npm lays out a nested second version.
  copyA = unpack(tarball, join(tmp, 'app/node_modules/@loopkit/core'), '0.1.0');
  copyB = unpack(tarball, join(tmp, 'app/node_modules/some-lib/node_modules/@loopkit/core'), '0.2.0');
}, 60_000);

describe('one loop world per thread', () => {
  it('two packed copies at different paths share the running loop, the current task and cancellation', () => {
    const run = spawnSync(process.execPath, [CHILD, copyA, copyB], { encoding: 'utf8', timeout: 30_000 });
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual({
      distinctCopies: true,
      runningLoopSeenByA: true,
      futureBoundToRunningLoop: true,
      currentTaskSeenByA: true,
      allTasksSeenByA: true,
      cancelSeenByB: true,
      sleeperCancelled: true,
      gatherAcrossCopies: 3,
      isFutureAcrossCopies: true,
      result: 'set through copy A',
      runningLoopAfter: null,
    });
  });

  it('a copy with another world layout fails to load with an error naming both copies', () => {
    const source = `
      globalThis[Symbol.for('loopkit.world.v2')] = { createdBy: 'file:///elsewhere/@loopkit/core/dist/world.js' };
      await import(${JSON.stringify(new URL('dist/index.js', `file://${copyA}/`).href)});`;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', source], { encoding: 'utf8', timeout: 30_000 });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('two incompatible copies of @loopkit/core are loaded in one thread');
    expect(run.stderr).toContain(`${copyA}/dist/world.js (loop world v1)`);
    expect(run.stderr).toContain('file:///elsewhere/@loopkit/core/dist/world.js (loop world v2)');
  });

  it('a worker thread has a world of its own', async () => {
    const { Worker } = await import('node:worker_threads');
    const url = new URL('dist/index.js', `file://${copyA}/`).href;
    const A = await import(url);
    A._world.policy = 'the main thread policy';
    const worker = new Worker(
      `import(${JSON.stringify(url)}).then(async (A) => {
         const { parentPort } = await import('node:worker_threads');
         parentPort.postMessage(A._world.policy === null && A._world.copies.length === 1);
       });`,
      { eval: true },
    );
    const own = await new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject));
    await worker.terminate();
    A._world.policy = null;
    expect(own).toBe(true);
  });
});
