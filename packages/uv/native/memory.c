/* keepFreedMemory(): keep freed heap memory in the process instead of handing it back to
 * the kernel (glibc only; elsewhere a no-op that returns false).
 *
 * Why: every received chunk a transport hands a protocol is fresh memory (the protocol may
 * keep it), and V8 frees those buffers only at a GC, in bulk. On Node 24 (V8 13) growth of
 * ArrayBuffer memory starts a full mark-compact about every 64-80 MB allocated, where
 * Node 20 ran a scavenge about every 32 MB; so each GC frees 64-80 MB at once. With glibc's
 * thresholds (blocks from 128 KiB mmapped; the heap top trimmed when more than 128 KiB is
 * free; both raised by glibc itself to at most 32 and 64 MiB when a large mapped block is
 * freed) that freed memory went back to the kernel and the next buffers faulted it in again
 * page by page: 2-10 minor faults per 16-100 KiB echo on Node 24.
 *
 * What: blocks up to 32 MiB (glibc's ceiling for this setting) come from the heap, and the
 * heap top is trimmed only past 256 MiB free. Once set, glibc stops adjusting either by
 * itself. Cost: a process keeps up to 256 MiB of freed heap at the top of its heap (RSS does
 * not drop back after a burst) and blocks of 128 KiB-32 MiB are no longer returned one by
 * one. A process started with GLIBC_TUNABLES naming either threshold keeps its own settings:
 * the call then changes nothing. Called once per process (later calls return the first's result). */
#include "common.h"

#include <pthread.h>
#include <stdint.h>

#ifdef __GLIBC__
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#endif

#define KEPT_MMAP_THRESHOLD (32 << 20)
#define KEPT_TRIM_THRESHOLD (256 << 20)

static pthread_once_t kept_once = PTHREAD_ONCE_INIT;
static int kept;

static void set_thresholds(void) {
#ifdef __GLIBC__
  const char* tunables = getenv("GLIBC_TUNABLES");
  if (tunables != NULL && (strstr(tunables, "malloc.trim_threshold") || strstr(tunables, "malloc.mmap_threshold")))
    return;
  kept = mallopt(M_MMAP_THRESHOLD, KEPT_MMAP_THRESHOLD) && mallopt(M_TRIM_THRESHOLD, KEPT_TRIM_THRESHOLD);
#endif
}

int keep_freed_memory(void) {
  pthread_once(&kept_once, set_thresholds);
  return kept;
}

/* adviseHugePagesAhead(): the next HUGE_AHEAD bytes the heap grows into get transparent huge
 * pages (MADV_HUGEPAGE), where the kernel's THP setting is "always" or "madvise".
 *
 * Why: under a paravirtualized MMU a first touch of a 4 KiB page costs ~12 us of CPU (0.2 us
 * per 4 KiB of a 2 MiB page), and a server that receives into fresh memory touches tens of MB
 * of new heap before the first GC frees any of it: NetProactor at 16 KiB x 1 took 0.5-2
 * faults per request in a fresh process. How: with keepFreedMemory's thresholds blocks under
 * 32 MiB come from the heap and its top is not trimmed, so two 16 MiB blocks taken and freed
 * at once leave 32 MiB of untouched heap top; its 2 MiB-aligned part is advised. No RSS
 * until used; then in 2 MiB steps, and khugepaged may fill a partly used 2 MiB range (at most
 * HUGE_AHEAD in all). False without glibc on Linux, without keepFreedMemory's thresholds, or
 * when madvise refuses. Once per process (later calls return the first's result). */
#define HUGE_PAGE ((uintptr_t)2 << 20)
#define HUGE_AHEAD_PIECE ((size_t)16 << 20)
#define HUGE_AHEAD_PIECES 2

static pthread_once_t ahead_once = PTHREAD_ONCE_INIT;
static int ahead;

static void advise_ahead(void) {
#if defined(__GLIBC__) && defined(__linux__) && defined(MADV_HUGEPAGE)
  if (!keep_freed_memory()) return;
  char* pieces[HUGE_AHEAD_PIECES];
  uintptr_t low = UINTPTR_MAX, high = 0;
  int n = 0;
  for (; n < HUGE_AHEAD_PIECES; n++) {
    pieces[n] = malloc(HUGE_AHEAD_PIECE);
    if (pieces[n] == NULL) break;
    if ((uintptr_t)pieces[n] < low) low = (uintptr_t)pieces[n];
    if ((uintptr_t)pieces[n] + HUGE_AHEAD_PIECE > high) high = (uintptr_t)pieces[n] + HUGE_AHEAD_PIECE;
  }
  /* Only a contiguous span: advising memory between scattered pieces would advise live data. */
  if (n == HUGE_AHEAD_PIECES && high - low <= HUGE_AHEAD_PIECES * (HUGE_AHEAD_PIECE + 64)) {
    uintptr_t start = (low + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    uintptr_t end = high & ~(HUGE_PAGE - 1);
    ahead = end > start && madvise((void*)start, end - start, MADV_HUGEPAGE) == 0;
  }
  while (n > 0) free(pieces[--n]);
#endif
}

int advise_huge_pages_ahead(void) {
  pthread_once(&ahead_once, advise_ahead);
  return ahead;
}

static napi_value advise_huge_pages_ahead_js(napi_env env, napi_callback_info info) {
  napi_value result;
  napi_get_boolean(env, advise_huge_pages_ahead(), &result);
  return result;
}

static napi_value keep_freed_memory_js(napi_env env, napi_callback_info info) {
  napi_value result;
  napi_get_boolean(env, keep_freed_memory(), &result);
  return result;
}

napi_value memory_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    METHOD("keepFreedMemory", keep_freed_memory_js),
    METHOD("adviseHugePagesAhead", advise_huge_pages_ahead_js),
  };
  napi_define_properties(env, exports, 2, props);
  return exports;
}
