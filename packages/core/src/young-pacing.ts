/**
 * Young-generation pacing for the read paths that hand protocols fresh buffer memory (the
 * selector's and uring's slabs, NetProactor's reads).
 *
 * V8 frees a dropped buffer's memory at the next scavenge, and a scavenge comes only when
 * the young generation fills with JavaScript objects. A loop's read path makes almost none
 * (Node's `net` 'data' path makes ~1 KB per read), and loading loopkit has grown V8's new
 * space from 1 to 8 MB; so on Node 24 (V8 13) received buffers pile up until V8 starts a
 * full mark-compact, about every 12-18 MB of them, each 20-40 ms of CPU. So for every
 * PACE_BYTES of fresh buffer memory handed out, a short-lived object of a quarter of that
 * size is made: the young generation fills every ~10 MB of reads, and cheap scavenges
 * (nothing in it survives) free the buffers first. (A quarter: an eighth still let full GCs
 * through on Node 24. Session 12 paired the quarter, at the 16 and 100 KiB echo, against no
 * pacing on Node 20, 22 and 24 and an eighth on Node 20: both cost more CPU per request, on
 * Node 20 too, where V8 11 also scavenges on external memory by itself; so every Node paces
 * alike: bench/README.md, "Session 12 (s12-echo)".)
 */
const PACE_BYTES = 256 * 1024;
/**
 * The pacing object is a BigInt of a quarter of PACE_BYTES (64 KiB of digits): one
 * `1n << shift` (below), whose digits V8 zeroes with one memset, where an array of as many
 * bytes was filled with the hole one tagged slot at a time, inlined into the read path by
 * the optimizing compilers (~2,400 instructions per 16 KiB read on Node 24): 3.1 against
 * 4.6 µs per 256 KiB paced on Node 20, 3.5 against 6.2 on Node 24 (bench/README.md,
 * "Session 18 (s18-selector)"). 64 KiB stays under V8's largest regular object (128 KiB): a
 * larger one goes to the large-object space, fresh pages each (3.7-7.2x the CPU per request
 * at the echo, session 12). Its top bit is bit 8 * 64 KiB - 1, so its digits are 64 KiB.
 */
const PACE_OBJECT_BYTES = PACE_BYTES / 4;
/**
 * The shift, held in an array so that no compiler sees a constant it could fold
 * `1n << shift` into (one BigInt made at compile time would pace nothing).
 */
const paceShift = [BigInt(PACE_OBJECT_BYTES * 8 - 1)];
let unpacedBytes = 0;
/**
 * The last pacing object, stored where the compiler cannot prove it unused (so it cannot drop
 * the allocation) until the next read clears it: one that survived every scavenge would add
 * its size to what V8 counts as surviving, and V8 grows the new space once that sum passes
 * its size (to 16 MB and 32 MB within seconds), which brings the full GCs back.
 */
let paceObject: bigint | null = null;

/**
 * Called by a read path at every read that hands bytes to a protocol, with the bytes of
 * fresh buffer memory that read allocated (0 when it filled memory allocated before). An
 * allocation of several PACE_BYTES (core's 512 KiB slab) makes as many objects: one object of
 * their sum would go to the large-object space (above).
 */
export function paceReceived(freshBytes: number): void {
  paceObject = null;
  if (freshBytes === 0) return;
  unpacedBytes += freshBytes;
  while (unpacedBytes >= PACE_BYTES) {
    unpacedBytes -= PACE_BYTES;
    paceObject = 1n << paceShift[0]!;
  }
}
