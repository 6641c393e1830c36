/** `loopkit ps`/`pstree` output from given snapshots (the attach itself: ps.test.ts). */
import { describe, expect, it } from 'vitest';
import type { FutureRecord, ThreadSnapshot } from '@loopkit/core';
import { CycleFoundError, findCycles, formatCycles, formatTable, formatTree } from '../src/ps/format.js';

const task = (id: number, name: string, awaitedBy: number[] = [], awaiting: number | null = null): FutureRecord => ({
  id,
  kind: 'Task',
  name,
  state: 'pending',
  loop: 'L#1',
  awaiting,
  awaitedBy,
});
const future = (id: number, kind: string, awaitedBy: number[] = []): FutureRecord => ({
  id,
  kind,
  name: '',
  state: 'pending',
  loop: 'L#1',
  awaiting: null,
  awaitedBy,
});
const thread = (futures: FutureRecord[], threadId = 0): ThreadSnapshot => ({ pid: 1, threadId, futures });

describe('ps / pstree formatting', () => {
  it('a gather nobody awaits is a root; a plain future a task sleeps on is left out of the tree', () => {
    const snapshot = thread([task(1, 'a', [3], 4), task(2, 'b', [3]), future(3, 'GatheringFuture'), future(4, 'SleepFuture', [1])]);
    expect(formatTree([snapshot])).toBe(
      ['thread 0 (main), loop L#1', '└── GatheringFuture 0x3', '    ├── (T) a', '    └── (T) b'].join('\n'),
    );
    expect(formatTable([snapshot])).toBe(
      [
        'thread  loop  task id  task name  state    awaiting         awaited by',
        '-'.repeat(6 + 4 + 7 + 9 + 7 + 15 + 19 + 2 * 6),
        '0       L#1   0x1      a          pending  SleepFuture 0x4  GatheringFuture 0x3',
        '0       L#1   0x2      b          pending                   GatheringFuture 0x3',
      ].join('\n'),
    );
  });

  it('a cycle through a gather is found and named; each thread is searched', () => {
    const acyclic = thread([task(1, 'x')], 0);
    const cyclic = thread([task(1, 'p', [3]), task(2, 'q', [1]), future(3, 'GatheringFuture', [2])], 7);
    expect(findCycles(acyclic)).toEqual([]);
    expect(findCycles(cyclic).map((c) => c.map((f) => f.id))).toEqual([[1, 2, 3, 1]]);
    let error: unknown;
    try {
      formatTree([acyclic, cyclic]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CycleFoundError);
    expect(formatCycles(error as CycleFoundError)).toBe(
      'ERROR: await-graph contains cycles - cannot print a tree!\n\ncycle: p → q → GatheringFuture 0x3 → p',
    );
  });
});
