/**
 * The slab received bytes land in, shared by the ring's harvest (pooled receives, copied out
 * of the pool) and the stream transports' direct receives: one allocation per 256 KiB, as
 * the selector's reads land. A slab is never reused, so a protocol may keep what it was given
 * (core's paceReceived lets scavenges free old slabs).
 */
import { paceReceived } from '@loopkit/core';

const SLAB_SIZE = 256 * 1024;
let slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
let offset = 0;

/** The slab, replaced by a fresh one first when fewer than `room` bytes are left after `slabOffset()`. */
export function slabWithRoom(room: number): Buffer {
  let fresh = 0;
  if (SLAB_SIZE - offset < room) {
    slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
    offset = 0;
    fresh = SLAB_SIZE;
  }
  paceReceived(fresh);
  return slab;
}

/** Where the next receive into the slab starts. */
export function slabOffset(): number {
  return offset;
}

/** Bytes left after `slabOffset()`. */
export function slabRoom(): number {
  return SLAB_SIZE - offset;
}

/** The bytes up to `end` are handed out; the next receive starts 8-aligned (a protocol may view what it got as any typed array). */
export function slabTaken(end: number): void {
  offset = Math.min((end + 7) & ~7, SLAB_SIZE);
}
