/**
 * Property: the loop's TimerHeap against a plain model, through random interleavings of
 * push, cancel, dropCancelled and takeDue. Deadlines come from a small set (ties are
 * common, so the scheduling order must break them) or anywhere; sizes go past a few levels
 * of the 4-ary heap and renumber the slots (handed out in scheduling order, they are the
 * tie-break) once most of those handed out have left. A cancelled timer at the heap's end
 * leaves at once, so the model's cancelled timers are those the heap may still hold.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TimerHandle, type HandleOwner, type ReadyEntry } from '../src/handles.js';
import { TimerHeap } from '../src/timer-heap.js';

type Op = { kind: 'push'; when: number; count: number } | { kind: 'cancel'; pick: number } | { kind: 'drop' } | { kind: 'take'; end: number };

const whenArb = fc.oneof(fc.constantFrom(1, 2, 2, 3, 5), fc.double({ min: 0, max: 10, noNaN: true }));
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('push' as const), when: whenArb, count: fc.integer({ min: 1, max: 40 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('drop' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('take' as const), end: fc.double({ min: 0, max: 11, noNaN: true }) }) },
);

interface Model {
  timer: TimerHandle;
  when: number;
  seq: number;
  cancelled: boolean;
}

const byWhenThenSeq = (a: Model, b: Model): number => a.when - b.when || a.seq - b.seq;

const liveOf = (inHeap: Model[]): Model[] => inHeap.filter((e) => !e.cancelled);
const earliest = (entries: Model[]): number => Math.min(Infinity, ...entries.map((e) => e.when));

/** The heap holds every live timer of the model and at most its cancelled ones. */
function expectHolds(heap: TimerHeap, inHeap: Model[]): void {
  const live = liveOf(inHeap);
  expect(heap.size - heap.cancelledCount).toBe(live.length);
  expect(heap.cancelledCount).toBeLessThanOrEqual(inHeap.length - live.length);
}

/**
 * dropCancelled, then what the model keeps: the top is a live timer (or the heap is empty);
 * once the heap holds no cancelled timer, neither does the model.
 */
function dropCancelled(heap: TimerHeap, inHeap: Model[]): Model[] {
  heap.dropCancelled();
  expect(heap.peekWhen()).toBe(earliest(liveOf(inHeap)));
  return heap.cancelledCount === 0 ? liveOf(inHeap) : inHeap;
}

/** The model of takeDue: due timers leave in (when, seq) order, the live ones to `ready`. */
function modelTake(inHeap: Model[], end: number): { ready: TimerHandle[]; left: Model[] } {
  const due = inHeap.filter((e) => e.when < end).sort(byWhenThenSeq);
  return { ready: due.filter((e) => !e.cancelled).map((e) => e.timer), left: inHeap.filter((e) => e.when >= end) };
}

describe('TimerHeap', () => {
  it('keeps asyncio order (when, then scheduling order), counts cancelled entries, drops them lazily', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 80 }), (ops) => {
        const heap = new TimerHeap();
        const owner: HandleOwner = { callExceptionHandler: () => {}, _timerHandleCancelled: (timer) => heap.cancel(timer) };
        let inHeap: Model[] = [];
        const all: Model[] = [];
        let seq = 0;
        for (const op of ops) {
          if (op.kind === 'push') {
            // `count` timers at once, the same deadline or spread from it
            for (let i = 0; i < op.count; i++) {
              const when = op.count % 2 === 0 ? op.when : op.when + i / 7;
              const timer = new TimerHandle(when, () => {}, [], owner);
              heap.push(timer, when);
              const entry = { timer, when, seq: seq++, cancelled: false };
              inHeap.push(entry);
              all.push(entry);
            }
          } else if (op.kind === 'cancel') {
            if (all.length === 0) continue;
            const entry = all[op.pick % all.length]!;
            entry.timer.cancel();
            entry.cancelled = true;
          } else if (op.kind === 'drop') {
            inHeap = dropCancelled(heap, inHeap);
          } else {
            const expected = modelTake(inHeap, op.end);
            inHeap = expected.left;
            const ready: ReadyEntry[] = [];
            heap.takeDue(op.end, ready);
            expect(ready).toEqual(expected.ready);
          }
          expectHolds(heap, inHeap);
          // the top is the earliest timer held: live, or cancelled since it was pushed
          const top = heap.peekWhen();
          if (heap.size === 0) expect(top).toBe(Infinity);
          else {
            expect(top).toBeGreaterThanOrEqual(earliest(inHeap));
            expect(top).toBeLessThanOrEqual(earliest(liveOf(inHeap)));
          }
        }
        // Whatever is left comes out in order.
        const ready: ReadyEntry[] = [];
        heap.takeDue(Infinity, ready);
        expect(ready).toEqual(inHeap.filter((e) => !e.cancelled).sort(byWhenThenSeq).map((e) => e.timer));
        expect(heap.size).toBe(0);
        expect(heap.cancelledCount).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('a timer cancelled after it left the heap is not counted', () => {
    const heap = new TimerHeap();
    const owner: HandleOwner = { callExceptionHandler: () => {}, _timerHandleCancelled: (timer) => heap.cancel(timer) };
    const first = new TimerHandle(1, () => {}, [], owner);
    const second = new TimerHandle(2, () => {}, [], owner);
    heap.push(first, 1);
    heap.push(second, 2);
    const ready: ReadyEntry[] = [];
    heap.takeDue(1.5, ready);
    expect(ready).toEqual([first]);
    const third = new TimerHandle(3, () => {}, [], owner);
    heap.push(third, 3); // takes the slot first left
    first.cancel();
    expect(heap.cancelledCount).toBe(0);
    heap.takeDue(Infinity, ready);
    expect(ready).toEqual([first, second, third]);
  });

  it('keeps scheduling order among equal deadlines across slot renumbering and rebuilds', () => {
    const heap = new TimerHeap();
    const owner: HandleOwner = { callExceptionHandler: () => {}, _timerHandleCancelled: (timer) => heap.cancel(timer) };
    const timer = (when: number): TimerHandle => {
      const t = new TimerHandle(when, () => {}, [], owner);
      heap.push(t, when);
      return t;
    };
    // Short timers first, gone before the rest: the slots of those left move at each renumbering.
    for (let i = 0; i < 3; i++) timer(1);
    const first = timer(5);
    const cancelledEarly = timer(5);
    cancelledEarly.cancel(); // at the heap's end: leaves at once, its slot handed out again
    const second = timer(5);
    const cancelledAfter = timer(5);
    // Hundreds of short timers come and go while three stay: their slots are renumbered
    // several times, and each renumbering must keep the three in their scheduling order.
    heap.takeDue(2, []);
    const gone: TimerHandle[] = [];
    for (let i = 0; i < 500; i++) {
      gone.push(timer(1));
      const ready: ReadyEntry[] = [];
      heap.takeDue(2, ready);
      expect(ready).toEqual([gone[i]]);
      // The slot table stays bounded by the heap's size, however many timers came and went.
      expect((heap as unknown as { nextSlot: number }).nextSlot).toBeLessThanOrEqual(2 * heap.size + 65);
    }
    const third = timer(5);
    // A timer renumbered while in the heap is still found by cancel(); timers that left
    // before a renumbering, cancelled now, empty no other timer's slot.
    cancelledAfter.cancel();
    for (const t of gone) t.cancel();
    expect(heap.cancelledCount).toBe(1);
    expect(heap.size).toBe(4);
    // More than half cancelled (made before the last timer, so none is at the heap's end):
    // the next drop rebuilds, and the order still holds.
    const cancelledLate = [timer(5), timer(5), timer(5), timer(5), timer(5)];
    const fourth = timer(5);
    for (const t of cancelledLate) t.cancel();
    expect(heap.cancelledCount).toBe(6);
    heap.dropCancelled();
    expect(heap.cancelledCount).toBe(0);
    expect(heap.size).toBe(4);
    const ready: ReadyEntry[] = [];
    heap.takeDue(Infinity, ready);
    expect(ready).toEqual([first, second, third, fourth]);
  });

  it('keeps the order over several chunks of its slot table, through renumbering and rebuilds', () => {
    const heap = new TimerHeap();
    const owner: HandleOwner = { callExceptionHandler: () => {}, _timerHandleCancelled: (timer) => heap.cancel(timer) };
    let seed = 7;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    let inHeap: Model[] = [];
    let seq = 0;
    let now = 0;
    // Rounds of thousands of timers (a slot table chunk holds 4096), a third cancelled, ties
    // common; each round takes what is due, so slots restart, get renumbered, and spill over.
    for (let round = 0; round < 12; round++) {
      const adds = 3000 + Math.floor(random() * 6000);
      for (let i = 0; i < adds; i++) {
        const when = now + Math.floor(random() * 40) / 4;
        const timer = new TimerHandle(when, () => {}, [], owner);
        heap.push(timer, when);
        inHeap.push({ timer, when, seq: seq++, cancelled: false });
      }
      for (const entry of inHeap) {
        if (random() < 0.33) {
          entry.timer.cancel();
          entry.cancelled = true;
        }
      }
      inHeap = dropCancelled(heap, inHeap);
      now += round % 4 === 3 ? 100 : 4;
      const expected = modelTake(inHeap, now);
      inHeap = expected.left;
      const ready: ReadyEntry[] = [];
      heap.takeDue(now, ready);
      expect(ready).toEqual(expected.ready);
      expectHolds(heap, inHeap);
    }
  });

  it('changes its slot table in place: an emptied heap refills its first chunk, a renumbering gives back the chunks past its entries', () => {
    const heap = new TimerHeap();
    const owner: HandleOwner = { callExceptionHandler: () => {}, _timerHandleCancelled: (timer) => heap.cancel(timer) };
    const table = (): unknown[][] => (heap as unknown as { chunks: unknown[][] }).chunks;
    const timer = (when: number): TimerHandle => {
      const t = new TimerHandle(when, () => {}, [], owner);
      heap.push(t, when);
      return t;
    };
    const chunks = table();
    // One timer at a time, as a periodic timer goes: the first push makes the first chunk,
    // and no later one makes another.
    let firstChunk: unknown[] | undefined;
    for (let i = 0; i < 3; i++) {
      const t = timer(i);
      firstChunk ??= chunks[0];
      const ready: ReadyEntry[] = [];
      heap.takeDue(Infinity, ready);
      expect(ready).toEqual([t]);
      expect(table()).toBe(chunks);
      expect(chunks).toEqual([firstChunk]);
    }
    // Three chunks' worth of short timers with two long ones near the end; once the short
    // ones left, the next push renumbers: the long ones move to slots 0 and 1, keep their
    // order and stay cancellable, and the table keeps one chunk, its other slots empty.
    for (let i = 0; i < 10_000; i++) timer(1);
    const late = timer(5);
    const later = timer(5);
    heap.takeDue(2, []);
    expect(table().length).toBe(3);
    const next = timer(5);
    expect(table()).toBe(chunks);
    expect(table().length).toBe(1);
    expect(chunks[0]!.slice(0, 4)).toEqual([late, later, next, undefined]);
    expect(chunks[0]!.slice(3).every((entry) => entry === undefined)).toBe(true);
    later.cancel();
    expect(heap.cancelledCount).toBe(1);
    const ready: ReadyEntry[] = [];
    heap.takeDue(Infinity, ready);
    expect(ready).toEqual([late, next]);
  });

  it('lets a cancelled timer at its end leave at once, handing its slot out again when it was the newest', () => {
    const heap = new TimerHeap();
    const owner: HandleOwner = { callExceptionHandler: () => {}, _timerHandleCancelled: (timer) => heap.cancel(timer) };
    const held = (): { nextSlot: number; chunks: unknown[][] } => heap as unknown as { nextSlot: number; chunks: unknown[][] };
    const timer = (when: number): TimerHandle => {
      const t = new TimerHandle(when, () => {}, [], owner);
      heap.push(t, when);
      return t;
    };
    // A timeout made and cancelled before the next timer: due after the others, it is the
    // heap's last entry, so it leaves, and the table no longer holds it.
    const first = timer(1);
    const timeout = timer(3);
    timeout.cancel();
    expect(heap.size).toBe(1);
    expect(heap.cancelledCount).toBe(0);
    expect(held().nextSlot).toBe(1);
    const second = timer(3); // takes the slot handed back, still after every slot held
    expect(held().chunks[0]![1]).toBe(second);
    // A timer before the end stays until it is due (lazy, as asyncio).
    first.cancel();
    expect(heap.size).toBe(2);
    expect(heap.cancelledCount).toBe(1);
    let ready: ReadyEntry[] = [];
    heap.takeDue(Infinity, ready);
    expect(ready).toEqual([second]);
    // An older timer that a sift-up moved to the end leaves too; the newest slot stays handed out.
    const later = timer(2);
    const sooner = timer(1); // rises to the top: `later` moves down to the end
    later.cancel();
    expect(heap.size).toBe(1);
    expect(heap.cancelledCount).toBe(0);
    expect(held().nextSlot).toBe(2);
    const last = timer(2);
    ready = [];
    heap.takeDue(Infinity, ready);
    expect(ready).toEqual([sooner, last]);
    // The last timer cancelled empties the heap: its slots start again from 0.
    const only = timer(7);
    expect(held().nextSlot).toBe(1);
    only.cancel();
    expect(heap.size).toBe(0);
    expect(held().nextSlot).toBe(0);
    expect(heap.peekWhen()).toBe(Infinity);
  });
});
