/* Module entry point, per-env state and argument helpers.
 *
 * The module is context-aware (NAPI_MODULE_INIT): each worker_thread gets its own
 * env_state, because each worker has its own libuv loop and its own objects. */
#define _GNU_SOURCE 1 /* dladdr */
#include "common.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

/* ---- per-env state and object tracking */

/* Env cleanup hook: runs on worker exit and at process teardown, before
 * Node-API's own teardown (hooks run in reverse order of registration and
 * Node-API registered its hook before our init ran). Closing uv handles here
 * lets Node's final loop spin run their close callbacks, so a worker never
 * exits with one of our handles open. Objects stay allocated: their wrap
 * finalizers still run later and free them.
 * Then the descriptors the env still owns (fds.c: sockets and wake-up fds not
 * closed or detached from JS) are closed: a worker's FinalizationRegistry
 * never runs once it exits, so nothing else would close them. */
static void state_cleanup(void* arg) {
  env_state* st = arg;
  while (st->list.next != &st->list) {
    native_obj* o = st->list.next;
    obj_unlink(o);
    o->teardown(o);
  }
  fds_close_env(st);
  napi_set_instance_data(st->env, NULL, NULL, NULL);
  free(st);
}

env_state* state_get(napi_env env) {
  void* data = NULL;
  napi_get_instance_data(env, &data);
  return data;
}

void obj_link(napi_env env, native_obj* o) {
  env_state* st = state_get(env);
  o->state = st;
  if (st == NULL) { o->prev = o->next = o; return; }
  o->next = st->list.next;
  o->prev = &st->list;
  st->list.next->prev = o;
  st->list.next = o;
}

void obj_unlink(native_obj* o) {
  if (o->state == NULL) return;
  o->prev->next = o->next;
  o->next->prev = o->prev;
  o->prev = o->next = o;
  o->state = NULL;
}

void state_drop_fd(napi_env env, int fd) {
  env_state* st = state_get(env);
  if (st == NULL) return;
  for (native_obj* o = st->list.next; o != &st->list; o = o->next)
    if (o->drop_fd) o->drop_fd(o, fd);
}

/* ---- small value helpers */

napi_value num(napi_env env, int64_t n) {
  napi_value v;
  if (n >= INT32_MIN && n <= INT32_MAX) napi_create_int32(env, (int32_t)n, &v);
  else napi_create_double(env, (double)n, &v);
  return v;
}

napi_value undef(napi_env env) {
  napi_value v;
  napi_get_undefined(env, &v);
  return v;
}

int is_undefined(napi_env env, napi_value v) {
  napi_valuetype t;
  if (v == NULL) return 1;
  napi_typeof(env, v, &t);
  return t == napi_undefined;
}

int throw_type(napi_env env, const char* msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return THREW;
}

int throw_range(napi_env env, const char* msg) {
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
  return THREW;
}

int arg_int32(napi_env env, napi_value v, const char* name, int32_t* out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || d != (double)(int32_t)d) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s must be an integer", name);
    return throw_type(env, msg);
  }
  *out = (int32_t)d;
  return 0;
}

int arg_bytes(napi_env env, napi_value v, const char* name, char** data, size_t* len) {
  /* Any ArrayBufferView (a Buffer, every TypedArray, a DataView): its bytes in one call, where
   * napi_get_typedarray_info also walks V8's list of element types (~half the instructions of
   * a recv or send call's argument checks). The calls below name what it refused. */
  void* bytes;
  if (napi_get_buffer_info(env, v, &bytes, len) == napi_ok) {
    *data = bytes;
    return 0;
  }
  /* An ArrayBuffer's bytes come without the lookup of a view's buffer: napi_get_arraybuffer_info
   * ~70 instructions where napi_get_buffer_info takes ~230 (a recv ~115 less, counted). A read
   * path that reads many times into one buffer (the receive slab) passes its ArrayBuffer. */
  if (napi_get_arraybuffer_info(env, v, &bytes, len) == napi_ok) {
    *data = bytes;
    return 0;
  }
  bool yes = false;
  if (napi_is_typedarray(env, v, &yes) == napi_ok && yes) {
    napi_typedarray_type type;
    size_t n;
    void* p;
    napi_get_typedarray_info(env, v, &type, &n, &p, NULL, NULL);
    size_t width = 1;
    switch (type) {
      case napi_int16_array: case napi_uint16_array: width = 2; break;
      case napi_int32_array: case napi_uint32_array: case napi_float32_array: width = 4; break;
      case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: width = 8; break;
      default: break;
    }
    *data = p;
    *len = n * width;
    return 0;
  }
  if (napi_is_dataview(env, v, &yes) == napi_ok && yes) {
    void* p;
    napi_get_dataview_info(env, v, len, &p, NULL, NULL);
    *data = p;
    return 0;
  }
  char msg[96];
  snprintf(msg, sizeof msg, "%s must be a Buffer, TypedArray, DataView or ArrayBuffer", name);
  return throw_type(env, msg);
}

int arg_span(napi_env env, napi_value* argv, char** data, size_t* len) {
  int32_t off, n;
  if (arg_bytes(env, argv[0], "buf", data, len)) return THREW;
  if (arg_int32(env, argv[1], "offset", &off) || arg_int32(env, argv[2], "length", &n))
    return THREW;
  if (off < 0 || n < 0 || (size_t)off + (size_t)n > *len)
    return throw_range(env, "offset and length must lie within buf");
  *data += off;
  *len = (size_t)n;
  return 0;
}

int arg_int32_array(napi_env env, napi_value v, const char* name, int32_t** data, size_t* count) {
  bool yes = false;
  napi_typedarray_type type;
  if (napi_is_typedarray(env, v, &yes) == napi_ok && yes) {
    napi_get_typedarray_info(env, v, &type, count, (void**)data, NULL, NULL);
    if (type == napi_int32_array) return 0;
  }
  char msg[96];
  snprintf(msg, sizeof msg, "%s must be an Int32Array", name);
  return throw_type(env, msg);
}

void* unwrap_this(napi_env env, napi_callback_info info, size_t* argc, napi_value* argv,
                  napi_value* self) {
  napi_value me;
  void* p = NULL;
  size_t zero = 0;
  napi_get_cb_info(env, info, argc ? argc : &zero, argv, &me, NULL);
  if (napi_unwrap(env, me, &p) != napi_ok || p == NULL) {
    throw_type(env, "method called on an incompatible receiver");
    return NULL;
  }
  if (self) *self = me;
  return p;
}

/* ---- init */

/* The shared library stays mapped for the life of the process.
 *
 * When only worker_threads load the addon, Node dlclose()s it as the last such
 * worker's env goes away, but code of ours still has to run after that: the
 * close callbacks of the uv handles the cleanup hook closed (libuv runs them in
 * the env's final loop spin), wrap finalizers, napi_async_destroy. Calling into
 * an unmapped library is a segfault of the whole process. Making every one of
 * those run before the dlclose would need Node's teardown order to stay what it
 * is today (hook order, when finalizers run, whether the loop spins after the
 * hooks); pinning does not depend on any of it. So the first init re-opens our
 * own file (found with dladdr on one of our functions) with RTLD_NODELETE,
 * which makes every later dlclose() of it a no-op; the handle is never closed.
 * Cost: the library stays mapped after its last user is gone (a few dozen KB),
 * as it does anyway once the main thread has loaded it. */
static pthread_once_t pin_once = PTHREAD_ONCE_INIT;
static const char* pin_error;

static void pin_library(void) {
  Dl_info info;
  if (dladdr((void*)&state_get, &info) == 0 || info.dli_fname == NULL) {
    pin_error = "loopkit_native: dladdr cannot find the addon's own file";
    return;
  }
  if (dlopen(info.dli_fname, RTLD_NOW | RTLD_NODELETE) == NULL)
    pin_error = "loopkit_native: dlopen(RTLD_NODELETE) of the addon failed";
}

NAPI_MODULE_INIT() {
  pthread_once(&pin_once, pin_library);
  if (pin_error != NULL) {
    /* Refuse to load rather than crash the process at a worker's exit. */
    napi_throw_error(env, "ERR_DLOPEN_FAILED", pin_error);
    return NULL;
  }
  env_state* st = calloc(1, sizeof *st);
  if (st == NULL) {
    napi_throw_error(env, "ENOMEM", "loopkit_native: out of memory");
    return NULL;
  }
  st->env = env;
  st->list.prev = st->list.next = &st->list;
  napi_set_instance_data(env, st, NULL, NULL);
  napi_add_env_cleanup_hook(env, state_cleanup, st);
  constants_init(env, exports);
  sock_init(env, exports);
  epoll_init(env, exports);
  kqueue_init(env, exports);
  pollset_init(env, exports);
  wakeup_init(env, exports);
  uring_init(env, exports);
  tls_init(env, exports);
  spawn_init(env, exports);
  memory_init(env, exports);
  return exports;
}
