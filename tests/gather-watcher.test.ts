/**
 * gather() registers one DoneWatcher on all its children (futures.ts): each child, once done,
 * hands itself to the watcher, which queues itself and runs the gather's callback for the
 * oldest done child at each run. These pin that it runs exactly where a done callback per
 * child ran: in the order the children were done, between the children's other callbacks,
 * in debug mode too (one Handle per child there), and that its failures are reported as
 * a callback's.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CancelledError, gather, sleep, type Future } from '@loopkit/core';
import { DoneWatcher, Future as CoreFuture } from '../packages/core/dist/futures.js';
import { withLoop } from './support/base-loop.js';

describe("gather's one watcher for all its children", () => {
  it('is the one done callback every pending child holds, not an entry per child', () =>
    withLoop(async (loop) => {
      const children = [loop.createFuture(), loop.createFuture(), loop.createFuture()];
      const all = gather(...children);
      const held = children.map((child) => child._callbacks);
      expect(held[0]).toBeInstanceOf(DoneWatcher);
      expect(new Set(held).size).toBe(1);
      children.forEach((child, i) => child.setResult(i));
      expect(await all).toEqual([0, 1, 2]);
    }));

  it('fails with the error of the child done first, whatever its place among the arguments', () =>
    withLoop(async (loop) => {
      const children = [loop.createFuture(), loop.createFuture(), loop.createFuture(), loop.createFuture()];
      const all = gather(...children);
      children[3]!.setException(new RangeError('done first'));
      children[0]!.setException(new RangeError('done second'));
      children[2]!.setResult('ok');
      await expect(all).rejects.toThrow('done first');
    }));

  it("runs in each child's turn, between the child's own callbacks and other children's", () =>
    withLoop(async (loop) => {
      const order: string[] = [];
      const a = loop.createFuture<string>();
      const b = loop.createFuture<string>();
      a.addDoneCallback(() => order.push('a: before gather'));
      b.addDoneCallback(() => order.push('b: before gather'));
      const all = gather(a, b, { returnExceptions: true });
      all.addDoneCallback(() => order.push('gather done'));
      a.addDoneCallback(() => order.push('a: after gather'));
      b.addDoneCallback(() => order.push('b: after gather'));
      b.setResult('B');
      loop.callSoon(() => order.push('callSoon between'));
      a.setResult('A');
      // Where the watcher ran for each child shows in when the gather itself was done: at the
      // last child's turn, before that child's later callback.
      expect(await all).toEqual(['A', 'B']);
      expect(order).toEqual([
        'b: before gather',
        'b: after gather',
        'callSoon between',
        'a: before gather',
        'a: after gather',
        'gather done',
      ]);
    }));

  it('counts a child done while another of its entries waits: the gather ends once all are done', () =>
    withLoop(async (loop) => {
      const children = Array.from({ length: 5 }, () => loop.createFuture<number>());
      const all = gather(...children);
      children[1]!.setResult(1);
      children[4]!.setResult(4);
      await sleep(0);
      expect(all.done()).toBe(false);
      children[0]!.setResult(0);
      children[2]!.setResult(2);
      children[3]!.setResult(3);
      expect(await all).toEqual([0, 1, 2, 3, 4]);
    }));

  it('gives tasks the same outcome in debug mode, and with debug mode turned on between children', () =>
    withLoop(async (loop) => {
      const a = loop.createFuture<string>();
      const b = loop.createFuture<string>();
      const c = loop.createFuture<string>();
      const all = gather(a, b, c);
      a.setResult('a'); // queued through the watcher
      loop.setDebug(true);
      c.setResult('c'); // a Handle of its own
      await sleep(0);
      b.setResult('b');
      loop.setDebug(false);
      expect(await all).toEqual(['a', 'b', 'c']);
    }));

  it('cancelling the gather ends it with CancelledError once every child is cancelled', () =>
    withLoop(async (loop) => {
      const children = [loop.createFuture(), loop.createFuture()];
      const all = gather(...children);
      expect(all.cancel()).toBe(true);
      await expect(all).rejects.toBeInstanceOf(CancelledError);
      expect(children.every((child) => child.cancelled())).toBe(true);
    }));

  it("reports a callback's failure as a done callback's, and runs the next one after it", () =>
    withLoop(async (loop, reports) => {
      const seen: Future<unknown>[] = [];
      const failing = function watched(future: Future<unknown>): void {
        seen.push(future);
        if (seen.length === 1) throw new RangeError('first one fails');
      };
      const watcher = new DoneWatcher(failing, loop);
      const first = loop.createFuture();
      const second = loop.createFuture();
      first._addCallback(watcher);
      second._addCallback(watcher);
      second.setResult(2);
      first.setResult(1);
      await sleep(0);
      expect(seen).toEqual([second, first]);
      expect(reports).toHaveLength(1);
      expect(reports[0]!.message).toMatch(/^Exception in callback watched\(/);
      expect((reports[0]!.exception as Error).message).toBe('first one fails');
    }));

  it("reports an async callback's rejection as its exception", () =>
    withLoop(async (loop, reports) => {
      const watcher = new DoneWatcher(async function rejecting(): Promise<void> {
        throw new RangeError('async one fails');
      }, loop);
      const future = loop.createFuture();
      future._addCallback(watcher);
      future.setResult(1);
      await sleep(0);
      await sleep(0);
      expect(reports.map((r) => r.message)).toEqual([expect.stringMatching(/^Exception in callback rejecting\(/)]);
      expect((reports[0]!.exception as Error).message).toBe('async one fails');
    }));
});

/**
 * What gather does per argument, counted: its argument loop runs once per gather, so V8 runs
 * it in baseline code for most of a 100k gather (Node 24), where each `instanceof` and each
 * push is a generic builtin call (bench/README.md, session 22). Counted through a
 * Symbol.hasInstance on Future and a wrapped Array.prototype.push, around the gather() call.
 */
describe("gather's work per child", () => {
  it('checks a task it is given once against Future, and lists the children where the arguments were', () =>
    withLoop(async (loop) => {
      const tasks = Array.from({ length: 100 }, (_, i) =>
        loop.createTask(async () => {
          await sleep(0);
          return i;
        }),
      );
      let futureChecks = 0;
      let pushes = 0;
      const plainHasInstance = Function.prototype[Symbol.hasInstance];
      const push = Array.prototype.push;
      Object.defineProperty(CoreFuture, Symbol.hasInstance, {
        configurable: true,
        value(this: unknown, value: unknown): boolean {
          if (this === CoreFuture) futureChecks += 1;
          return plainHasInstance.call(this, value);
        },
      });
      Array.prototype.push = function countedPush(this: unknown[], ...items: unknown[]): number {
        pushes += 1;
        return push.apply(this, items);
      };
      let all: Future<number[]>;
      try {
        all = gather(...tasks);
      } finally {
        Array.prototype.push = push;
        delete (CoreFuture as unknown as Record<symbol, unknown>)[Symbol.hasInstance];
      }
      expect(futureChecks).toBeLessThanOrEqual(tasks.length + 1); // main: two a child
      expect(pushes).toBeLessThan(tasks.length / 2); // main: one a child
      expect(await all).toEqual(tasks.map((_, i) => i));
    }));

  it('gives each result at its argument\'s place: a function given twice is one task, a done future, a thenable, the options popped', () =>
    withLoop(async (loop) => {
      let runs = 0;
      const twice = async (): Promise<string> => {
        runs += 1;
        await sleep(0);
        return 'fn';
      };
      const done = loop.createFuture<string>();
      done.setResult('done');
      const failing = loop.createFuture<string>();
      failing.setException(new RangeError('failed'));
      const results = await gather(twice, done, Promise.resolve('thenable'), twice, failing, { returnExceptions: true });
      expect(results.slice(0, 4)).toEqual(['fn', 'done', 'thenable', 'fn']);
      expect(results[4]).toBeInstanceOf(RangeError);
      expect(results).toHaveLength(5);
      expect(runs).toBe(1);
    }));
});

describe('a gather of more children than TurboFan allocates an array for inline (~16k)', () => {
  it("ends without deoptimizing the watcher's run, and gives every result in order", () => {
    // Its results were `children.map(outcomeOf)`, which TurboFan inlines into the watcher's
    // optimized run (onChildDone inlined there) with a bound on the new array's length: the
    // last child of every gather past it threw that code away ("out of bounds"), to be
    // compiled again in the next large gather.
    const program = `
import { BaseEventLoop, gather, sleep } from '${new URL('../packages/core/dist/index.js', import.meta.url).href}';
const body = async () => {
  await sleep(0);
  return 1;
};
for (let round = 0; round < 3; round++) {
  const loop = new BaseEventLoop();
  const results = await loop.runUntilComplete(async () => {
    const all = [];
    for (let i = 0; i < 30000; i++) all.push(loop.createTask(body));
    return gather(...all);
  });
  loop.close();
  if (results.length !== 30000 || results.some((value) => value !== 1)) throw new Error('wrong results');
}
console.log('GATHERED');
`;
    const dir = mkdtempSync(join(tmpdir(), 'loopkit-large-gather-'));
    const file = join(dir, 'gather.mjs');
    writeFileSync(file, program);
    const run = spawnSync(process.execPath, ['--single-threaded', '--trace-deopt', file], { encoding: 'utf8', timeout: 60_000, maxBuffer: 1 << 28 });
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain('GATHERED');
    expect(run.stdout).toContain('deoptimizing'); // the trace is there (Node's own modules deoptimize some)
    expect(run.stdout.split('\n').filter((line) => line.includes('reason: out of bounds'))).toEqual([]);
  });
});
