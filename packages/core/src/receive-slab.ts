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
    let fresh = 0;
    if (SLAB_SIZE - offset < room) {
      slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
      memory = slab.buffer as ArrayBuffer;
      offset = 0;
      fresh = SLAB_SIZE;
    }
    paceReceived(fresh);
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
    offset = Math.min((end + 7) & ~7, SLAB_SIZE);
  },
};
