/* One uv_poll on one fd in Node's own loop, calling onReady once per wake-up.
 * Epoll and Kqueue arm it on their own descriptor: when any registered fd is
 * ready, the epoll/kqueue fd polls readable, Node's loop wakes, and JS harvests
 * every ready fd with one wait(0) call.
 *
 * Lifecycle (libuv rules):
 * - the fdwatch is its own allocation, so its owner may be freed at any time;
 *   only the uv close callback frees it;
 * - fdwatch_stop() releases the JS references and calls uv_close(), which stops
 *   polling at once: the owner may close the watched fd right after it returns;
 * - no callback runs after fdwatch_stop(), even when called from onReady. */
#include "common.h"
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

struct fdwatch {
  uv_poll_t poll;
  jscb js;
};

static void on_poll(uv_poll_t* h, int status, int events) {
  /* status < 0 (e.g. EBADF) still wakes JS: its wait() will see the error. */
  jscb_call(&((fdwatch*)h->data)->js);
}

static void on_close(uv_handle_t* h) { free(h->data); }

int fdwatch_start(napi_env env, napi_value self, napi_value fn, int fd, int refed,
                  const char* name, fdwatch** out) {
  uv_loop_t* loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return UV_EINVAL;
  fdwatch* w = calloc(1, sizeof *w);
  if (w == NULL) return UV_ENOMEM;
  int r = uv_poll_init(loop, &w->poll, fd);
  if (r < 0) { free(w); return r; }
  w->poll.data = w;
  if (jscb_init(&w->js, env, self, fn, name) != 0) {
    uv_close((uv_handle_t*)&w->poll, on_close);
    return UV_ENOMEM;
  }
  r = uv_poll_start(&w->poll, UV_READABLE, on_poll);
  if (r < 0) { fdwatch_stop(w); return r; }
  if (!refed) uv_unref((uv_handle_t*)&w->poll);
  *out = w;
  return 0;
}

void fdwatch_stop(fdwatch* w) {
  jscb_dispose(&w->js);
  uv_close((uv_handle_t*)&w->poll, on_close);
}

void fdwatch_set_ref(fdwatch* w, int refed) {
  if (refed) uv_ref((uv_handle_t*)&w->poll);
  else uv_unref((uv_handle_t*)&w->poll);
}

/* ---- methods shared by Epoll and Kqueue
 *
 * Lifecycle of a selector object (Epoll, Kqueue):
 * - close() while watching: the watcher is stopped (uv_close) before the
 *   descriptor is closed, so libuv never polls a closed fd. Registered sockets
 *   are not touched. close() is idempotent.
 * - While watching, the watcher holds a strong reference on the JS object (an
 *   active handle is never collected, as in libuv). Once unwatched and
 *   unreachable, the object is garbage-collected and its finalizer closes the
 *   descriptor.
 * - Worker exit / process teardown: the env cleanup hook tears down every live
 *   object (addon.c), so no uv handle stays open in a dying loop.
 * - Closing a registered socket's fd is fine: the kernel drops it from the
 *   epoll/kqueue interest list (epoll: once no dup() of it remains open). */

void selobj_teardown(native_obj* base) {
  selobj* o = (selobj*)base;
  if (o->watch) {
    fdwatch_stop(o->watch);
    o->watch = NULL;
  }
  if (o->fd >= 0) {
    close(o->fd);
    o->fd = -1;
  }
}

void selobj_setup(napi_env env, napi_value self, selobj* o, int fd_or_errno, napi_finalize fin) {
  o->fd = fd_or_errno >= 0 ? fd_or_errno : -1;
  o->refed = 1;
  o->head.teardown = selobj_teardown;
  obj_link(env, &o->head);
  napi_set_named_property(env, self, "fd", num(env, fd_or_errno));
  napi_wrap(env, self, o, fin, NULL, NULL);
}

/* watch(onReady) -> 0 or -errno; -EALREADY when already watching, -EBADF if closed */
napi_value selobj_watch(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], self;
  selobj* o = unwrap_this(env, info, &argc, argv, &self);
  if (o == NULL) return NULL;
  napi_valuetype t = napi_undefined;
  if (argc > 0) napi_typeof(env, argv[0], &t);
  if (t != napi_function) { throw_type(env, "onReady must be a function"); return NULL; }
  if (o->fd < 0) return num(env, -EBADF);
  if (o->watch) return num(env, -EALREADY);
  return num(env, fdwatch_start(env, self, argv[0], o->fd, o->refed, "loopkit.watch", &o->watch));
}

napi_value selobj_unwatch(napi_env env, napi_callback_info info) {
  selobj* o = unwrap_this(env, info, NULL, NULL, NULL);
  if (o == NULL) return NULL;
  if (o->watch) {
    fdwatch_stop(o->watch);
    o->watch = NULL;
  }
  return num(env, 0);
}

static napi_value set_ref(napi_env env, napi_callback_info info, int refed) {
  selobj* o = unwrap_this(env, info, NULL, NULL, NULL);
  if (o == NULL) return NULL;
  o->refed = refed;
  if (o->watch) fdwatch_set_ref(o->watch, refed);
  return num(env, 0);
}

napi_value selobj_ref(napi_env env, napi_callback_info info) { return set_ref(env, info, 1); }
napi_value selobj_unref(napi_env env, napi_callback_info info) { return set_ref(env, info, 0); }

napi_value selobj_close(napi_env env, napi_callback_info info) {
  selobj* o = unwrap_this(env, info, NULL, NULL, NULL);
  if (o == NULL) return NULL;
  obj_unlink(&o->head);
  selobj_teardown(&o->head);
  return num(env, 0);
}

napi_value selobj_define(napi_env env, napi_value exports, const char* name, napi_callback ctor,
                         napi_callback add, napi_callback modify, napi_callback del,
                         napi_callback wait) {
  napi_property_descriptor methods[] = {
    METHOD("add", add), METHOD("modify", modify), METHOD("remove", del),
    METHOD("wait", wait), METHOD("watch", selobj_watch), METHOD("unwatch", selobj_unwatch),
    METHOD("ref", selobj_ref), METHOD("unref", selobj_unref), METHOD("close", selobj_close),
  };
  napi_value cls;
  napi_define_class(env, name, NAPI_AUTO_LENGTH, ctor, NULL,
                    sizeof methods / sizeof methods[0], methods, &cls);
  napi_set_named_property(env, exports, name, cls);
  return exports;
}
