/**
 * `loopkit ps` and `loopkit pstree` output, from the snapshots of a target's threads
 * (pure functions, so tests can feed them snapshots). The shapes follow
 * `python -m asyncio ps/pstree`; where asyncio shows coroutine frames between tasks (which
 * JavaScript cannot see in a suspended function), these show the futures that link them
 * (a gather's, say).
 */
import type { FutureRecord, ThreadSnapshot } from '@loopkit/core';

const hex = (id: number): string => `0x${id.toString(16)}`;

function label(fut: FutureRecord): string {
  return fut.kind === 'Task' ? `${fut.name} (${hex(fut.id)})` : `${fut.kind} ${hex(fut.id)}`;
}

function indexById(thread: ThreadSnapshot): Map<number, FutureRecord> {
  return new Map(thread.futures.map((f) => [f.id, f]));
}

/** The tasks waiting on `fut`, through the futures between (one awaiting another): 'g1 (0x3) via Future 0x2'. */
function awaitingTasks(fut: FutureRecord, byId: Map<number, FutureRecord>): string[] {
  const out: string[] = [];
  for (const waiterId of fut.awaitedBy) {
    const waiter = byId.get(waiterId);
    if (waiter === undefined) out.push(hex(waiterId));
    else if (waiter.kind === 'Task') out.push(label(waiter));
    else {
      const above = awaitingTasks(waiter, byId);
      if (above.length === 0) out.push(label(waiter));
      for (const task of above) out.push(`${task} via ${label(waiter)}`);
    }
  }
  return out;
}

const HEADERS = ['thread', 'loop', 'task id', 'task name', 'state', 'awaiting', 'awaited by'];

/** The rows of `loopkit ps`: one per pending task, every thread. */
function taskTable(threads: ThreadSnapshot[]): string[][] {
  const rows: string[][] = [];
  for (const thread of threads) {
    const byId = indexById(thread);
    for (const fut of thread.futures) {
      if (fut.kind !== 'Task') continue;
      const awaited = fut.awaiting === null ? undefined : byId.get(fut.awaiting);
      const awaiting = fut.awaiting === null ? '' : awaited === undefined ? hex(fut.awaiting) : label(awaited);
      rows.push([String(thread.threadId), fut.loop, hex(fut.id), fut.name, fut.state, awaiting, awaitingTasks(fut, byId).join(', ')]);
    }
  }
  return rows;
}

/** `loopkit ps`: the table, columns as wide as their widest cell. */
export function formatTable(threads: ThreadSnapshot[]): string {
  const rows = [HEADERS, ...taskTable(threads)];
  const widths = HEADERS.map((_, col) => Math.max(...rows.map((row) => row[col]!.length)));
  const line = (row: string[]): string => row.map((cell, col) => cell.padEnd(widths[col]!)).join('  ').trimEnd();
  return [line(HEADERS), '-'.repeat(widths.reduce((a, b) => a + b + 2, -2)), ...rows.slice(1).map(line)].join('\n');
}

/** An await cycle: the futures around it, the first repeated at the end. */
export type Cycle = FutureRecord[];

/** Thrown by formatTree when a thread's await graph has a cycle (asyncio's CycleFoundException). */
export class CycleFoundError extends Error {
  override name = 'CycleFoundError';
  constructor(readonly cycles: Cycle[]) {
    super('await-graph contains cycles');
  }
}

/** children: for each future, the futures it waits on (the reverse of awaitedBy). */
function childrenOf(thread: ThreadSnapshot, byId: Map<number, FutureRecord>): Map<number, FutureRecord[]> {
  const children = new Map<number, FutureRecord[]>();
  for (const fut of thread.futures) {
    for (const waiterId of fut.awaitedBy) {
      if (!byId.has(waiterId)) continue;
      let list = children.get(waiterId);
      if (list === undefined) children.set(waiterId, (list = []));
      list.push(fut);
    }
  }
  return children;
}

/** Depth-first search for back edges; each cycle found once. */
export function findCycles(thread: ThreadSnapshot): Cycle[] {
  const byId = indexById(thread);
  const children = childrenOf(thread, byId);
  const color = new Map<number, 'grey' | 'black'>();
  const path: FutureRecord[] = [];
  const cycles: Cycle[] = [];
  const visit = (fut: FutureRecord): void => {
    color.set(fut.id, 'grey');
    path.push(fut);
    for (const child of children.get(fut.id) ?? []) {
      const c = color.get(child.id);
      if (c === undefined) visit(child);
      else if (c === 'grey') cycles.push([...path.slice(path.indexOf(child)), child]);
    }
    color.set(fut.id, 'black');
    path.pop();
  };
  for (const fut of thread.futures) if (!color.has(fut.id)) visit(fut);
  return cycles;
}

/** `loopkit pstree`: one tree per thread and loop; CycleFoundError when the graph has a cycle. */
export function formatTree(threads: ThreadSnapshot[]): string {
  const cycles = threads.flatMap(findCycles);
  if (cycles.length > 0) throw new CycleFoundError(cycles);
  const out: string[] = [];
  for (const thread of threads) {
    const byId = indexById(thread);
    const children = childrenOf(thread, byId);
    // Roots: tasks nobody waits on, and futures nobody waits on that link tasks.
    const roots = thread.futures.filter(
      (f) => f.awaitedBy.every((id) => !byId.has(id)) && (f.kind === 'Task' || children.has(f.id)),
    );
    const loops = [...new Set(roots.map((r) => r.loop))];
    for (const loop of loops) {
      out.push(`thread ${thread.threadId}${thread.threadId === 0 ? ' (main)' : ''}, loop ${loop}`);
      const render = (fut: FutureRecord, prefix: string, last: boolean): void => {
        out.push(`${prefix}${last ? '└── ' : '├── '}${fut.kind === 'Task' ? `(T) ${fut.name}` : label(fut)}`);
        // A plain future a task sleeps on is in `ps`'s awaiting column; the tree shows links.
        const kids = (children.get(fut.id) ?? []).filter((kid) => kid.kind === 'Task' || children.has(kid.id));
        kids.forEach((kid, i) => render(kid, prefix + (last ? '    ' : '│   '), i === kids.length - 1));
      };
      const mine = roots.filter((r) => r.loop === loop);
      mine.forEach((root, i) => render(root, '', i === mine.length - 1));
    }
  }
  return out.join('\n');
}

/** asyncio's cycle report, for stderr. */
export function formatCycles(error: CycleFoundError): string {
  const lines = ['ERROR: await-graph contains cycles - cannot print a tree!', ''];
  for (const cycle of error.cycles) lines.push(`cycle: ${cycle.map((f) => (f.kind === 'Task' ? f.name : label(f))).join(' → ')}`);
  return lines.join('\n');
}
