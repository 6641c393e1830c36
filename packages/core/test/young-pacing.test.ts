/**
 * paceReceived makes one short-lived 64 KiB object for every 256 KiB of fresh receive memory
 * reported, also when one report holds several 256 KiB (core's 512 KiB slab): the objects are
 * what makes V8 scavenge spent buffers before it turns to full GCs. A child process with a new
 * space large enough that no scavenge runs in between reports how many bytes of young
 * generation the calls allocated.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const pacing = new URL('../dist/young-pacing.js', import.meta.url).href;
const CHILD = `
import { getHeapSpaceStatistics } from 'node:v8';
const { paceReceived } = await import(${JSON.stringify(pacing)});
const [reports, bytesEach, optimized] = process.argv.slice(1).map(Number);
const youngUsed = () => getHeapSpaceStatistics().find((space) => space.space_name === 'new_space').space_used_size;
paceReceived(0);
if (optimized) {
  // As on a busy read path: paceReceived compiled by the optimizing compiler first.
  eval('%PrepareFunctionForOptimization(paceReceived)');
  paceReceived(256 * 1024);
  paceReceived(256 * 1024);
  eval('%OptimizeFunctionOnNextCall(paceReceived)');
  paceReceived(256 * 1024);
  if ((eval('%GetOptimizationStatus(paceReceived)') & 16) === 0) throw new Error('paceReceived was not optimized');
}
const before = youngUsed();
for (let i = 0; i < reports; i++) paceReceived(bytesEach);
console.log(youngUsed() - before);
`;

/** Young-generation bytes allocated by `reports` calls of paceReceived(bytesEach) (and by the child's own few objects). */
function youngBytes(reports: number, bytesEach: number, optimized = false): number {
  const flags = ['--min-semi-space-size=16', ...(optimized ? ['--allow-natives-syntax'] : [])];
  const out = execFileSync(process.execPath, [...flags, '--input-type=module', '-e', CHILD, String(reports), String(bytesEach), optimized ? '1' : '0'], { encoding: 'utf8' });
  return Number(out.trim());
}

/** One pacing object: a quarter of the 256 KiB it paces. */
const PACE_OBJECT_BYTES = 64 * 1024;

describe('young-generation pacing', () => {
  it('paces every 256 KiB of a report of 512 KiB (two objects, not one)', () => {
    // The same 2 MiB of fresh memory reported in 512 KiB and in 64 KiB steps: eight objects each.
    const inSlabs = youngBytes(4, 512 * 1024);
    const inReads = youngBytes(32, 64 * 1024);
    expect(inReads).toBeGreaterThanOrEqual(8 * PACE_OBJECT_BYTES);
    // One object per report (the old rule) allocated half: 4 objects against 8.
    expect(inSlabs).toBeGreaterThan(inReads * 0.85);
    expect(inSlabs).toBeLessThan(inReads * 1.15);
  });

  it('makes a fresh pacing object at every 256 KiB once the compiler has optimized it', () => {
    // The object is an immutable BigInt: one made once (a module constant, or folded at compile
    // time) and handed out again would allocate nothing, and the buffers would wait for full GCs.
    expect(youngBytes(32, 256 * 1024, true)).toBeGreaterThanOrEqual(32 * PACE_OBJECT_BYTES);
  });
});
