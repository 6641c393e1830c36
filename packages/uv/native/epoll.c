/* Epoll: a level-triggered epoll instance (Linux only).
 *
 * Each registration stores (mask << 32 | fd) in epoll_event.data, so wait() can
 * translate and mask events without any user-space table. Errors and hangups
 * are reported as both READABLE and WRITABLE (limited to what was registered)
 * so the loop's next recv/send sees the error, as CPython's selectors do.
 * Lifecycle rules: see watch.c. */
#include "common.h"

#ifdef __linux__
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

typedef struct {
  selobj base;
  struct epoll_event* buf; /* wait() scratch, grown to the caller's capacity */
  int cap;
} epoll_obj;

#define MAX_BATCH 4096

static void finalize(napi_env env, void* data, void* hint) {
  epoll_obj* o = data;
  obj_unlink(&o->base.head);
  selobj_teardown(&o->base.head);
  free(o->buf);
  free(o);
}

static napi_value ctor(napi_env env, napi_callback_info info) {
  napi_value self;
  napi_get_cb_info(env, info, NULL, NULL, &self, NULL);
  epoll_obj* o = calloc(1, sizeof *o);
  if (o == NULL) { napi_throw_error(env, "ENOMEM", "out of memory"); return NULL; }
  int fd = epoll_create1(EPOLL_CLOEXEC);
  selobj_setup(env, self, &o->base, fd < 0 ? -errno : fd, finalize);
  return self;
}

static napi_value ctl(napi_env env, napi_callback_info info, int op) {
  size_t argc = 2;
  napi_value argv[2];
  epoll_obj* o = unwrap_this(env, info, &argc, argv, NULL);
  if (o == NULL) return NULL;
  int32_t fd, mask = 0;
  if (argc < 1 || arg_int32(env, argv[0], "fd", &fd)) return NULL;
  if (op != EPOLL_CTL_DEL) {
    if (argc < 2 || arg_int32(env, argv[1], "events", &mask)) return NULL;
    if (mask < 1 || mask > (READABLE | WRITABLE)) {
      throw_range(env, "events must be READABLE, WRITABLE or both");
      return NULL;
    }
  }
  if (o->base.fd < 0) return num(env, -EBADF);
  struct epoll_event ev;
  ev.events = ((mask & READABLE) ? EPOLLIN : 0) | ((mask & WRITABLE) ? EPOLLOUT : 0);
  ev.data.u64 = ((uint64_t)(uint32_t)mask << 32) | (uint32_t)fd;
  return num(env, epoll_ctl(o->base.fd, op, fd, &ev) < 0 ? -errno : 0);
}

/* add(fd, events), modify(fd, events), remove(fd) -> 0 or -errno */
static napi_value add(napi_env env, napi_callback_info info) { return ctl(env, info, EPOLL_CTL_ADD); }
static napi_value modify(napi_env env, napi_callback_info info) { return ctl(env, info, EPOLL_CTL_MOD); }
static napi_value del(napi_env env, napi_callback_info info) { return ctl(env, info, EPOLL_CTL_DEL); }

/* wait(timeoutMs, out: Int32Array) -> number of (fd, events) pairs written to
 * out, or -errno. timeoutMs < 0 blocks until an event; 0 never blocks. EINTR
 * returns 0 pairs: the caller's loop recomputes its timeout anyway. */
static napi_value wait_(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  epoll_obj* o = unwrap_this(env, info, &argc, argv, NULL);
  if (o == NULL) return NULL;
  int32_t ms;
  int32_t* out;
  size_t n;
  if (argc < 2 || arg_int32(env, argv[0], "timeout", &ms) ||
      arg_int32_array(env, argv[1], "out", &out, &n)) return NULL;
  if (o->base.fd < 0) return num(env, -EBADF);
  int want = (int)(n / 2 < MAX_BATCH ? n / 2 : MAX_BATCH);
  if (want == 0) { throw_range(env, "out must hold at least one (fd, events) pair"); return NULL; }
  if (want > o->cap) {
    struct epoll_event* b = realloc(o->buf, sizeof *b * want);
    if (b == NULL) return num(env, -ENOMEM);
    o->buf = b;
    o->cap = want;
  }
  int k = epoll_wait(o->base.fd, o->buf, want, ms < 0 ? -1 : ms);
  if (k < 0) return num(env, errno == EINTR ? 0 : -errno);
  for (int i = 0; i < k; i++) {
    uint32_t e = o->buf[i].events;
    int mask = (int)(o->buf[i].data.u64 >> 32);
    int ev = 0;
    if (e & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)) ev |= READABLE;
    if (e & (EPOLLOUT | EPOLLERR | EPOLLHUP)) ev |= WRITABLE;
    out[2 * i] = (int32_t)(uint32_t)o->buf[i].data.u64;
    out[2 * i + 1] = ev & mask;
  }
  return num(env, k);
}

napi_value epoll_init(napi_env env, napi_value exports) {
  return selobj_define(env, exports, "Epoll", ctor, add, modify, del, wait_);
}

#else
napi_value epoll_init(napi_env env, napi_value exports) { return exports; }
#endif
