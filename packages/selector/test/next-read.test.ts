/**
 * A selector loop going to sleep replaces a spent receive slab (less room left than a read asks
 * for) then, not at the next read: the allocation, its pacing and a scavenge the pacing may start
 * fall after the last send, not between a wake-up and its read, which a peer waiting for an echo
 * pays in latency (bench/README.md, "Session 25 (s25-latency)").
 */
import { describe, expect, it } from 'vitest';
import { Protocol, receiveSlab, sleep } from '@loopkit/core';
import { socketpair } from '@loopkit/uv';
import { onLoop, waitUntil } from './support.js';

/** What a selector stream read asks the slab for (readiness-transport.ts's MIN_READ). */
const READ_ROOM = 64 * 1024;

describe('the receive slab of a selector loop going to sleep', () => {
  it('is replaced before the next read once a read left it less room than a read asks for', async () => {
    const received: Buffer[] = [];
    await onLoop(async (loop, reports) => {
      let spendSlab = false;
      class Keep extends Protocol {
        override dataReceived(data: Uint8Array): void {
          received.push(data as Buffer);
          // The read took all but 1 KiB of its slab, as the fifth 100 KiB message of a slab does.
          if (spendSlab) receiveSlab.taken(receiveSlab.offset() + receiveSlab.room() - 1024);
        }
      }
      const [ours, theirs] = socketpair();
      const [transport] = await loop.createConnection(() => new Keep(), null, null, { sock: ours });
      spendSlab = true;
      theirs.send(new TextEncoder().encode('fills'));
      await waitUntil(() => received.length === 1);
      spendSlab = false;
      const spent = received[0]!.buffer;
      // waitUntil's last sleep and this one let the loop sleep after the read: no read since.
      await sleep(0.01);
      expect(receiveSlab.memory()).not.toBe(spent);
      expect(receiveSlab.offset()).toBe(0);
      expect(receiveSlab.room()).toBeGreaterThanOrEqual(READ_ROOM);
      // The next read lands at the start of that slab, and the bytes of the spent one stay.
      theirs.send(new TextEncoder().encode('next'));
      await waitUntil(() => received.length === 2);
      expect(received[1]!.buffer).toBe(receiveSlab.memory());
      expect(received[1]!.byteOffset).toBe(0);
      expect(received.map((data) => data.toString())).toEqual(['fills', 'next']);
      transport.close();
      theirs.close();
      expect(reports).toEqual([]);
    });
  });
});
