/** keepFreedMemory() and adviseHugePagesAhead(): the process-wide allocator settings loopkit makes (native/memory.c). */
import { isAvailable, native } from './native.js';

/**
 * Keep freed heap memory in the process (glibc's malloc thresholds); true when set.
 *
 * Every chunk a transport hands a protocol is fresh memory, since the protocol may keep it,
 * and V8 frees those buffers only at a GC, tens of MB at a time (on Node 24 at a full
 * mark-compact about every 64-80 MB). With glibc's default thresholds that memory went back
 * to the kernel at each GC and was faulted in again page by page for the next buffers. This
 * keeps it: blocks up to 32 MiB come from the heap and the heap top is trimmed only past
 * 256 MiB free. The cost, for the whole process: RSS does not fall back after a burst, by up
 * to 256 MiB of freed heap. A no-op (false) without glibc, without the addon, or when
 * GLIBC_TUNABLES sets either threshold. The first call decides; later calls return its result.
 */
export function keepFreedMemory(): boolean {
  return isAvailable() && native().keepFreedMemory();
}

/**
 * Back the next 32 MiB the heap grows into with transparent huge pages (Linux with glibc,
 * the kernel's THP setting "always" or "madvise"); true when advised. Sets keepFreedMemory's
 * thresholds first (the untouched heap top must stay in the process).
 *
 * A read path that copies every received chunk into fresh memory touches tens of MB of new
 * heap before the first GC frees any, and under a paravirtualized MMU each first touch of a
 * 4 KiB page costs ~12 µs of CPU (a 2 MiB page ~0.2 µs per 4 KiB): NetProactor calls it
 * at every read, the receive slab's read paths by adviseHugePagesForRead's rule. The cost:
 * that part of the heap becomes resident in 2 MiB steps, and the kernel may fill a partly
 * used 2 MiB range (at most 32 MiB in all). Without glibc, the addon or keepFreedMemory's
 * thresholds, a no-op (false). The first call decides; later calls return its result without
 * leaving JavaScript, so a read path may call it every time.
 */
export function adviseHugePagesAhead(): boolean {
  return (hugePagesAdvised ??= isAvailable() && native().adviseHugePagesAhead());
}

/** adviseHugePagesAhead's result, once asked. */
let hugePagesAdvised: boolean | null = null;

/**
 * A read of this many bytes or more into a receive slab asks for huge pages at once: a server
 * of large messages touches tens of MB of fresh heap before V8's first GCs free spent slabs
 * (bench/README.md, "Session 14 (s14-echo)").
 */
const LARGE_READ = 16 * 1024;
/**
 * Small reads ask once the process's reads have started this many fresh slabs (2 MiB): a 1 KiB
 * echo touches a new 4 KiB page every four requests until the first scavenges, 0.4 faults (5 µs
 * of CPU) per request in a fresh server (sessions 17 and 18, s17-echo, s18-uring). Idle
 * connections and a trickle of small messages never get there, and keep their RSS.
 */
const BUSY_SLABS = 4;
let slabsStarted = 0;

/**
 * The rule of the read paths that hand out views of core's receive slab (the selector's
 * stream reads, uring's direct reads and pooled harvests): a read of `bytes`, the first of a
 * fresh slab when `slabStarted`, asks for huge pages ahead (adviseHugePagesAhead) once reads
 * are large or busy. Cheap at every read: it asks once.
 */
export function adviseHugePagesForRead(bytes: number, slabStarted: boolean): void {
  if (bytes >= LARGE_READ || (slabStarted && ++slabsStarted === BUSY_SLABS)) adviseHugePagesAhead();
}
