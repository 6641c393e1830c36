/* Kqueue: the macOS/BSD counterpart of Epoll, same shape (Lifecycle: watch.c).
 *
 * kqueue has one registration per (fd, filter). add() and modify() are one
 * operation: EV_ADD each wanted filter, EV_DELETE each unwanted one (ENOENT
 * ignored). EV_RECEIPT makes the kernel report a result per change instead of
 * stopping at the first error. wait() merges the READ and WRITE events of one fd
 * into one (fd, events) pair; EV_EOF and EV_ERROR are reported on the filter
 * they arrive on, so a hangup still wakes both a reader and a writer. */
#include "common.h"

#if defined(__APPLE__) || defined(__FreeBSD__)
#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <sys/event.h>
#include <sys/time.h>
#include <unistd.h>

typedef struct {
  selobj base;
  struct kevent* buf;
  int cap;
} kqueue_obj;

#define MAX_BATCH 4096

static void finalize(napi_env env, void* data, void* hint) {
  kqueue_obj* o = data;
  obj_unlink(&o->base.head);
  selobj_teardown(&o->base.head);
  free(o->buf);
  free(o);
}

static napi_value ctor(napi_env env, napi_callback_info info) {
  napi_value self;
  napi_get_cb_info(env, info, NULL, NULL, &self, NULL);
  kqueue_obj* o = calloc(1, sizeof *o);
  if (o == NULL) { napi_throw_error(env, "ENOMEM", "out of memory"); return NULL; }
  int fd = kqueue();
  if (fd >= 0) {
    int fl = fcntl(fd, F_GETFD);
    fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
  }
  selobj_setup(env, self, &o->base, fd < 0 ? -errno : fd, finalize);
  return self;
}

/* Applies want (READABLE|WRITABLE, 0 = remove). Returns 0 or -errno. */
static int apply(int kq, int fd, int want) {
  struct kevent ch[2], res[2];
  static const struct timespec zero = {0, 0};
  EV_SET(&ch[0], fd, EVFILT_READ, ((want & READABLE) ? EV_ADD : EV_DELETE) | EV_RECEIPT, 0, 0, 0);
  EV_SET(&ch[1], fd, EVFILT_WRITE, ((want & WRITABLE) ? EV_ADD : EV_DELETE) | EV_RECEIPT, 0, 0, 0);
  int k = kevent(kq, ch, 2, res, 2, &zero);
  if (k < 0) return -errno;
  int missing = 0;
  for (int i = 0; i < k; i++) {
    if (!(res[i].flags & EV_ERROR) || res[i].data == 0) continue;
    int adding = (res[i].filter == EVFILT_READ) ? (want & READABLE) : (want & WRITABLE);
    if (!adding && res[i].data == ENOENT) { missing++; continue; }
    return -(int)res[i].data;
  }
  return (want == 0 && missing == 2) ? -ENOENT : 0;
}

static napi_value ctl(napi_env env, napi_callback_info info, int removing) {
  size_t argc = 2;
  napi_value argv[2];
  kqueue_obj* o = unwrap_this(env, info, &argc, argv, NULL);
  if (o == NULL) return NULL;
  int32_t fd, mask = 0;
  if (argc < 1 || arg_int32(env, argv[0], "fd", &fd)) return NULL;
  if (!removing) {
    if (argc < 2 || arg_int32(env, argv[1], "events", &mask)) return NULL;
    if (mask < 1 || mask > (READABLE | WRITABLE)) {
      throw_range(env, "events must be READABLE, WRITABLE or both");
      return NULL;
    }
  }
  if (o->base.fd < 0) return num(env, -EBADF);
  return num(env, apply(o->base.fd, fd, mask));
}

/* add(fd, events), modify(fd, events), remove(fd) -> 0 or -errno */
static napi_value add(napi_env env, napi_callback_info info) { return ctl(env, info, 0); }
static napi_value del(napi_env env, napi_callback_info info) { return ctl(env, info, 1); }

/* wait(timeoutMs, out: Int32Array) -> pairs written, or -errno (as Epoll). */
static napi_value wait_(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  kqueue_obj* o = unwrap_this(env, info, &argc, argv, NULL);
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
    struct kevent* b = realloc(o->buf, sizeof *b * want);
    if (b == NULL) return num(env, -ENOMEM);
    o->buf = b;
    o->cap = want;
  }
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  int k = kevent(o->base.fd, NULL, 0, o->buf, want, ms < 0 ? NULL : &ts);
  if (k < 0) return num(env, errno == EINTR ? 0 : -errno);
  int pairs = 0;
  for (int i = 0; i < k; i++) {
    int fd = (int)o->buf[i].ident;
    int ev = o->buf[i].filter == EVFILT_READ ? READABLE : WRITABLE;
    int j = pairs - 1;
    /* The two filters of one fd usually arrive next to each other; a short
     * backward scan merges them without a table. */
    while (j >= 0 && j >= pairs - 8 && out[2 * j] != fd) j--;
    if (j >= 0 && j >= pairs - 8) {
      out[2 * j + 1] |= ev;
    } else {
      out[2 * pairs] = fd;
      out[2 * pairs + 1] = ev;
      pairs++;
    }
  }
  return num(env, pairs);
}

napi_value kqueue_init(napi_env env, napi_value exports) {
  /* EV_ADD on a registered filter updates it, so modify is add. */
  return selobj_define(env, exports, "Kqueue", ctor, add, add, del, wait_);
}

#else
napi_value kqueue_init(napi_env env, napi_value exports) { return exports; }
#endif
