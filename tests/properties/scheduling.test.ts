/**
 * Property: random interleavings of callSoon / callLater / callAt / cancel keep asyncio's
 * ordering rules. A program is a tree: each scheduled callback, when it runs, performs its
 * own list of operations (schedule more, cancel an earlier handle).
 * - On TestLoop (virtual time) a reference model predicts every run exactly: which
 *   callbacks run, in which order, at which loop time, grouped in which iterations.
 * - On real loops (BaseEventLoop and every network loop, delays in milliseconds) the rules
 *   are checked directly: cancelled never runs, the rest run exactly once, callSoon is FIFO,
 *   timers run by (deadline, scheduling order) and never early, a callback scheduled with
 *   callSoon inside a callback runs in the very next iteration (counted through ioPoll,
 *   called once per iteration).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BaseEventLoop, TestLoop, type AbstractEventLoop, type Handle, type TimerHandle } from '@loopkit/core';
import { NET_LOOPS } from '../faults/helpers.js';

type Op =
  | { kind: 'cancel'; target: number }
  | { kind: 'soon'; children: Op[] }
  | { kind: 'later'; delay: number; children: Op[] }
  | { kind: 'at'; when: number; children: Op[] };

const DELAYS = [0, 0, 0.001, 0.25, 0.5, 0.5, 1, 1.5];
const WHENS = [0, 0.5, 1, 1, 2.25];

const { ops: opsArb } = fc.letrec<{ op: Op; ops: Op[] }>((tie) => ({
  op: fc.oneof(
    { maxDepth: 4, depthSize: 'small' },
    fc.record({ kind: fc.constant('cancel' as const), target: fc.nat(40) }),
    fc.record({ kind: fc.constant('soon' as const), children: tie('ops') }),
    fc.record({ kind: fc.constant('later' as const), delay: fc.oneof(fc.constantFrom(...DELAYS), fc.double({ min: 0, max: 2, noNaN: true })), children: tie('ops') }),
    fc.record({ kind: fc.constant('at' as const), when: fc.constantFrom(...WHENS), children: tie('ops') }),
  ),
  ops: fc.array(tie('op'), { maxLength: 5 }),
}));
const programArb = fc.array(opsArb, { minLength: 1, maxLength: 4 }).map((lists) => lists.flat());

interface Entry {
  id: number;
  time: number;
  iteration: number;
}

// ---- the reference model of one loop on virtual time ----
interface MHandle {
  id: number;
  timer: boolean;
  when: number;
  seq: number;
  cancelled: boolean;
  ran: boolean;
  children: Op[];
}

function model(program: Op[]): Entry[] {
  let clock = 0;
  let seq = 0;
  let iteration = 0;
  let ready: MHandle[] = [];
  let timers: MHandle[] = [];
  const handles: MHandle[] = [];
  const log: Entry[] = [];
  const exec = (ops: Op[]): void => {
    for (const op of ops) {
      if (op.kind === 'cancel') {
        if (handles.length > 0) {
          const h = handles[op.target % handles.length]!;
          if (!h.ran) h.cancelled = true;
        }
        continue;
      }
      const h: MHandle = { id: handles.length, timer: op.kind !== 'soon', when: 0, seq: 0, cancelled: false, ran: false, children: op.children };
      handles.push(h);
      if (op.kind === 'soon') ready.push(h);
      else {
        h.when = op.kind === 'later' ? clock + op.delay : op.when;
        h.seq = seq++;
        timers.push(h);
      }
    }
  };
  // Iteration 1 runs the main task's first step, which performs the program's top level.
  iteration = 1;
  exec(program);
  const top = (): MHandle | undefined => timers.reduce<MHandle | undefined>((m, t) => (m === undefined || t.when < m.when || (t.when === m.when && t.seq < m.seq) ? t : m), undefined);
  for (;;) {
    // End of an iteration (step 2): with nothing ready the loop waits for the earliest timer
    // not cancelled (as asyncio, whose step 1 drops the cancelled ones on top before the
    // wait is decided); TestLoop jumps its clock there.
    if (ready.length === 0) {
      const live = timers.filter((t) => !t.cancelled);
      if (live.length === 0) return log;
      const next = Math.min(...live.map((t) => t.when));
      if (next - clock > 0) clock = next;
    }
    iteration += 1;
    // Step 1: drop cancelled timers: all of them when they are most of the heap, else those on top.
    const cancelled = timers.filter((t) => t.cancelled).length;
    if (cancelled * 2 > timers.length) timers = timers.filter((t) => !t.cancelled);
    else while (top()?.cancelled) timers.splice(timers.indexOf(top()!), 1);
    // Step 4: due timers (TestLoop's clock resolution is 1e-9), by deadline then scheduling order.
    const end = clock + 1e-9;
    const due = timers.filter((t) => t.when < end).sort((a, b) => a.when - b.when || a.seq - b.seq);
    timers = timers.filter((t) => t.when >= end);
    // Step 5: what was ready, then the due timers; a handle cancelled meanwhile is skipped.
    const batch = ready.concat(due);
    ready = [];
    for (const h of batch) {
      if (h.cancelled) continue;
      h.ran = true;
      log.push({ id: h.id, time: clock, iteration });
      exec(h.children);
    }
  }
}

// ---- running a program on a real loop class ----
interface Run {
  base: number;
  log: Entry[];
  handles: Array<{ handle: Handle; timer: boolean; parent: number | null; soon: boolean; cancelledBeforeRun: boolean; ran: number; createdIteration: number }>;
}

/** Run `program` on `loop` (its ioPoll counts iterations into `counter.n`); `scale` multiplies delays and deadlines. */
async function runProgram(loop: AbstractEventLoop, counter: { n: number }, program: Op[], scale: number): Promise<Run> {
  const base = loop.time();
  const run: Run = { base, log: [], handles: [] };
  let outstanding = 0;
  const done = loop.createFuture<void>();
  const exec = (ops: Op[], parent: number | null): void => {
    for (const op of ops) {
      if (op.kind === 'cancel') {
        if (run.handles.length > 0) {
          const h = run.handles[op.target % run.handles.length]!;
          if (h.ran === 0 && !h.handle.cancelled()) {
            h.cancelledBeforeRun = true;
            outstanding -= 1;
          }
          h.handle.cancel();
        }
        continue;
      }
      const id = run.handles.length;
      const cb = (): void => {
        run.handles[id]!.ran += 1;
        run.log.push({ id, time: loop.time() - base, iteration: counter.n });
        outstanding -= 1;
        exec(op.children, id);
        if (outstanding === 0 && !done.done()) done.setResult();
      };
      outstanding += 1;
      let handle: Handle;
      if (op.kind === 'soon') handle = loop.callSoon(cb);
      else if (op.kind === 'later') handle = loop.callLater(op.delay * scale, cb);
      else handle = loop.callAt(base + op.when * scale, cb);
      run.handles.push({ handle, timer: op.kind !== 'soon', parent, soon: op.kind === 'soon', cancelledBeforeRun: false, ran: 0, createdIteration: counter.n });
    }
  };
  await loop.runUntilComplete(async () => {
    exec(program, null);
    if (outstanding === 0) return;
    await done;
  });
  return run;
}

/** Iteration numbers renumbered 1, 2, ... over the iterations that ran a callback. */
function groups(log: Entry[]): number[] {
  const ranks = new Map<number, number>();
  for (const e of log) if (!ranks.has(e.iteration)) ranks.set(e.iteration, ranks.size + 1);
  return log.map((e) => ranks.get(e.iteration)!);
}

function counting<L extends new () => AbstractEventLoop>(Base: L): { make: () => AbstractEventLoop; counter: { n: number } } {
  const counter = { n: 0 };
  const Counting = class extends (Base as unknown as new () => AbstractEventLoop & { ioPoll(): void }) {
    override ioPoll(): void {
      counter.n += 1;
      super.ioPoll();
    }
  };
  return { make: () => new Counting(), counter };
}

describe('property: scheduling order under random callSoon/callLater/callAt/cancel', () => {
  it('TestLoop runs exactly what the reference model predicts (order, times, iterations)', async () => {
    await fc.assert(
      fc.asyncProperty(programArb, async (program) => {
        const { make, counter } = counting(TestLoop);
        const loop = make();
        try {
          const run = await runProgram(loop, counter, program, 1);
          const expected = model(program);
          expect(run.log.map((e) => [e.id, e.time])).toEqual(expected.map((e) => [e.id, e.time]));
          expect(groups(run.log)).toEqual(groups(expected));
        } finally {
          loop.close();
        }
      }),
      {
        numRuns: 200,
        examples: [
          // The first timer cancelled at once (it leaves the heap then): the wait is for the second.
          [[{ kind: 'at', when: 0, children: [] }, { kind: 'cancel', target: 0 }, { kind: 'later', delay: 5e-324, children: [] }]],
          // The top timer cancelled by a callback: no iteration at its deadline, as asyncio.
          [[{ kind: 'at', when: 1, children: [] }, { kind: 'at', when: 2, children: [] }, { kind: 'soon', children: [{ kind: 'cancel', target: 0 }] }]],
        ],
      },
    );
  });

  const realLoops: Array<{ name: string; make: (() => AbstractEventLoop) | null; cls: (new () => AbstractEventLoop) | null }> = [
    { name: 'BaseEventLoop', make: () => new BaseEventLoop(), cls: BaseEventLoop },
    ...NET_LOOPS.map((l) => ({ name: l.name, make: l.make, cls: l.make === null ? null : (l.make().constructor as new () => AbstractEventLoop) })),
  ];
  for (const subject of realLoops) {
    it.skipIf(subject.cls === null)(`${subject.name}: the ordering rules hold in real time`, async () => {
      await fc.assert(
        fc.asyncProperty(programArb, async (program) => {
          const { make, counter } = counting(subject.cls!);
          const loop = make();
          try {
            const scale = 0.004; // virtual seconds to real: at most a few tens of ms per program
            const run = await runProgram(loop, counter, program, scale);
            const at = new Map(run.log.map((e, i) => [e.id, { ...e, index: i }]));
            run.handles.forEach((h, id) => {
              // Cancelled before running: never runs; the others run exactly once.
              expect(h.ran).toBe(h.cancelledBeforeRun ? 0 : 1);
              const e = at.get(id);
              if (e === undefined) return;
              // A callSoon made inside a callback runs in the very next iteration; a timer made there, later.
              if (h.parent !== null) {
                const parent = at.get(h.parent)!;
                if (h.soon) expect(e.iteration).toBe(parent.iteration + 1);
                else expect(e.iteration).toBeGreaterThan(parent.iteration);
              }
              // Never early.
              if (h.timer) expect(run.base + e.time).toBeGreaterThanOrEqual((h.handle as TimerHandle).when() - 1e-6);
            });
            // callSoon callbacks run in scheduling order.
            const soonOrder = run.log.filter((e) => run.handles[e.id]!.soon).map((e) => e.id);
            expect(soonOrder).toEqual([...soonOrder].sort((a, b) => a - b));
            // Timers run by deadline, then scheduling order: of two timers, one already
            // scheduled when the iteration that ran the other began runs after it only if it
            // is later by (deadline, scheduling order).
            const timerIds = run.log.map((e) => e.id).filter((id) => run.handles[id]!.timer);
            for (let i = 0; i < timerIds.length; i++) {
              for (let j = i + 1; j < timerIds.length; j++) {
                const a = run.handles[timerIds[i]!]!;
                const b = run.handles[timerIds[j]!]!;
                if (b.createdIteration >= at.get(timerIds[i]!)!.iteration) continue;
                const [wa, wb] = [(a.handle as TimerHandle).when(), (b.handle as TimerHandle).when()];
                expect(wa < wb || (wa === wb && timerIds[i]! < timerIds[j]!), `timer ${timerIds[i]} (${wa}) ran before ${timerIds[j]} (${wb})`).toBe(true);
              }
            }
          } finally {
            loop.close();
          }
        }),
        { numRuns: 12 },
      );
    }, 60_000);
  }
});
