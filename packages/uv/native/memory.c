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

#ifdef __GLIBC__
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
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

static napi_value keep_freed_memory_js(napi_env env, napi_callback_info info) {
  napi_value result;
  napi_get_boolean(env, keep_freed_memory(), &result);
  return result;
}

napi_value memory_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = { METHOD("keepFreedMemory", keep_freed_memory_js) };
  napi_define_properties(env, exports, 1, props);
  return exports;
}
