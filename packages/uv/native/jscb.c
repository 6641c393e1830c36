/* Calling JS from libuv callbacks.
 *
 * A libuv callback runs outside any JS frame, so the call goes through
 * napi_make_callback with the async context captured by watch(): that opens a
 * callback scope, which (a) drains the microtask queue and nextTick queue after
 * onReady returns, exactly as Node does after its own I/O callbacks, and (b)
 * restores the AsyncLocalStorage context of the watch() caller. The receiver is
 * the function itself: an undefined receiver makes napi_make_callback fail
 * silently, and the global object costs a lookup per call. An exception thrown
 * by onReady is not swallowed: it is raised as an uncaught exception
 * ('uncaughtException' or process exit), like any Node callback. */
#include "common.h"
#include <string.h>

int jscb_init(jscb* j, napi_env env, napi_value self, napi_value fn, const char* name) {
  napi_value res_name;
  memset(j, 0, sizeof *j);
  j->env = env;
  if (napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &res_name) != napi_ok ||
      napi_create_reference(env, fn, 1, &j->cb) != napi_ok ||
      napi_create_reference(env, self, 1, &j->self) != napi_ok ||
      napi_async_init(env, self, res_name, &j->ctx) != napi_ok) {
    jscb_dispose(j);
    return -1;
  }
  return 0;
}

static void dispose_now(jscb* j) {
  if (j->cb) napi_delete_reference(j->env, j->cb);
  if (j->self) napi_delete_reference(j->env, j->self);
  if (j->ctx) napi_async_destroy(j->env, j->ctx);
  j->cb = NULL;
  j->self = NULL;
  j->ctx = NULL;
  j->dispose_pending = 0;
}

/* The async context must outlive the napi_make_callback that uses it, so a
 * dispose requested from inside onReady waits until the call has returned. The
 * memory holding j is freed by a uv close callback, which libuv runs only after
 * the current callback has returned, so j is still valid then. */
void jscb_dispose(jscb* j) {
  if (j->in_call) j->dispose_pending = 1;
  else dispose_now(j);
}

void jscb_call(jscb* j) {
  napi_env env = j->env;
  napi_handle_scope hs;
  napi_value fn, result;
  if (j->cb == NULL || j->dispose_pending) return;
  if (napi_open_handle_scope(env, &hs) != napi_ok) return;
  napi_get_reference_value(env, j->cb, &fn);
  j->in_call++;
  napi_make_callback(env, j->ctx, fn, fn, 0, NULL, &result);
  j->in_call--;
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);
  }
  if (j->in_call == 0 && j->dispose_pending) dispose_now(j);
  napi_close_handle_scope(env, hs);
}
