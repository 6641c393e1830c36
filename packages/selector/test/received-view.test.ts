/**
 * The Buffer a selector stream transport hands dataReceived: a view of the receive slab. On
 * V8 11 (Node 20) it is made with Buffer.from on the slab's ArrayBuffer, not `subarray`, whose
 * two generic property lookups cost ~380 instructions a read there (bench/README.md, "Session
 * 22 (s22-selector)"); elsewhere with `subarray`. Either way the same kind of Buffer: its own
 * bytes, on the slab, kept intact by later reads.
 */
import { describe, expect, it } from 'vitest';
import { Protocol } from '@loopkit/core';
import { socketpair } from '@loopkit/uv';
import { onLoop, waitUntil } from './support.js';

const v8Major = Number(process.versions.v8.split('.')[0]);

describe('the view a selector stream transport hands dataReceived', () => {
  it('is a Buffer of the bytes read, made without subarray on V8 11 (its own read and a wake-up read ahead)', async () => {
    const received: Buffer[] = [];
    const subarray = Buffer.prototype.subarray;
    let subarrays = 0;
    await onLoop(async (loop, reports) => {
      class Keep extends Protocol {
        override dataReceived(data: Uint8Array): void {
          received.push(data as Buffer);
        }
      }
      const pairs = [socketpair(), socketpair()];
      const transports = [];
      for (const [ours] of pairs) transports.push((await loop.createConnection(() => new Keep(), null, null, { sock: ours }))[0]);
      Buffer.prototype.subarray = function (this: Buffer, start?: number, end?: number): Buffer {
        subarrays++;
        return subarray.call(this, start, end);
      };
      try {
        // One socket readable: it reads itself. Two at once: one read ahead for both.
        pairs[0]![1].send(Buffer.from('one'));
        await waitUntil(() => received.length === 1);
        pairs[0]![1].send(Buffer.from('two'));
        pairs[1]![1].send(Buffer.from('three'));
        await waitUntil(() => received.length === 3);
      } finally {
        Buffer.prototype.subarray = subarray;
      }
      for (const transport of transports) transport.close();
      for (const [, theirs] of pairs) theirs.close();
      expect(reports).toEqual([]);
    });
    expect(received.map((data) => data.toString()).sort()).toEqual(['one', 'three', 'two']);
    for (const data of received) {
      expect(Buffer.isBuffer(data)).toBe(true);
      expect(Object.getPrototypeOf(data)).toBe(Buffer.prototype);
      expect(data.buffer.byteLength).toBeGreaterThan(data.length); // a view of the slab, not a copy
    }
    if (v8Major < 12) expect(subarrays).toBe(0);
    else expect(subarrays).toBe(3);
  });
});
