/**
 * The loop's ready queue holds its entries in chunks of 4096: order and counts must hold
 * across chunk boundaries, after clear(), and through a loop iteration that runs more
 * callbacks than one chunk holds while queueing more for the next.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BaseEventLoop } from '../src/base-events.js';
import type { ReadyEntry } from '../src/handles.js';
import { ReadyQueue } from '../src/ready-queue.js';

const entry = (id: number): ReadyEntry & { id: number } => ({ id, _run() {} });

describe('ReadyQueue', () => {
  it('gives back what was pushed, in order, across chunk boundaries and after clear()', () => {
    const queue = new ReadyQueue();
    for (const count of [0, 1, 4095, 4096, 4097, 3 * 4096 + 5, 7]) {
      for (let i = 0; i < count; i++) queue.push(entry(i));
      expect(queue.length).toBe(count);
      const ids = Array.from({ length: count }, (_, i) => (queue.at(i) as ReturnType<typeof entry>).id);
      expect(ids).toEqual(Array.from({ length: count }, (_, i) => i));
      queue.clear();
      expect(queue.length).toBe(0);
    }
  });

  it('trims its chunk list in place after a batch of several chunks', () => {
    const queue = new ReadyQueue();
    const chunkList = (): ReadyEntry[][] => (queue as unknown as { chunks: ReadyEntry[][] }).chunks;
    const chunks = chunkList();
    for (let i = 0; i < 2 * 4096 + 1; i++) queue.push(entry(i));
    expect(chunks.length).toBe(3);
    queue.clear();
    // the same list (V8 keeps code relying on the field never being written again), one chunk, empty
    expect(chunkList()).toBe(chunks);
    expect(chunks).toEqual([[]]);
    queue.push(entry(1));
    expect((queue.at(0) as ReturnType<typeof entry>).id).toBe(1);
  });

  it("putAhead puts another queue's rest ahead of its own entries and empties that queue", () => {
    const rest = new ReadyQueue();
    const own = new ReadyQueue();
    for (let i = 0; i < 4100; i++) rest.push(entry(i));
    for (let i = 0; i < 3; i++) own.push(entry(10_000 + i));
    own.putAhead(rest, 4098);
    expect(rest.length).toBe(0);
    expect(Array.from({ length: own.length }, (_, i) => (own.at(i) as ReturnType<typeof entry>).id)).toEqual([4098, 4099, 10_000, 10_001, 10_002]);
  });
});

describe('ReadyQueue chunks', () => {
  it('are all of one V8 map, the first (grown) as the later (made whole), also after clear()', () => {
    // A store or read that saw only the first chunk's map was thrown away at the 4,097th entry.
    const program = `
import { ReadyQueue } from '${new URL('../dist/ready-queue.js', import.meta.url).href}';
const queue = new ReadyQueue();
const chunks = queue.chunks;
for (let i = 0; i < 4096 + 1; i++) queue.push({ _run() {} });
const grown = chunks[0], made = chunks[1];
queue.clear();
queue.push({ _run() {} });
console.log(JSON.stringify([%HaveSameMap(grown, made), %HaveSameMap(chunks[0], made)]));
`;
    const dir = mkdtempSync(join(tmpdir(), 'loopkit-ready-chunks-'));
    const file = join(dir, 'chunks.mjs');
    writeFileSync(file, program);
    const run = spawnSync(process.execPath, ['--allow-natives-syntax', file], { encoding: 'utf8', timeout: 60_000 });
    expect(run.stderr).toBe('');
    expect(run.stdout.trim()).toBe('[true,true]');
  });
});

describe('BaseEventLoop with more ready callbacks than a chunk holds', () => {
  it('runs them in callSoon order, and what they queue in the next iteration', async () => {
    const loop = new BaseEventLoop();
    const count = 3 * 4096 + 17;
    const ran: number[] = [];
    let iteration = 0;
    let ranInFirstIteration = 0;
    for (let i = 0; i < count; i++) {
      loop.callSoon(() => {
        ran.push(i);
        // each queues a follow-up: none of them may run in this iteration
        loop.callSoon(() => ran.push(count + i));
      });
    }
    loop.callSoon(() => {
      iteration += 1;
      ranInFirstIteration = ran.length;
      // Stopped from the second iteration, not by a timer: a stall longer than a timer's delay
      // (a loaded machine) would make it due in the first and stop the loop before the follow-ups.
      loop.callSoon(() => loop.stop());
    });
    await loop.runForever();
    loop.close();
    expect(iteration).toBe(1);
    expect(ranInFirstIteration).toBe(count);
    expect(ran).toEqual(Array.from({ length: 2 * count }, (_, i) => i));
  });
});
