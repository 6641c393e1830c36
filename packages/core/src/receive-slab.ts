/**
 * The slab received bytes land in, shared by every read path of the thread that hands a
 * protocol views (the selector's reads, uring's harvests and direct receives, NetProactor's
 * small reads): one allocation per 512 KiB. A slab is never reused, so a protocol may keep
 * what it was given; paceReceived lets V8's scavenges free spent slabs (young-pacing.ts).
 */
import { paceReceived } from './young-pacing.js';

/**
 * 512 KiB: a read path asks for room (the selector 64 KiB) and the slab's tail under that is
 * never read into, yet is fresh memory that the pacing and the scavenges pay for. With 256 KiB,
 * 100 KiB messages took two reads a slab (128 KiB of fresh memory per message) and 16 KiB ones
 * thirteen; with 512 KiB five and twenty-nine: 20% and 10% less pacing and fewer scavenges per
 * message (bench/README.md, "Session 16 (s16-echo)"). The price: a view a protocol keeps holds
 * up to 512 KiB of slab alive instead of 256 KiB.
 */
const SLAB_SIZE = 512 * 1024;
let slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
/**
 * The slab's ArrayBuffer, its own (allocUnsafeSlow: the slab starts at 0 in it), read once per
 * slab: a read into it skips the addon's lookup of a view's buffer, a view made on it the
 * `buffer` getter (a call into V8's C++) (bench/README.md, Sessions 19 (s19-netproactor) and
 * 20 (s20-selector)).
 */
let memory = slab.buffer as ArrayBuffer;
let offset = 0;

/**
 * A backend's recv of several sockets in one native call, as @loopkit/uv's `tryRecvBatch`
 * (core imports no backend, so the read path passes it): `fds[from, count)` read in turn into
 * `buf[offset, offset + length)`, each read 8-aligned after the one before; `out[2i]` is where
 * `fds[i]`'s bytes start, `out[2i + 1]` what its recv returned (bytes, 0 at EOF, -errno); it
 * stops before a read with fewer than `minRoom` bytes of room and returns where it stopped.
 */
export type RecvBatch = (
  fds: Int32Array,
  from: number,
  count: number,
  buf: ArrayBuffer,
  offset: number,
  length: number,
  minRoom: number,
  out: Int32Array,
) => number;

function withRoom(room: number): void {
  let fresh = 0;
  if (SLAB_SIZE - offset < room) {
    slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
    memory = slab.buffer as ArrayBuffer;
    offset = 0;
    fresh = SLAB_SIZE;
  }
  paceReceived(fresh);
}

function taken(end: number): void {
  offset = Math.min((end + 7) & ~7, SLAB_SIZE);
}

/**
 * Node's Buffer class (`Buffer[Symbol.species]`, what `subarray` and `Buffer.from` construct):
 * called directly on a slab's ArrayBuffer it makes the same Buffer without `subarray`'s species
 * lookups (two generic `LoadIC` calls on V8 11) and its `buffer` getter (a call into V8's C++),
 * or `Buffer.from`'s argument checks: every backend's read path makes its chunks with it
 * (bench/README.md, "Session 19 (s19-netproactor)", "Session 22 (s22-uring)", "Session 24
 * (s24-selector)").
 */
export const NodeBuffer: {
  /** A Buffer of the `length` bytes of `memory` at `byteOffset`: a view sharing them, not a copy. */
  new (memory: ArrayBuffer, byteOffset: number, length: number): Buffer;
} = (Buffer as unknown as Record<symbol, new (memory: ArrayBuffer, byteOffset: number, length: number) => Buffer>)[Symbol.species]!;

/**
 * The Buffer a read path hands a protocol: `length` received bytes at `start` of the slab
 * whose ArrayBuffer is `memory` (`receiveSlab.memory()` when they were read).
 */
export function receivedView(memory: ArrayBuffer, start: number, length: number): Buffer {
  return new NodeBuffer(memory, start, length);
}

/**
 * The thread's receive slab, for backends' read paths: take it with room (`withRoom`), read
 * into it at `offset()` up to `room()` bytes, then mark what was handed out (`taken`).
 */
export const receiveSlab = {
  /**
   * The slab, replaced by a fresh one first when fewer than `room` bytes are left after
   * `offset()`. Call it at every read that hands out views of it (it paces the young
   * generation by the fresh memory).
   */
  withRoom(room: number): Buffer {
    withRoom(room);
    return slab;
  },

  /**
   * The read-ahead of a backend: `fds[0, count)` read into the slab (with `minRoom` of room)
   * in one `recvBatch` call, through the slab's ArrayBuffer (the addon skips a view's lookup,
   * ~115 instructions a batch), and the bytes read marked taken. Returns how many fds were
   * read (`out` as `recvBatch` fills it); the fds past it were not (one slab's room at most:
   * they read themselves). Their bytes are in `current()`.
   */
  readBatch(recvBatch: RecvBatch, fds: Int32Array, count: number, minRoom: number, out: Int32Array): number {
    withRoom(minRoom);
    const end = recvBatch(fds, 0, count, memory, offset, SLAB_SIZE - offset, minRoom, out);
    // The last read with bytes ends what was taken (an EOF or an error takes none).
    for (let i = end - 1; i >= 0; i--) {
      const r = out[2 * i + 1]!;
      if (r > 0) {
        taken(out[2 * i]! + r);
        break;
      }
    }
    return end;
  },

  /** The slab the last `withRoom` or `readBatch` read into. */
  current(): Buffer {
    return slab;
  },

  /** The slab `withRoom` gave, as its ArrayBuffer: offsets in it are the slab's. */
  memory(): ArrayBuffer {
    return memory;
  },

  /** Where the next read into the slab starts. */
  offset(): number {
    return offset;
  },

  /** Bytes left after `offset()`. */
  room(): number {
    return SLAB_SIZE - offset;
  },

  /** The bytes up to `end` are handed out; the next read starts 8-aligned (a protocol may view what it got as any typed array). */
  taken(end: number): void {
    taken(end);
  },
};
