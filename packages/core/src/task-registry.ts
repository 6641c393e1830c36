/**
 * Every live task, held weakly (asyncio's WeakSet of tasks), so allTasks() can list them
 * and a pending task that is garbage-collected is reported.
 *
 * A WeakRef costs about a microsecond in V8, more than the rest of a short task's life.
 * So a new task is held strongly in `young` until the loop next goes idle (or `young`
 * grows large); only tasks still pending then get a record, which is their WeakRef. Holding
 * a task for part of one busy stretch changes nothing a program can see.
 *
 * Lost tasks are found by a sweep of the records after each full collection (V8 clears weak
 * targets only in those), not by a FinalizationRegistry entry per task: that entry (a
 * WeakCell, 72 bytes) was a sixth of what an idle task held. One canary object registered
 * in a FinalizationRegistry tells of the next full collection; the sweep then reads the
 * records 1024 per host task, since each `deref()` of a live target keeps it in a set V8
 * empties only at the end of the job (in one job, 100k records cost 40 ms in that set).
 */
import { REMOVED } from './aged-set.js';
import type { AbstractEventLoop } from './events.js';
import { world } from './world.js';

/** What the registry needs of a task. */
export interface TrackedTask {
  done(): boolean;
  getLoop(): AbstractEventLoop;
  /** the registry's record once the task has aged; null while young */
  _aged: AgedRecord | null;
  /** its name if set, else null: the record keeps it to describe a lost task */
  _name: string | null;
  /** the N of its default name "Task-N" */
  readonly _number: number;
  readonly _coro: { readonly name: string };
  _sourceTraceback: string | null;
  /** false for tasks whose loss is reported otherwise (runUntilComplete raises) */
  _reportIfPending: boolean;
}

/** What a record keeps beside the coroutine's name once debug mode, a rename, the task's completion or its leaving the world's set adds to it. */
interface AgedNotes {
  readonly coroName: string;
  readonly sourceTraceback: string | null;
  written: string | null;
  completed: boolean;
  /** removed from the world's set of records (aged-set.ts) */
  removed: boolean;
}

/**
 * The record of an aged task, in layout v1 of the loop world (world.ts): `ref`, `loop`,
 * `description`, `sourceTraceback`, `completed`, read by every copy of core in the thread.
 * It is its own WeakRef, and its description is written only if the task is lost: tasks that
 * sit idle by the hundred thousand then cost one small object each, not three and a string.
 * What debug mode, a rename and the task's completion add is kept aside, in the field that
 * otherwise holds the coroutine's name; and its loop is its class's (recordClassOf), so a
 * record is 48 bytes. (A completed record keeps what describes it: a copy of core may mark it
 * completed before reading its description.)
 */
export abstract class AgedRecord extends WeakRef<TrackedTask> {
  /** the task's loop: what a lost task is reported to */
  abstract get loop(): AbstractEventLoop;
  /** the task's name when it aged, or the N of "Task-N" */
  private readonly label: string | number;
  /** the coroutine function's name, or notes once a creation stack (debug mode), a rename or the completion adds to it */
  private about: string | AgedNotes;

  constructor(task: TrackedTask) {
    super(task);
    this.label = task._name ?? task._number;
    const coroName = task._coro.name;
    const sourceTraceback = task._sourceTraceback;
    const completed = !task._reportIfPending;
    this.about = sourceTraceback === null && !completed ? coroName : { coroName, sourceTraceback, written: null, completed, removed: false };
  }

  get ref(): WeakRef<TrackedTask> {
    return this;
  }

  /** The task is done, or its loss is not to be reported. */
  get completed(): boolean {
    return typeof this.about !== 'string' && this.about.completed;
  }

  set completed(completed: boolean) {
    this.notes().completed = completed;
  }

  get sourceTraceback(): string | null {
    return typeof this.about === 'string' ? null : this.about.sourceTraceback;
  }

  /** The task as asyncio's repr shows it; it was pending, or it would not be reported. */
  get description(): string {
    const about = this.about;
    if (typeof about !== 'string' && about.written !== null) return about.written;
    const label = typeof this.label === 'number' ? `Task-${this.label}` : this.label;
    const coroName = typeof about === 'string' ? about : about.coroName;
    return `<Task pending name='${label}' coro=${coroName || '<anonymous>'}()>`;
  }

  set description(text: string) {
    this.notes().written = text;
  }

  /** Whether the world's set of records (aged-set.ts) removed it: false until then, without notes. */
  get [REMOVED](): boolean {
    const about = this.about;
    return typeof about !== 'string' && about.removed;
  }

  set [REMOVED](removed: boolean) {
    if (removed || typeof this.about !== 'string') this.notes().removed = removed;
  }

  private notes(): AgedNotes {
    const about = this.about;
    if (typeof about !== 'string') return about;
    const notes = { coroName: about, sourceTraceback: null, written: null, completed: false, removed: false };
    this.about = notes;
    return notes;
  }
}

/**
 * The record class of `loop`'s tasks: its prototype answers `loop`, where a field cost each
 * record 8 bytes (0.8 MB for 100k idle tasks). One class per loop that aged tasks, kept as
 * long as the loop lives.
 */
function recordClassOf(loop: AbstractEventLoop): new (task: TrackedTask) => AgedRecord {
  let recordClass = recordClasses.get(loop);
  if (recordClass === undefined) {
    recordClass = class LoopAgedRecord extends AgedRecord {
      get loop(): AbstractEventLoop {
        return loop;
      }
    };
    recordClasses.set(loop, recordClass);
  }
  return recordClass;
}

const recordClasses = new WeakMap<AbstractEventLoop, new (task: TrackedTask) => AgedRecord>();

const YOUNG_LIMIT = 1 << 17;
// Shared by every copy of core in the thread (world.ts), so allTasks() sees every task.
const young: TrackedTask[] = world.youngTasks;
const aged: Set<AgedRecord> = world.agedTasks;

/** How many records one host task of the sweep reads. */
const SWEEP_CHUNK = 1024;

/** Sweeps the aged records after full collections; one per thread (the world's), whichever copy made it. */
export class LostTaskWatch {
  private watching = false;
  private readonly collections = new FinalizationRegistry<null>(() => this.sweep(aged.values()));

  /** Look for lost tasks after the next full collection (a no-op while already watching). */
  watch(): void {
    if (this.watching) return;
    this.watching = true;
    // Held by nobody: the next full collection takes it, and its callback starts the sweep.
    this.collections.register({}, null);
  }

  private sweep(records: IterableIterator<AgedRecord>): void {
    try {
      for (let i = 0; i < SWEEP_CHUNK; i++) {
        const next = records.next();
        if (next.done === true) {
          this.watching = false;
          if (aged.size > 0) this.watch();
          return;
        }
        if (next.value.deref() === undefined) reportLost(next.value);
      }
    } catch (error) {
      // A loop whose exception handler throws (a user's loop class): the rest is still swept.
      this.sweepLater(records);
      throw error;
    }
    this.sweepLater(records);
  }

  private sweepLater(records: IterableIterator<AgedRecord>): void {
    // unref: a sweep does not keep the process alive, as finalizers do not.
    setImmediate(() => this.sweep(records)).unref();
  }
}

const watch: LostTaskWatch = (world.lostTaskWatch ??= new LostTaskWatch());

/** An aged task was collected: forget it, and report it if it was pending. */
function reportLost(record: AgedRecord): void {
  aged.delete(record);
  if (record.completed) return;
  record.completed = true; // a copy of core older than the sweep may have its finalizer on this record too
  const context: Parameters<AbstractEventLoop['callExceptionHandler']>[0] = {
    message: 'Task was destroyed but it is pending!',
    taskDescription: record.description,
  };
  if (record.sourceTraceback) context.sourceTraceback = record.sourceTraceback;
  record.loop.callExceptionHandler(context);
}

export function trackTask(task: TrackedTask): void {
  young.push(task);
  if (young.length >= YOUNG_LIMIT) ageTasks();
}

/** The task is done: it needs no weak tracking any more. */
export function untrackTask(task: TrackedTask): void {
  const record = task._aged;
  if (record === null) return; // still young: dropped at the next ageTasks()
  record.completed = true;
  aged.delete(record);
}

/** Give the still-pending young tasks a record (their WeakRef); forget the done ones. */
export function ageTasks(): void {
  ageLatest(young.length);
}

/**
 * How many young tasks a loop going idle ages per host task: each new WeakRef keeps its
 * target in a set V8 empties only at the end of the job, so aging 100k tasks at once grew a
 * 100k-entry set (and V8's young generation with it).
 */
const IDLE_AGE_CHUNK = 1024;
/** young.length when the last chunk was aged, while more are left to age from setImmediate; -1: none left */
let agingFrom = -1;

/**
 * Records made since the last idle aging that left no young task: when one such aging ends
 * with at least BURST_AGED of them, a burst of long-lived tasks is over and the loop is
 * idle, and V8 is told so (moderate memory pressure: one incremental full collection that
 * reduces memory). A burst whose objects survive grows V8's young generation to its
 * maximum (32 MB semi-spaces on Node 24), and a collection that does not reduce memory
 * empties it without giving its pages back; V8's own memory reducer would, once it judged
 * the program idle, but in an idle Node process it keeps finding the burst's allocation
 * rate high (bench/README.md, "Session 16 (s16-idle24)"). 100k idle tasks kept ~20 MB
 * (Node 24) to ~30 (Node 20) of young generation resident; after the hint, ~3.
 */
let agedSinceIdle = 0;
/** About 5 MB of tasks that live on: fewer rarely grow the young generation, and a steady trickle never reaches it in one aging. */
const BURST_AGED = 16384;

/** The burst of aged tasks is over (see agedSinceIdle): ask V8 for memory back, through the addon when it has the call. */
function burstAged(): void {
  world.taskTracking?.slot?.moderateMemoryPressure?.();
}

/**
 * A loop is idle: age the latest 1024 young tasks now and the rest 1024 per host task after,
 * for as long as no task is made meanwhile (a busy loop's new tasks wait for its next idle
 * time, as all young tasks did).
 */
export function ageIdleTasks(): void {
  const left = ageLatest(IDLE_AGE_CHUNK);
  if (left === 0) {
    agingFrom = -1;
    if (agedSinceIdle >= BURST_AGED) burstAged();
    agedSinceIdle = 0;
  } else if (agingFrom === -1) {
    agingFrom = left;
    // unref: aging does not keep the process alive (a task still young is simply held strongly).
    setImmediate(ageIdleTasksLater).unref();
  } else agingFrom = left;
}

function ageIdleTasksLater(): void {
  const from = agingFrom;
  agingFrom = -1;
  if (from === young.length) ageIdleTasks();
}

/** Age the latest `count` young tasks; returns how many young tasks are left. */
function ageLatest(count: number): number {
  const end = young.length;
  const start = end > count ? end - count : 0;
  // The young tasks are mostly one loop's: its record class is looked up once per run of them.
  let loop: AbstractEventLoop | null = null;
  let recordClass: (new (task: TrackedTask) => AgedRecord) | null = null;
  for (let i = start; i < end; i++) {
    const task = young[i]!;
    if (task.done() || task._aged !== null) continue;
    const taskLoop = task.getLoop();
    if (taskLoop !== loop) {
      loop = taskLoop;
      recordClass = recordClassOf(taskLoop);
    }
    const record = new recordClass!(task);
    task._aged = record;
    aged.add(record);
    agedSinceIdle++;
  }
  // Setting an array's length is a runtime call even when it does not change (an idle loop with no young task).
  if (end !== start) young.length = start;
  if (aged.size > 0) watch.watch();
  return start;
}

/** Pending tasks of `loop` (all loops when null). */
export function pendingTasks(loop: AbstractEventLoop | null): Set<TrackedTask> {
  const result = new Set<TrackedTask>();
  for (const task of young) {
    if (!task.done() && (loop === null || task.getLoop() === loop)) result.add(task);
  }
  for (const record of aged) {
    const task = record.ref.deref();
    if (task !== undefined && !task.done() && (loop === null || record.loop === loop)) result.add(task);
  }
  return result;
}
