/**
 * Property: random cancel points in programs of Tasks, a TaskGroup, a Queue and a Lock
 * never lose a queue item, never leave the lock held, and always end every task.
 *
 * A program: producers put numbered items into a bounded Queue (some under
 * timeout(t, () => q.put(x)), an expiry being one more cancel point); consumers get items
 * (some under timeout(t, () => q.get())) and process each under the Lock (some acquire it
 * under a timeout too); part of the consumers run in a TaskGroup inside a supervisor task.
 * The timeouts are the scope form (asyncio's `async with timeout()`), which awaits in the
 * task itself. waitFor(() => q.get(), t) is not used: it runs get() in an inner task whose
 * result is dropped when the outer task is cancelled in the iteration where the inner one
 * finished, exactly as asyncio.wait_for does (a documented asyncio race, not a loopkit rule).
 * A controller cancels random tasks (producers, consumers, group children, the supervisor)
 * at random times, then shuts the queue down. Checked at the end:
 * - every item whose put() returned was got by exactly one consumer or is still queued,
 *   and no other item was (a put that failed did not enqueue);
 * - mutual exclusion held throughout, the lock is free and a new acquire gets it at once;
 * - every task is done, and q.join() returns once the consumers' taskDone calls are in.
 * Run on TestLoop (virtual time, exact and instant) and on a real loop with times in ms.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BaseEventLoop,
  CancelledError,
  Lock,
  Queue,
  QueueShutDown,
  TestLoop,
  TimeoutError,
  sleep,
  taskGroup,
  timeout,
  type AbstractEventLoop,
  type Task,
} from '@loopkit/core';
import { NET_LOOPS } from '../faults/helpers.js';

interface Program {
  maxsize: number;
  producers: Array<{ items: number; pause: number; putTimeout: number | null }>;
  consumers: Array<{ inGroup: boolean; hold: number; getTimeout: number | null; lockTimeout: number | null }>;
  cancels: Array<{ at: number; target: number }>;
  shutdownAt: number;
}

const T = [0, 0.1, 0.25, 0.5, 1];
const programArb: fc.Arbitrary<Program> = fc.record({
  maxsize: fc.integer({ min: 0, max: 3 }),
  producers: fc.array(
    fc.record({
      items: fc.integer({ min: 1, max: 6 }),
      pause: fc.constantFrom(...T),
      putTimeout: fc.option(fc.constantFrom(0, 0.1, 0.3), { nil: null }),
    }),
    { minLength: 1, maxLength: 3 },
  ),
  consumers: fc.array(
    fc.record({
      inGroup: fc.boolean(),
      hold: fc.constantFrom(...T),
      // Not 0: a consumer retrying get() with a zero timeout busy-waits, and a virtual clock never advances while the loop is busy.
      getTimeout: fc.option(fc.constantFrom(0.1, 0.3), { nil: null }),
      lockTimeout: fc.option(fc.constantFrom(0, 0.1, 0.3), { nil: null }),
    }),
    { minLength: 1, maxLength: 4 },
  ),
  cancels: fc.array(fc.record({ at: fc.constantFrom(0, 0, 0.1, 0.25, 0.3, 0.5, 1, 2, 3), target: fc.nat(20) }), { maxLength: 5 }),
  shutdownAt: fc.constantFrom(2, 4, 8),
});

interface Outcome {
  putDone: number[];
  putFailed: number[];
  got: number[];
  leftover: number[];
  maxInside: number;
  lockedAtEnd: boolean;
  freshAcquire: boolean;
  undone: string[];
  joined: boolean;
}

/** Run `p` on `loop`; `s` converts program seconds to loop seconds. */
async function runProgram(loop: AbstractEventLoop, p: Program, s: number): Promise<Outcome> {
  return await loop.runUntilComplete(async () => {
    const q = new Queue<number>(p.maxsize);
    const lock = new Lock();
    const out: Outcome = { putDone: [], putFailed: [], got: [], leftover: [], maxInside: 0, lockedAtEnd: false, freshAcquire: false, undone: [], joined: false };
    let inside = 0;
    const tasks: Array<{ name: string; task: Task<unknown> }> = [];

    const producer = (idx: number, spec: Program['producers'][number]) => async () => {
      for (let k = 0; k < spec.items; k++) {
        const item = idx * 100 + k;
        try {
          if (spec.putTimeout === null) await q.put(item);
          else await timeout(spec.putTimeout * s, () => q.put(item));
          out.putDone.push(item);
        } catch (error) {
          out.putFailed.push(item);
          if (error instanceof TimeoutError) continue;
          if (error instanceof QueueShutDown) return;
          throw error;
        }
        if (spec.pause > 0) await sleep(spec.pause * s);
      }
    };

    const consumer = (spec: Program['consumers'][number]) => async () => {
      for (;;) {
        let item: number;
        try {
          item = spec.getTimeout === null ? await q.get() : await timeout(spec.getTimeout * s, () => q.get());
        } catch (error) {
          if (error instanceof TimeoutError) continue;
          if (error instanceof QueueShutDown) return;
          throw error;
        }
        out.got.push(item); // synchronously after get() returned it
        try {
          if (spec.lockTimeout === null) await lock.acquire();
          else {
            try {
              await timeout(spec.lockTimeout * s, () => lock.acquire());
            } catch (error) {
              if (error instanceof TimeoutError) continue; // processed without the lock: skip it
              throw error;
            }
          }
          try {
            inside += 1;
            out.maxInside = Math.max(out.maxInside, inside);
            if (spec.hold > 0) await sleep(spec.hold * s);
            else await sleep(0);
          } finally {
            inside -= 1;
            lock.release();
          }
        } finally {
          q.taskDone();
        }
      }
    };

    p.producers.forEach((spec, i) => tasks.push({ name: `producer-${i}`, task: loop.createTask(producer(i, spec)) as Task<unknown> }));
    const grouped = p.consumers.filter((c) => c.inGroup);
    p.consumers.forEach((spec, i) => {
      if (!spec.inGroup) tasks.push({ name: `consumer-${i}`, task: loop.createTask(consumer(spec)) as Task<unknown> });
    });
    const groupChildren: Array<{ name: string; task: Task<unknown> }> = [];
    const supervisor = loop.createTask(async () => {
      await taskGroup(async (tg) => {
        grouped.forEach((spec, i) => groupChildren.push({ name: `group-consumer-${i}`, task: tg.createTask(consumer(spec)) as Task<unknown> }));
      });
    }) as Task<unknown>;
    tasks.push({ name: 'supervisor', task: supervisor });
    await sleep(0); // the group's children exist now
    tasks.push(...groupChildren);

    const controller = loop.createTask(async () => {
      const cancels = [...p.cancels].sort((a, b) => a.at - b.at);
      let now = 0;
      for (const c of cancels) {
        if (c.at > now) await sleep((c.at - now) * s);
        now = Math.max(now, c.at);
        tasks[c.target % tasks.length]!.task.cancel();
      }
      if (p.shutdownAt > now) await sleep((p.shutdownAt - now) * s);
      q.shutdown(); // blocked putters fail, getters drain what is left then stop
    });

    await controller;
    // Every task ends by itself now (bounded: 100 program seconds).
    const all = tasks.map((t) => t.task);
    const deadline = loop.time() + 100 * s;
    while (all.some((t) => !t.done()) && loop.time() < deadline) await sleep(0.05 * s);
    out.undone = tasks.filter((t) => !t.task.done()).map((t) => t.name);
    for (const t of all) {
      if (t.done() && !t.cancelled()) t.exception(); // retrieved: a failure shows in `undone`-like checks below
    }
    // What the consumers did not take is still queued.
    for (;;) {
      try {
        out.leftover.push(q.getNowait());
        q.taskDone();
      } catch (error) {
        if (error instanceof QueueShutDown) break;
        throw error;
      }
    }
    const joining = loop.createTask(() => q.join());
    await sleep(0);
    out.joined = joining.done();
    if (!out.joined) joining.cancel();
    out.lockedAtEnd = lock.locked();
    const acquiring = loop.createTask(() => lock.acquire());
    await sleep(0);
    out.freshAcquire = acquiring.done() && lock.locked();
    if (out.freshAcquire) lock.release();
    else acquiring.cancel();
    // A task that failed with anything but a cancellation is a bug in the primitives.
    for (const { name, task } of tasks) {
      if (task.done() && !task.cancelled()) {
        const exc = task.exception();
        if (exc !== null && !(exc instanceof CancelledError)) out.undone.push(`${name} failed: ${String(exc)}`);
      }
    }
    return out;
  });
}

function check(p: Program, o: Outcome): void {
  const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
  expect(o.undone).toEqual([]);
  expect(new Set(o.got).size).toBe(o.got.length); // no item got twice
  expect(sorted([...o.got, ...o.leftover])).toEqual(sorted(o.putDone)); // none lost, none invented
  expect(o.putDone.length + o.putFailed.length).toBeLessThanOrEqual(p.producers.reduce((n, x) => n + x.items, 0));
  expect(o.maxInside).toBeLessThanOrEqual(1);
  expect(o.lockedAtEnd).toBe(false);
  expect(o.freshAcquire).toBe(true);
  expect(o.joined).toBe(true);
}

describe('property: random cancel points in Task/TaskGroup/Queue/Lock programs', () => {
  it('TestLoop (virtual time): no item lost, no lock left held, every task ends', async () => {
    await fc.assert(
      fc.asyncProperty(programArb, async (p) => {
        const loop = new TestLoop();
        loop.setExceptionHandler(() => {});
        try {
          check(p, await runProgram(loop, p, 1));
        } finally {
          loop.close();
        }
      }),
      { numRuns: 150 },
    );
  }, 60_000);

  const realLoops = [{ name: 'BaseEventLoop', make: (): AbstractEventLoop => new BaseEventLoop() }, ...NET_LOOPS.filter((l) => l.make !== null).slice(0, 1)];
  for (const subject of realLoops) {
    it(`${subject.name} (real time, program seconds as 10 ms): the same`, async () => {
      await fc.assert(
        fc.asyncProperty(programArb, async (p) => {
          const loop = subject.make!();
          loop.setExceptionHandler(() => {});
          try {
            check(p, await runProgram(loop, p, 0.01));
          } finally {
            loop.close();
          }
        }),
        { numRuns: 8 },
      );
    }, 60_000);
  }
});
