/* PollSet: readiness with poll(2), available everywhere.
 *
 * wait() calls poll(2) on the registered set. watch() cannot hand Node one fd
 * for the whole set (poll has no descriptor of its own), so it arms one uv_poll
 * per registered fd, kept in sync by add/modify/remove, and coalesces them: each
 * uv_poll callback only starts a uv_check, and the check (which libuv runs right
 * after the poll phase of the same loop iteration) calls onReady once. What the
 * uv_polls reported is kept: take() hands it over without a syscall (a loop
 * hosted by Node's own epoll needs no second poll of its own); wait() polls
 * afresh and drops it. A watch() given a reports array writes the pairs straight
 * into it (see watch()), so a wake-up costs the JS side no native call at all;
 * only what does not fit waits in `seen` for take().
 *
 * Lifecycle rules:
 * - Every per-fd uv_poll and the uv_check are separate allocations freed in
 *   their uv_close callbacks; the PollSet itself may be freed any time after.
 * - libuv must not poll a closed fd (it may be reused by Node's own handles).
 *   Hence remove(fd) before closing it; the socket close() of this module does
 *   that automatically for every PollSet of the thread (drop_fd). Closing a
 *   registered fd by other means while watching is a bug, as in libuv.
 * - One fd can be watched by one PollSet at a time (libuv allows one uv_poll per
 *   fd per loop): add() or watch() then fail with EEXIST.
 * - close() while watching unwatches first. A watching PollSet holds a strong
 *   reference on itself (never collected); once unwatched and unreachable its
 *   finalizer frees it. The env cleanup hook unwatches on worker/process exit.
 * - The per-fd polls are what keeps Node's loop alive (ref/unref apply to all of
 *   them); the check handle never does. Lookups are linear: this is the
 *   portable fallback, Epoll/Kqueue are the fast path; find() is by an
 *   fd-indexed table, so add/modify/remove cost the same at any size. */
#include "common.h"
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

typedef struct pwatch {
  uv_check_t check;
  jscb js;
  int scheduled;
} pwatch;

typedef struct pollset_obj pollset_obj;

typedef struct fdpoll {
  uv_poll_t poll;
  pollset_obj* owner;
  int fd;
} fdpoll;

struct pollset_obj {
  native_obj head;
  struct pollfd* fds;
  fdpoll** polls; /* polls[i] watches fds[i].fd while watching, else NULL */
  int n, cap;
  int* index;     /* index[fd] = i + 1 where fds[i].fd == fd, 0 when not registered */
  int index_cap;
  int32_t* seen;  /* (fd, events) pairs the uv_polls reported since the last take()/wait() */
  int nseen, seen_cap;
  /* watch()'s reports array while watching, else NULL: [0] pairs written since JS last
   * zeroed it, [1] pairs waiting in seen, then the pairs; cap = how many pairs it holds */
  int32_t* reports;
  int reports_cap;
  napi_ref reports_ref;
  int refed;
  int closed;
  pwatch* watch;
};

static int uv_events(int mask) {
  return ((mask & READABLE) ? UV_READABLE : 0) | ((mask & WRITABLE) ? UV_WRITABLE : 0);
}

static int poll_events(int mask) {
  return ((mask & READABLE) ? POLLIN : 0) | ((mask & WRITABLE) ? POLLOUT : 0);
}

static void free_handle(uv_handle_t* h) { free(h->data); }

static void on_check(uv_check_t* h) {
  pwatch* pw = h->data;
  uv_check_stop(h);
  pw->scheduled = 0;
  jscb_call(&pw->js);
}

/* Readiness as wait() reports it: an error (libuv stops the poll then) is both events;
 * libuv already turns a hangup into the registered ones. */
static int reported(int status, int events, int mask) {
  if (status < 0) return mask;
  return (((events & UV_READABLE) ? READABLE : 0) | ((events & UV_WRITABLE) ? WRITABLE : 0)) & mask;
}

static void on_fd(uv_poll_t* h, int status, int events) {
  fdpoll* p = h->data;
  pollset_obj* o = p->owner;
  int at = o->index[p->fd] - 1;
  int mask = ((o->fds[at].events & POLLIN) ? READABLE : 0) | ((o->fds[at].events & POLLOUT) ? WRITABLE : 0);
  int ev = reported(status, events, mask);
  /* libuv stops a poll that saw POLLERR; epoll and poll(2) go on reporting the error until
   * the fd is dealt with, and so must this (a reset peer's last bytes are still to be read). */
  if (status < 0) uv_poll_start(h, uv_events(mask), on_fd);
  /* Into the reports array while it has room and nothing overflowed (pairs stay in order). */
  if (ev != 0 && o->reports != NULL && o->nseen == 0 && (uint32_t)o->reports[0] < (uint32_t)o->reports_cap) {
    int32_t k = o->reports[0]++;
    o->reports[2 + 2 * k] = p->fd;
    o->reports[3 + 2 * k] = ev;
  } else if (ev != 0) {
    if (o->nseen == o->seen_cap) {
      int cap = o->seen_cap ? 2 * o->seen_cap : 64;
      int32_t* grown = realloc(o->seen, sizeof *grown * 2 * cap);
      if (grown == NULL) return; /* level-triggered: libuv reports it again next iteration */
      o->seen = grown;
      o->seen_cap = cap;
    }
    o->seen[2 * o->nseen] = p->fd;
    o->seen[2 * o->nseen + 1] = ev;
    o->nseen++;
    if (o->reports != NULL) o->reports[1] = o->nseen;
  }
  pwatch* pw = o->watch;
  if (!pw->scheduled) {
    pw->scheduled = 1;
    uv_check_start(&pw->check, on_check);
  }
}

static int fdpoll_open(pollset_obj* o, int i) {
  uv_loop_t* loop;
  napi_get_uv_event_loop(o->watch->js.env, &loop);
  fdpoll* p = calloc(1, sizeof *p);
  if (p == NULL) return -ENOMEM;
  int r = uv_poll_init(loop, &p->poll, o->fds[i].fd);
  if (r < 0) { free(p); return r; }
  p->poll.data = p;
  p->owner = o;
  p->fd = o->fds[i].fd;
  int mask = ((o->fds[i].events & POLLIN) ? READABLE : 0) | ((o->fds[i].events & POLLOUT) ? WRITABLE : 0);
  r = uv_poll_start(&p->poll, uv_events(mask), on_fd);
  if (r < 0) { uv_close((uv_handle_t*)&p->poll, free_handle); return r; }
  if (!o->refed) uv_unref((uv_handle_t*)&p->poll);
  o->polls[i] = p;
  return 0;
}

static void fdpoll_close(pollset_obj* o, int i) {
  if (o->polls[i] == NULL) return;
  uv_close((uv_handle_t*)&o->polls[i]->poll, free_handle);
  o->polls[i] = NULL;
}

/* Nothing reported is pending any more (wait() polled afresh, or watching ended). */
static void drop_reported(pollset_obj* o) {
  o->nseen = 0;
  if (o->reports != NULL) o->reports[0] = o->reports[1] = 0;
}

static void unwatch(pollset_obj* o) {
  drop_reported(o);
  if (o->watch == NULL) return;
  for (int i = 0; i < o->n; i++) fdpoll_close(o, i);
  if (o->reports_ref != NULL) napi_delete_reference(o->watch->js.env, o->reports_ref);
  o->reports = NULL;
  o->reports_ref = NULL;
  jscb_dispose(&o->watch->js);
  uv_close((uv_handle_t*)&o->watch->check, free_handle);
  o->watch = NULL;
}

static int find(pollset_obj* o, int fd) {
  return fd < o->index_cap ? o->index[fd] - 1 : -1;
}

/* Drop fd's pairs from n pairs at pairs; returns how many are left. */
static int32_t without_fd(int32_t* pairs, int32_t n, int fd) {
  int32_t k = 0;
  for (int32_t j = 0; j < n; j++) {
    if (pairs[2 * j] == fd) continue;
    pairs[2 * k] = pairs[2 * j];
    pairs[2 * k + 1] = pairs[2 * j + 1];
    k++;
  }
  return k;
}

/* Forget the pairs reported for fd: it is no longer watched, or no longer for them. */
static void forget_seen(pollset_obj* o, int fd) {
  o->nseen = without_fd(o->seen, o->nseen, fd);
  if (o->reports == NULL) return;
  int32_t written = o->reports[0];
  if ((uint32_t)written > (uint32_t)o->reports_cap) written = o->reports_cap;
  o->reports[0] = without_fd(o->reports + 2, written, fd);
  o->reports[1] = o->nseen;
}

static void remove_at(pollset_obj* o, int i) {
  fdpoll_close(o, i);
  forget_seen(o, o->fds[i].fd);
  o->index[o->fds[i].fd] = 0;
  o->n--;
  if (i != o->n) {
    o->fds[i] = o->fds[o->n];
    o->polls[i] = o->polls[o->n];
    o->index[o->fds[i].fd] = i + 1;
  }
}

static void drop_fd(native_obj* base, int fd) {
  pollset_obj* o = (pollset_obj*)base;
  int i = find(o, fd);
  if (i >= 0) remove_at(o, i);
}

static void teardown(native_obj* base) {
  pollset_obj* o = (pollset_obj*)base;
  unwatch(o);
  for (int i = 0; i < o->n; i++) o->index[o->fds[i].fd] = 0;
  o->n = 0;
  o->closed = 1;
}

static void finalize(napi_env env, void* data, void* hint) {
  pollset_obj* o = data;
  obj_unlink(&o->head);
  teardown(&o->head);
  free(o->fds);
  free(o->polls);
  free(o->index);
  free(o->seen);
  free(o);
}

static napi_value ctor(napi_env env, napi_callback_info info) {
  napi_value self;
  napi_get_cb_info(env, info, NULL, NULL, &self, NULL);
  pollset_obj* o = calloc(1, sizeof *o);
  if (o == NULL) { napi_throw_error(env, "ENOMEM", "out of memory"); return NULL; }
  o->refed = 1;
  o->head.teardown = teardown;
  o->head.drop_fd = drop_fd;
  obj_link(env, &o->head);
  napi_wrap(env, self, o, finalize, NULL, NULL);
  return self;
}

static pollset_obj* args(napi_env env, napi_callback_info info, int with_mask, int32_t* fd, int32_t* mask) {
  size_t argc = 2;
  napi_value argv[2];
  pollset_obj* o = unwrap_this(env, info, &argc, argv, NULL);
  if (o == NULL) return NULL;
  if (argc < 1 || arg_int32(env, argv[0], "fd", fd)) return NULL;
  if (*fd < 0) { throw_range(env, "fd must be >= 0"); return NULL; }
  if (with_mask) {
    if (argc < 2 || arg_int32(env, argv[1], "events", mask)) return NULL;
    if (*mask < 1 || *mask > (READABLE | WRITABLE)) {
      throw_range(env, "events must be READABLE, WRITABLE or both");
      return NULL;
    }
  }
  return o;
}

/* add(fd, events) -> 0, -EEXIST, or a uv_poll_init error while watching */
static napi_value add(napi_env env, napi_callback_info info) {
  int32_t fd, mask;
  pollset_obj* o = args(env, info, 1, &fd, &mask);
  if (o == NULL) return NULL;
  if (o->closed) return num(env, -EBADF);
  if (find(o, fd) >= 0) return num(env, -EEXIST);
  if (o->n == o->cap) {
    int cap = o->cap ? o->cap * 2 : 16;
    struct pollfd* f = realloc(o->fds, sizeof *f * cap);
    if (f) o->fds = f;
    fdpoll** p = realloc(o->polls, sizeof *p * cap);
    if (p) o->polls = p;
    if (!f || !p) return num(env, -ENOMEM);
    o->cap = cap;
  }
  if (fd >= o->index_cap) {
    int cap = o->index_cap ? o->index_cap : 64;
    while (cap <= fd) cap *= 2;
    int* grown = realloc(o->index, sizeof *grown * cap);
    if (grown == NULL) return num(env, -ENOMEM);
    memset(grown + o->index_cap, 0, sizeof *grown * (cap - o->index_cap));
    o->index = grown;
    o->index_cap = cap;
  }
  int i = o->n++;
  o->index[fd] = i + 1;
  o->fds[i].fd = fd;
  o->fds[i].events = (short)poll_events(mask);
  o->fds[i].revents = 0;
  o->polls[i] = NULL;
  if (o->watch) {
    int r = fdpoll_open(o, i);
    if (r < 0) { o->n--; o->index[fd] = 0; return num(env, r); }
  }
  return num(env, 0);
}

/* modify(fd, events) -> 0 or -ENOENT */
static napi_value modify(napi_env env, napi_callback_info info) {
  int32_t fd, mask;
  pollset_obj* o = args(env, info, 1, &fd, &mask);
  if (o == NULL) return NULL;
  if (o->closed) return num(env, -EBADF);
  int i = find(o, fd);
  if (i < 0) return num(env, -ENOENT);
  o->fds[i].events = (short)poll_events(mask);
  forget_seen(o, fd);
  if (o->polls[i]) return num(env, uv_poll_start(&o->polls[i]->poll, uv_events(mask), on_fd));
  return num(env, 0);
}

/* remove(fd) -> 0 or -ENOENT */
static napi_value del(napi_env env, napi_callback_info info) {
  int32_t fd, mask;
  pollset_obj* o = args(env, info, 0, &fd, &mask);
  if (o == NULL) return NULL;
  if (o->closed) return num(env, -EBADF);
  int i = find(o, fd);
  if (i < 0) return num(env, -ENOENT);
  remove_at(o, i);
  return num(env, 0);
}

/* wait(timeoutMs, out) -> pairs, as Epoll. POLLNVAL (an fd closed behind our
 * back) is reported as an error: readable and writable. */
static napi_value wait_(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  pollset_obj* o = unwrap_this(env, info, &argc, argv, NULL);
  if (o == NULL) return NULL;
  int32_t ms;
  int32_t* out;
  size_t cap;
  if (argc < 2 || arg_int32(env, argv[0], "timeout", &ms) ||
      arg_int32_array(env, argv[1], "out", &out, &cap)) return NULL;
  if (cap < 2) { throw_range(env, "out must hold at least one (fd, events) pair"); return NULL; }
  if (o->closed) return num(env, -EBADF);
  drop_reported(o); /* this poll supersedes what the uv_polls reported */
  int k = poll(o->fds, (nfds_t)o->n, ms < 0 ? -1 : ms);
  if (k < 0) return num(env, errno == EINTR ? 0 : -errno);
  int pairs = 0;
  for (int i = 0; i < o->n && k > 0 && (size_t)pairs < cap / 2; i++) {
    short re = o->fds[i].revents;
    if (re == 0) continue;
    k--;
    int ev = 0;
    if (re & (POLLIN | POLLERR | POLLHUP | POLLNVAL)) ev |= READABLE;
    if (re & (POLLOUT | POLLERR | POLLHUP | POLLNVAL)) ev |= WRITABLE;
    int mask = ((o->fds[i].events & POLLIN) ? READABLE : 0) | ((o->fds[i].events & POLLOUT) ? WRITABLE : 0);
    if ((ev & mask) == 0) continue;
    out[2 * pairs] = o->fds[i].fd;
    out[2 * pairs + 1] = ev & mask;
    pairs++;
  }
  return num(env, pairs);
}

/* take(out) -> the (fd, events) pairs the uv_polls reported since the last
 * take() or wait(), as many as out holds (the rest stay for the next take());
 * no syscall. Only while watching is there anything to take. */
static napi_value take(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  pollset_obj* o = unwrap_this(env, info, &argc, argv, NULL);
  if (o == NULL) return NULL;
  int32_t* out;
  size_t cap;
  if (argc < 1 || arg_int32_array(env, argv[0], "out", &out, &cap)) return NULL;
  int pairs = o->nseen < (int)(cap / 2) ? o->nseen : (int)(cap / 2);
  memcpy(out, o->seen, sizeof *out * 2 * pairs);
  memmove(o->seen, o->seen + 2 * pairs, sizeof *out * 2 * (o->nseen - pairs));
  o->nseen -= pairs;
  if (o->reports != NULL) o->reports[1] = o->nseen;
  return num(env, pairs);
}

/* watch(onReady[, reports]) -> 0 or -errno (EALREADY, EBADF, EEXIST from uv_poll_init).
 * reports, an Int32Array of length >= 4, receives what the uv_polls report while
 * watching: [0] how many pairs were written from [2] on (the caller zeroes it once it
 * has read them), [1] how many more wait for take() (they did not fit). It is held
 * until unwatch(); the caller must not transfer its buffer meanwhile. */
static napi_value watch(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], self;
  pollset_obj* o = unwrap_this(env, info, &argc, argv, &self);
  if (o == NULL) return NULL;
  napi_valuetype t = napi_undefined;
  if (argc > 0) napi_typeof(env, argv[0], &t);
  if (t != napi_function) { throw_type(env, "onReady must be a function"); return NULL; }
  int32_t* reports = NULL;
  size_t length = 0;
  napi_valuetype rt = napi_undefined;
  if (argc > 1) napi_typeof(env, argv[1], &rt);
  if (rt != napi_undefined) {
    if (arg_int32_array(env, argv[1], "reports", &reports, &length)) return NULL;
    if (length < 4) { throw_range(env, "reports must hold its two counts and at least one (fd, events) pair (length >= 4)"); return NULL; }
  }
  if (o->closed) return num(env, -EBADF);
  if (o->watch) return num(env, -EALREADY);
  uv_loop_t* loop;
  napi_get_uv_event_loop(env, &loop);
  pwatch* pw = calloc(1, sizeof *pw);
  if (pw == NULL) return num(env, -ENOMEM);
  uv_check_init(loop, &pw->check);
  pw->check.data = pw;
  uv_unref((uv_handle_t*)&pw->check);
  o->watch = pw;
  int r = jscb_init(&pw->js, env, self, argv[0], "loopkit.watch") ? -ENOMEM : 0;
  if (r == 0 && reports != NULL) {
    if (napi_create_reference(env, argv[1], 1, &o->reports_ref) != napi_ok) r = -ENOMEM;
    else {
      o->reports = reports;
      o->reports_cap = (int)((length - 2) / 2);
      o->reports[0] = o->reports[1] = 0;
    }
  }
  for (int i = 0; r == 0 && i < o->n; i++) r = fdpoll_open(o, i);
  if (r < 0) unwatch(o);
  return num(env, r);
}

static napi_value js_unwatch(napi_env env, napi_callback_info info) {
  pollset_obj* o = unwrap_this(env, info, NULL, NULL, NULL);
  if (o == NULL) return NULL;
  unwatch(o);
  return num(env, 0);
}

static napi_value set_ref(napi_env env, napi_callback_info info, int refed) {
  pollset_obj* o = unwrap_this(env, info, NULL, NULL, NULL);
  if (o == NULL) return NULL;
  o->refed = refed;
  for (int i = 0; i < o->n; i++) {
    if (o->polls[i] == NULL) continue;
    if (refed) uv_ref((uv_handle_t*)&o->polls[i]->poll);
    else uv_unref((uv_handle_t*)&o->polls[i]->poll);
  }
  return num(env, 0);
}

static napi_value ref(napi_env env, napi_callback_info info) { return set_ref(env, info, 1); }
static napi_value unref(napi_env env, napi_callback_info info) { return set_ref(env, info, 0); }

static napi_value js_close(napi_env env, napi_callback_info info) {
  pollset_obj* o = unwrap_this(env, info, NULL, NULL, NULL);
  if (o == NULL) return NULL;
  obj_unlink(&o->head);
  teardown(&o->head);
  return num(env, 0);
}

napi_value pollset_init(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
    METHOD("add", add), METHOD("modify", modify), METHOD("remove", del),
    METHOD("wait", wait_), METHOD("take", take), METHOD("watch", watch), METHOD("unwatch", js_unwatch),
    METHOD("ref", ref), METHOD("unref", unref), METHOD("close", js_close),
  };
  napi_value cls;
  napi_define_class(env, "PollSet", NAPI_AUTO_LENGTH, ctor, NULL,
                    sizeof methods / sizeof methods[0], methods, &cls);
  napi_set_named_property(env, exports, "PollSet", cls);
  return exports;
}
