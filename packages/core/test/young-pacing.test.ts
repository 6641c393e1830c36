/**
 * paceReceived makes one short-lived 64 KiB array for every 256 KiB of fresh receive memory
 * reported, also when one report holds several 256 KiB (core's 512 KiB slab): the arrays are
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
const [reports, bytesEach] = process.argv.slice(1).map(Number);
const youngUsed = () => getHeapSpaceStatistics().find((space) => space.space_name === 'new_space').space_used_size;
paceReceived(0);
const before = youngUsed();
for (let i = 0; i < reports; i++) paceReceived(bytesEach);
console.log(youngUsed() - before);
`;

/** Young-generation bytes allocated by `reports` calls of paceReceived(bytesEach) (and by the child's own few objects). */
function youngBytes(reports: number, bytesEach: number): number {
  const out = execFileSync(process.execPath, ['--min-semi-space-size=16', '--input-type=module', '-e', CHILD, String(reports), String(bytesEach)], { encoding: 'utf8' });
  return Number(out.trim());
}

/** One pacing array: 8,192 slots of 8 bytes (4 with pointer compression). */
const ARRAY_BYTES = 8192 * ((process.config.variables as Record<string, unknown>).v8_enable_pointer_compression ? 4 : 8);

describe('young-generation pacing', () => {
  it('paces every 256 KiB of a report of 512 KiB (two arrays, not one)', () => {
    // The same 2 MiB of fresh memory reported in 512 KiB and in 64 KiB steps: eight arrays each.
    const inSlabs = youngBytes(4, 512 * 1024);
    const inReads = youngBytes(32, 64 * 1024);
    expect(inReads).toBeGreaterThanOrEqual(8 * ARRAY_BYTES);
    // One array per report (the old rule) allocated half: 4 arrays against 8.
    expect(inSlabs).toBeGreaterThan(inReads * 0.85);
    expect(inSlabs).toBeLessThan(inReads * 1.15);
  });
});
