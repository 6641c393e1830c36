import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { isAvailable, keepFreedMemory } from '@loopkit/uv';

const distIndex = fileURLToPath(new URL('../dist/index.js', import.meta.url));
const glibc = process.platform === 'linux' && Boolean((process.report?.getReport() as { header?: { glibcVersionRuntime?: string } })?.header?.glibcVersionRuntime);

/**
 * Child-script lines setting `heapRoomMiB`: the MiB the brk heap can grow by before the next
 * mapping. V8 maps its pages at random addresses, now and then right above the heap (4 processes
 * of 350 at load 7 here); glibc then takes big blocks from scattered mmaps instead of the heap.
 */
const HEAP_ROOM = `
    const maps = readFileSync('/proc/self/maps', 'utf8').split('\\n');
    const heapAt = maps.findIndex((line) => line.endsWith('[heap]'));
    const heapEnd = heapAt < 0 ? 0 : parseInt(maps[heapAt].split(/[- ]/)[1], 16);
    const next = heapAt < 0 || maps[heapAt + 1] === '' ? Infinity : parseInt(maps[heapAt + 1].split('-')[0], 16);
    const heapRoomMiB = heapAt < 0 ? 0 : Math.min(next - heapEnd, 2 ** 40) / 2 ** 20;`;

/**
 * In a fresh process: call keepFreedMemory() (or not), then hold 40 blocks of 1 MiB and
 * report the call's result, the size of the brk heap in KiB while they are held, and the
 * heap's room before (HEAP_ROOM).
 */
function heapWithBlocks(call: boolean, env: NodeJS.ProcessEnv = {}): { kept: boolean | null; heapKiB: number; heapRoomMiB: number } {
  const script = `
    import { readFileSync } from 'node:fs';
    const uv = await import(${JSON.stringify(distIndex)});
    ${HEAP_ROOM}
    const kept = ${call} ? uv.keepFreedMemory() : null;
    const blocks = Array.from({ length: 40 }, () => Buffer.allocUnsafeSlow(1 << 20).fill(1));
    const heap = /\\[heap\\]\\n(?:.*\\n)*?Size:\\s+(\\d+) kB/.exec(readFileSync('/proc/self/smaps', 'utf8'));
    console.log(JSON.stringify({ kept, heapKiB: heap === null ? 0 : Number(heap[1]), held: blocks.length, heapRoomMiB }));
  `;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, ...env } });
  if (result.status !== 0) throw new Error(`child failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as { kept: boolean | null; heapKiB: number; heapRoomMiB: number };
}

/** heapWithBlocks(true) in a process whose heap has room for the 40 MiB (at most six tries). */
function heapWithBlocksKept(): { kept: boolean | null; heapKiB: number; heapRoomMiB: number } {
  let kept = heapWithBlocks(true);
  for (let tries = 0; kept.heapRoomMiB < 41 && tries < 5; tries++) kept = heapWithBlocks(true);
  expect(kept.heapRoomMiB).toBeGreaterThanOrEqual(41);
  return kept;
}

describe.runIf(isAvailable() && glibc)('keepFreedMemory (glibc)', () => {
  it('is set once per process and says so on every call', () => {
    expect(keepFreedMemory()).toBe(true);
    expect(keepFreedMemory()).toBe(true);
  });

  it('makes 1 MiB blocks come from the heap (so freeing them keeps the memory), where glibc maps each one', () => {
    const plain = heapWithBlocks(false);
    const kept = heapWithBlocksKept();
    expect(kept.kept).toBe(true);
    // 40 MiB held: all of it in the heap with the setting, next to nothing without.
    expect(kept.heapKiB).toBeGreaterThanOrEqual(40 * 1024);
    expect(plain.heapKiB).toBeLessThan(20 * 1024);
  });

  it('leaves a process that set either threshold in GLIBC_TUNABLES with its own settings', () => {
    const tuned = heapWithBlocks(true, { GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=131072' });
    expect(tuned.kept).toBe(false);
    expect(tuned.heapKiB).toBeLessThan(20 * 1024);
  });
});

/** The kernel's transparent-huge-page mode ("always", "madvise" or "never"), or null where it has none. */
function thpMode(): string | null {
  try {
    return /\[(\w+)\]/.exec(readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8'))?.[1] ?? null;
  } catch {
    return null;
  }
}

/**
 * In a fresh process (env added): call adviseHugePagesAhead() twice, then report both results,
 * the MiB of heap mappings advised for huge pages (VmFlags "hg" in /proc/self/smaps), and the
 * heap's room before the call (HEAP_ROOM).
 */
function adviseInChild(env: NodeJS.ProcessEnv = {}): { first: boolean; second: boolean; advisedMiB: number; heapRoomMiB: number } {
  const script = `
    import { readFileSync } from 'node:fs';
    const uv = await import(${JSON.stringify(distIndex)});
    ${HEAP_ROOM}
    const first = uv.adviseHugePagesAhead();
    const second = uv.adviseHugePagesAhead();
    let advisedKiB = 0;
    for (const mapping of readFileSync('/proc/self/smaps', 'utf8').split(/\\n(?=[0-9a-f]+-[0-9a-f]+ )/)) {
      if (/^VmFlags:.* hg/m.test(mapping)) advisedKiB += Number(/^Size:\\s+(\\d+) kB/m.exec(mapping)[1]);
    }
    console.log(JSON.stringify({ first, second, advisedMiB: advisedKiB / 1024, heapRoomMiB }));
  `;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, ...env } });
  if (result.status !== 0) throw new Error(`child failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as { first: boolean; second: boolean; advisedMiB: number; heapRoomMiB: number };
}

describe.runIf(isAvailable() && glibc && (thpMode() === 'madvise' || thpMode() === 'always'))('adviseHugePagesAhead (glibc, Linux THP)', () => {
  it('advises the 30-32 MiB the heap grows into next for huge pages, once per process', () => {
    let advised = adviseInChild();
    // A process whose heap has no room to grow by the 32 MiB (HEAP_ROOM) advises
    // nothing, as it must: that case is checked, then the call is checked in another process.
    for (let tries = 0; advised.heapRoomMiB < 33 && tries < 5; tries++) {
      expect(advised).toMatchObject({ first: false, second: false, advisedMiB: 0 });
      advised = adviseInChild();
    }
    expect(advised.heapRoomMiB).toBeGreaterThanOrEqual(33);
    expect(advised.first).toBe(true);
    expect(advised.second).toBe(true);
    expect(advised.advisedMiB).toBeGreaterThanOrEqual(28);
    expect(advised.advisedMiB).toBeLessThanOrEqual(34);
  });

  it("advises nothing where keepFreedMemory's thresholds cannot be set (the heap top would go back to the kernel)", () => {
    const advised = adviseInChild({ GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=131072' });
    expect(advised.first).toBe(false);
    expect(advised.advisedMiB).toBe(0);
  });
});
