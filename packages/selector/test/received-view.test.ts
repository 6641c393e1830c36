/**
 * The Buffer a selector stream transport hands dataReceived: a view of the receive slab, made
 * by core's receivedView with Node's Buffer class on the slab's ArrayBuffer, neither with
 * `subarray` (two generic property lookups a read on V8 11) nor with `Buffer.from` (its
 * argument checks) (bench/README.md, "Session 24 (s24-selector)"). The same kind of Buffer as
 * either makes: its own bytes, on the slab, kept intact by later reads.
 */
import { describe, expect, it } from 'vitest';
import { Protocol } from '@loopkit/core';
import { socketpair } from '@loopkit/uv';
import { onLoop, waitUntil } from './support.js';

/** The bytes of `text`, made before the spies count (and without Buffer.from). */
function encoded(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

describe('the view a selector stream transport hands dataReceived', () => {
  it('is a Buffer of the bytes read, made without subarray or Buffer.from (its own read and a wake-up read ahead)', async () => {
    const received: Buffer[] = [];
    const subarray = Buffer.prototype.subarray;
    const from = Buffer.from;
    let subarrays = 0;
    let froms = 0;
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
      Buffer.from = function (...args: unknown[]): Buffer {
        froms++;
        return (from as (...a: unknown[]) => Buffer).apply(Buffer, args);
      } as typeof Buffer.from;
      try {
        // One socket readable: it reads itself. Two at once: one read ahead for both.
        pairs[0]![1].send(encoded('one'));
        await waitUntil(() => received.length === 1);
        pairs[0]![1].send(encoded('two'));
        pairs[1]![1].send(encoded('three'));
        await waitUntil(() => received.length === 3);
      } finally {
        Buffer.prototype.subarray = subarray;
        Buffer.from = from;
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
    expect([subarrays, froms]).toEqual([0, 0]);
  });
});
