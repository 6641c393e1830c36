/**
 * What a wake-up of the loop by Node's poll of a hosted socket costs beyond the read itself:
 * the turn it enters runs outside any task, and where the task is V8's continuation slot
 * itself (Node 20 to 23 with core's addon), emptying the slot is one addon call. Nothing of
 * the host callback runs after the turn, so the slot is not put back (base-events.ts `turn`).
 */
import { describe, expect, it } from 'vitest';
import { Protocol, _world, currentTask } from '@loopkit/core';
import { socketpair } from '@loopkit/uv';
import { SelectorEventLoop } from '@loopkit/selector';

const slot = _world.taskTracking?.mechanism === 'continuation-slot' ? _world.taskTracking.slot : null;

describe.skipIf(slot === null)('a wake-up from a hosted socket, with the continuation slot', () => {
  it('writes the task slot once per turn, and its callbacks see no task', async () => {
    const loop = new SelectorEventLoop();
    const [ours, theirs] = socketpair();
    const tasksSeen: unknown[] = [];
    let received = 0;
    class Count extends Protocol {
      override dataReceived(data: Uint8Array): void {
        received += data.length;
        tasksSeen.push(currentTask());
      }
    }
    try {
      const [transport] = await loop.runUntilComplete(() => loop.createConnection(() => new Count(), null, null, { sock: ours }));
      const running = loop.runForever();
      const set = slot!.set;
      let writes = 0;
      slot!.set = (value: unknown): unknown => {
        writes++;
        return set(value);
      };
      const messages = 20;
      try {
        for (let i = 1; i <= messages; i++) {
          theirs.send(Buffer.alloc(16, 0x61));
          // Outside any task: Node's loop turns once per immediate, and each message wakes the loop once.
          while (received < 16 * i) await new Promise((resolve) => setImmediate(resolve));
        }
      } finally {
        slot!.set = set;
      }
      expect(tasksSeen).toHaveLength(messages);
      expect(tasksSeen.every((task) => task === null)).toBe(true);
      expect(writes).toBe(messages);
      transport.close();
      loop.stop();
      await running;
    } finally {
      theirs.close();
      loop.close();
    }
  });
});
