/**
 * core's receive slab as a backend's read-ahead uses it: one batch recv into the slab's
 * ArrayBuffer, and the slab's bytes up to the last read with bytes marked taken.
 */
import { describe, expect, it } from 'vitest';
import { receiveSlab, receivedView, type RecvBatch } from '../src/receive-slab.js';

/** A batch recv that gives each fd the result in `results` (bytes as a count, 0 EOF, -errno), recording its arguments. */
function fakeBatch(results: number[]): { batch: RecvBatch; calls: Array<{ buf: unknown; offset: number; length: number; minRoom: number }> } {
  const calls: Array<{ buf: unknown; offset: number; length: number; minRoom: number }> = [];
  const batch: RecvBatch = (_fds, from, count, buf, offset, length, minRoom, out) => {
    calls.push({ buf, offset, length, minRoom });
    let at = 0;
    for (let i = from; i < count; i++) {
      out[2 * i] = offset + at;
      out[2 * i + 1] = results[i]!;
      if (results[i]! > 0) at = (at + results[i]! + 7) & ~7;
    }
    return count;
  };
  return { batch, calls };
}

describe('receiveSlab.readBatch', () => {
  it("reads into the slab's ArrayBuffer at its offset with its room, and takes up to the last read with bytes", () => {
    receiveSlab.withRoom(64 * 1024);
    const start = receiveSlab.offset();
    const room = receiveSlab.room();
    // Bytes, an EOF, bytes, an error: the error after the last bytes takes nothing.
    const { batch, calls } = fakeBatch([5, 0, 13, -104]);
    const out = new Int32Array(8);
    expect(receiveSlab.readBatch(batch, new Int32Array(4), 4, 64 * 1024, out)).toBe(4);
    expect(calls).toEqual([{ buf: receiveSlab.memory(), offset: start, length: room, minRoom: 64 * 1024 }]);
    expect(calls[0]!.buf).toBeInstanceOf(ArrayBuffer);
    expect(receiveSlab.current().buffer).toBe(receiveSlab.memory());
    // 5 bytes at start, the 13 at start + 8: the next read starts 8-aligned after them.
    expect(receiveSlab.offset()).toBe(start + 24);
  });

  it('takes nothing when no read had bytes', () => {
    receiveSlab.withRoom(64 * 1024);
    const start = receiveSlab.offset();
    const { batch } = fakeBatch([0, -11]);
    expect(receiveSlab.readBatch(batch, new Int32Array(2), 2, 64 * 1024, new Int32Array(4))).toBe(2);
    expect(receiveSlab.offset()).toBe(start);
  });

  it('starts a fresh slab when the room left is under minRoom', () => {
    receiveSlab.withRoom(64 * 1024);
    const before = receiveSlab.memory();
    receiveSlab.taken(receiveSlab.offset() + receiveSlab.room() - 1024);
    const { batch, calls } = fakeBatch([100, 200]);
    receiveSlab.readBatch(batch, new Int32Array(2), 2, 64 * 1024, new Int32Array(4));
    expect(receiveSlab.memory()).not.toBe(before);
    expect(calls[0]).toMatchObject({ buf: receiveSlab.memory(), offset: 0 });
    expect(receiveSlab.current().buffer).toBe(receiveSlab.memory());
    expect(receiveSlab.offset()).toBe(304); // 100 bytes at 0, 200 at 104
  });
});

describe('receivedView', () => {
  it("is a Buffer of the slab's bytes at start, sharing them (not a copy), as subarray makes it", () => {
    const slab = receiveSlab.withRoom(64 * 1024);
    const start = receiveSlab.offset();
    slab.write('hello', start, 'latin1');
    receiveSlab.taken(start + 5);
    const view = receivedView(receiveSlab.memory(), start, 5);
    expect(Buffer.isBuffer(view)).toBe(true);
    expect(Object.getPrototypeOf(view)).toBe(Buffer.prototype);
    expect(view.toString('latin1')).toBe('hello');
    expect([view.buffer, view.byteOffset, view.length]).toEqual([slab.buffer, start, 5]);
    slab[start] = 0x6a; // the slab's byte is the view's
    expect(view.toString('latin1')).toBe('jello');
    expect(Object.getPrototypeOf(slab.subarray(start, start + 5))).toBe(Object.getPrototypeOf(view));
  });
});
