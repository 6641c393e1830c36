/**
 * Young-generation pacing for the read paths that hand protocols fresh buffer memory (the
 * selector's and uring's slabs, NetProactor's reads).
 *
 * V8 frees a dropped buffer's memory at the next scavenge, and a scavenge comes only when
 * the young generation fills with JavaScript objects. A loop's read path makes almost none
 * (Node's `net` 'data' path makes ~1 KB per read), and loading loopkit has grown V8's new
 * space from 1 to 8 MB; so on Node 24 (V8 13) received buffers pile up until V8 starts a
 * full mark-compact, about every 12-18 MB of them, each 20-40 ms of CPU. So for every
 * PACE_BYTES of fresh buffer memory handed out, a short-lived array of a quarter of that
 * size is made: the young generation fills every ~10 MB of reads, and cheap scavenges
 * (nothing in it survives) free the buffers first. (A quarter: an eighth still let full GCs
 * through on Node 24. Session 12 paired the quarter, at the 16 and 100 KiB echo, against no
 * pacing on Node 20, 22 and 24 and an eighth on Node 20: both cost more CPU per request, on
 * Node 20 too, where V8 11 also scavenges on external memory by itself; so every Node paces
 * alike: bench/README.md, "Session 12 (s12-echo)".)
 */
const PACE_BYTES = 256 * 1024;
/**
 * Array slots (8 bytes each; 4 with pointer compression) making a quarter of PACE_BYTES: 64 KiB,
 * under V8's largest regular object (128 KiB). A 128 KiB array goes to the large-object space,
 * fresh pages per array: 3.7-7.2x the CPU per request at the echo (session 12, Node 20).
 */
const PACE_SLOTS = PACE_BYTES / 4 / 8;
/**
 * PACE_SLOTS where no compiler sees a constant: with a constant length, V8's Maglev (Node 22+)
 * builds the array inline in every function it inlines paceReceived into, one store per slot
 * in its graph: 14-16 ms of CPU and ~600 page faults per such compile on Node 24 (about 3 ms
 * and 70 with the length read from here), paid again at each recompile of a read path
 * (bench/README.md, "Session 15 (s15-uring)"). The array made at run time is the same.
 */
const paceSlots = new Int32Array([PACE_SLOTS]);
let unpacedBytes = 0;
/**
 * The last pacing array, stored where the compiler cannot prove it unused (so it cannot drop
 * the allocation) until the next read clears it: one that survived every scavenge would add
 * its size to what V8 counts as surviving, and V8 grows the new space once that sum passes
 * its size (to 16 MB and 32 MB within seconds), which brings the full GCs back.
 */
let paceArray: unknown[] | null = null;

/**
 * Called by a read path at every read that hands bytes to a protocol, with the bytes of
 * fresh buffer memory that read allocated (0 when it filled memory allocated before). An
 * allocation of several PACE_BYTES (core's 512 KiB slab) makes as many arrays: one array of
 * their sum would go to the large-object space (above).
 */
export function paceReceived(freshBytes: number): void {
  paceArray = null;
  if (freshBytes === 0) return;
  unpacedBytes += freshBytes;
  while (unpacedBytes >= PACE_BYTES) {
    unpacedBytes -= PACE_BYTES;
    paceArray = new Array(paceSlots[0]);
  }
}
