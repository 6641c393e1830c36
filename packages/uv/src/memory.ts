/** keepFreedMemory(): the one process-wide allocator setting loopkit makes (native/memory.c). */
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
