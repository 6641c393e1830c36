/* Shared declarations of the loopkit native addon.
 *
 * Conventions (why they exist):
 * - Syscall wrappers return a number: >= 0 on success, a negative errno on
 *   failure. Nothing throws on those paths, so a hot loop pays no exception cost.
 * - Only misuse (a wrong argument type, an out-of-range offset) throws, and the
 *   TypeScript layer validates first so these are a last line of defence that
 *   keeps memory safe when the native module is called directly.
 * - Every object that owns an fd or a uv handle is linked into its env's list so
 *   the env cleanup hook (worker exit, process exit) can close it while Node-API
 *   is still usable. */
#ifndef LOOPKIT_COMMON_H
#define LOOPKIT_COMMON_H

#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define READABLE 1
#define WRITABLE 2

/* Returned by helpers when they already threw a JS exception. */
#define THREW INT32_MIN

typedef struct env_state env_state;
typedef struct native_obj native_obj;

/* Head of every native object that owns OS or libuv resources. */
struct native_obj {
  native_obj* prev;
  native_obj* next;
  env_state* state;                       /* NULL once unlinked */
  void (*teardown)(native_obj* self);     /* close everything; Node-API usable */
  void (*drop_fd)(native_obj* self, int fd); /* forget fd before it is closed */
};

struct env_state {
  napi_env env;
  native_obj list; /* sentinel of a circular list */
};

env_state* state_get(napi_env env);
void obj_link(napi_env env, native_obj* o);
void obj_unlink(native_obj* o);
/* Called by the socket close() wrapper: every PollSet of this env forgets fd,
 * so no uv_poll outlives the descriptor it watches (see pollset.c). */
void state_drop_fd(napi_env env, int fd);

/* ---- descriptor ownership (fds.c): sockets and wake-up fds an env made or
 * adopted, closed by its cleanup hook if still open then. */
void fds_own(env_state* st, int fd);
void fds_forget(int fd);
int fds_close_env(env_state* st);

/* ---- argument helpers: return 0, or THREW with a TypeError/RangeError pending. */
int arg_int32(napi_env env, napi_value v, const char* name, int32_t* out);
int arg_bytes(napi_env env, napi_value v, const char* name, char** data, size_t* len);
/* (buf, offset, length) triple, bounds-checked; length is clamped to INT32_MAX so
 * results always fit an int32 (a syscall may transfer less anyway). */
int arg_span(napi_env env, napi_value* argv, char** data, size_t* len);
int arg_int32_array(napi_env env, napi_value v, const char* name, int32_t** data, size_t* count);
int is_undefined(napi_env env, napi_value v);
napi_value num(napi_env env, int64_t n);
napi_value undef(napi_env env);
int throw_type(napi_env env, const char* msg);
int throw_range(napi_env env, const char* msg);

/* ---- addresses (addr.c) */
/* port >= 0: host is a numeric IPv4/IPv6 address; port == -1: host is a Unix path.
 * Returns 0, a negative errno (EINVAL for an unparsable address) or THREW. */
int addr_parse(napi_env env, napi_value host, napi_value port,
               struct sockaddr_storage* ss, socklen_t* len);
/* Writes {address, family, port} or {path} onto out. */
void addr_fill(napi_env env, napi_value out, const struct sockaddr* sa, socklen_t len);

/* ---- a JS callback invoked from libuv callbacks (jscb.c) */
typedef struct jscb {
  napi_env env;
  napi_ref cb;             /* the onReady function */
  napi_ref self;           /* strong ref: a watching object is never collected */
  napi_async_context ctx;  /* async_hooks/AsyncLocalStorage context of watch() */
  int in_call;
  int dispose_pending;
} jscb;
int jscb_init(jscb* j, napi_env env, napi_value self, napi_value fn, const char* name);
void jscb_call(jscb* j);
/* Releases the Node-API references; deferred until jscb_call returns if the
 * callback itself is what asked for it (unwatch() from inside onReady). */
void jscb_dispose(jscb* j);

/* ---- a uv_poll on one fd calling a jscb (watch.c), used by Epoll and Kqueue */
typedef struct fdwatch fdwatch;
int fdwatch_start(napi_env env, napi_value self, napi_value fn, int fd, int refed,
                  const char* name, fdwatch** out);
void fdwatch_stop(fdwatch* w);
void fdwatch_set_ref(fdwatch* w, int refed);

/* Epoll and Kqueue: an fd that itself polls readable when something is ready.
 * They share watch/unwatch/ref/unref/close (watch.c); selobj must come first in
 * their structs. */
typedef struct selobj {
  native_obj head;
  int fd;          /* the epoll/kqueue descriptor, -1 once closed */
  int refed;       /* whether the watcher keeps Node's loop alive */
  fdwatch* watch;  /* non-NULL while watching */
} selobj;
void selobj_setup(napi_env env, napi_value self, selobj* o, int fd_or_errno,
                  napi_finalize fin);
void selobj_teardown(native_obj* o);
napi_value selobj_watch(napi_env env, napi_callback_info info);
napi_value selobj_unwatch(napi_env env, napi_callback_info info);
napi_value selobj_ref(napi_env env, napi_callback_info info);
napi_value selobj_unref(napi_env env, napi_callback_info info);
napi_value selobj_close(napi_env env, napi_callback_info info);
/* Export class `name` with the selector methods: the kernel-specific four, the shared rest. */
napi_value selobj_define(napi_env env, napi_value exports, const char* name, napi_callback ctor,
                         napi_callback add, napi_callback modify, napi_callback del,
                         napi_callback wait);

/* ---- module parts */
napi_value sock_init(napi_env env, napi_value exports);
napi_value epoll_init(napi_env env, napi_value exports);
napi_value kqueue_init(napi_env env, napi_value exports);
napi_value pollset_init(napi_env env, napi_value exports);
napi_value wakeup_init(napi_env env, napi_value exports);
napi_value uring_init(napi_env env, napi_value exports);
napi_value spawn_init(napi_env env, napi_value exports);
napi_value constants_init(napi_env env, napi_value exports);
napi_value tls_init(napi_env env, napi_value exports); /* tls.c: TLSEngine, TLSContext, CertStore */
napi_value memory_init(napi_env env, napi_value exports); /* memory.c: keepFreedMemory */
/* Keep freed heap memory in the process (memory.c says why); true when the setting is ours. */
int keep_freed_memory(void);

/* napi_define_class boilerplate shared by Epoll, Kqueue and PollSet. */
#define METHOD(name, fn) { name, NULL, fn, NULL, NULL, NULL, napi_default_method, NULL }
void* unwrap_this(napi_env env, napi_callback_info info, size_t* argc, napi_value* argv,
                  napi_value* self);

#endif
