/**
 * The loop's ready queue holds its entries in chunks of 4096: order and counts must hold
 * across chunk boundaries, after clear(), and through a loop iteration that runs more
 * callbacks than one chunk holds while queueing more for the next.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
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
    // the same list (V8 keeps code relying on the field never being written again), one chunk
    // (the first, kept), holding no entry
    expect(chunkList()).toBe(chunks);
    expect(chunks.length).toBe(1);
    expect(chunks[0]!.filter((slot) => slot !== undefined)).toEqual([]);
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

/** Whether every target of `refs` was collected, after the current job ended and a full collection. */
async function allCollected(refs: WeakRef<object>[]): Promise<boolean> {
  await new Promise((resolve) => setImmediate(resolve)); // a WeakRef keeps its target to the end of the job that made it
  (globalThis as { gc?: () => void }).gc!();
  return refs.every((ref) => ref.deref() === undefined);
}

describe('ReadyQueue keeps its first chunk through clear()', () => {
  it('but no entry it held, past one chunk too', async () => {
    const queue = new ReadyQueue();
    const refs: WeakRef<object>[] = [];
    // In a function of its own: this async test's suspended frame would keep its last entry.
    const fillAndClear = (count: number): void => {
      for (let i = 0; i < count; i++) {
        const queued = entry(i);
        refs.push(new WeakRef(queued));
        queue.push(queued);
      }
      queue.clear();
    };
    fillAndClear(3);
    fillAndClear(4096 + 3);
    expect(await allCollected(refs)).toBe(true);
    queue.push(entry(0)); // the queue itself stayed alive through the collection
    expect(queue.length).toBe(1);
  });

  it("so a running loop keeps no callback it ran, nor what the callback's closure holds", async () => {
    const loop = new BaseEventLoop();
    const refs: WeakRef<object>[] = [];
    const queueOne = (): void => {
      const payload = { big: new Array<number>(1000).fill(1) };
      refs.push(new WeakRef(payload));
      loop.callSoon(() => void payload.big.length);
    };
    for (let i = 0; i < 3; i++) queueOne();
    loop.callSoon(() => loop.stop());
    await loop.runForever();
    expect(await allCollected(refs)).toBe(true);
    loop.close();
  });
});

describe('ReadyQueue chunks', () => {
  it('are all of one V8 map, the first (kept) as the later (made as needed), also after clear()', () => {
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

describe("ReadyQueue's push", () => {
  it('stores into one kind of chunk, never growing one: its store site stays monomorphic', () => {
    // A kept first chunk that grew as an ordinary array gave the site an in-bounds store, then a
    // growing one on the same map (a new loop's queue): V8 made it megamorphic ("same map added
    // twice"), 122 instructions more per entry of a burst (bench/README.md, session 23).
    const distFile = new URL('../dist/ready-queue.js', import.meta.url);
    const storeLine = readFileSync(distFile, 'utf8').split('\n').findIndex((line) => line.includes('this.tail[slot] = entry')) + 1;
    expect(storeLine).toBeGreaterThan(0);
    const program = `
import { ReadyQueue } from '${distFile.href}';
const entry = { _run() {} };
// Queues made one after another (a program's loops), their iterations a few entries, one a batch past a chunk.
for (let q = 0; q < 20; q++) {
  const queue = new ReadyQueue();
  for (let round = 0; round < 20; round++) {
    const count = round === 10 ? 4096 + 5 : 1 + (round % 3);
    for (let i = 0; i < count; i++) queue.push(entry);
    queue.clear();
  }
}
`;
    const dir = mkdtempSync(join(tmpdir(), 'loopkit-ready-ic-'));
    const file = join(dir, 'push.mjs');
    const log = join(dir, 'ic.log');
    writeFileSync(file, program);
    const flags = ['--log-ic', `--logfile=${log}`, '--no-logfile-per-isolate'];
    const run = spawnSync(process.execPath, [...flags, file], { encoding: 'utf8', timeout: 60_000 });
    expect(run.stderr).toBe('');
    // KeyedStoreIC,pc,time,line,column,old state,new state,map,key,modifier,slow reason
    const states = readFileSync(log, 'utf8')
      .split('\n')
      .map((line) => line.split(','))
      .filter((fields) => fields[0] === 'KeyedStoreIC' && fields[3] === String(storeLine))
      .map((fields) => `${fields[6]}${fields[10] ? ` (${fields[10]})` : ''}`);
    expect(states.length).toBeGreaterThan(0);
    expect(states).toEqual(states.map(() => '1'));
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
