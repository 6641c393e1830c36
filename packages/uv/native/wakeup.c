/* Wake-up descriptors: how another thread (or a signal handler's JS side)
 * interrupts a loop sleeping on its selector. The loop registers the read end
 * for READABLE; anyone holding the write end's number writes to it.
 *
 * Linux uses one eventfd (read end == write end); elsewhere a non-blocking
 * pipe. signal writes 8 bytes either way: an eventfd requires exactly a
 * uint64, and to a pipe they are just bytes. A full pipe or a saturated
 * counter means a wake-up is already pending, so EAGAIN is success.
 * write(2) and read(2) are async-signal- and thread-safe: signal() may run on
 * any thread, e.g. a worker_thread given only the number. */
#include "common.h"
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/eventfd.h>
#endif

/* wakeupOpen(out: Int32Array(2)) -> 0; out = [readFd, writeFd] */
static napi_value open_(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t* out;
  size_t n;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || arg_int32_array(env, argv[0], "out", &out, &n)) return NULL;
  if (n < 2) { throw_range(env, "out must hold 2 entries"); return NULL; }
#ifdef __linux__
  int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return num(env, -errno);
  fds_own(state_get(env), fd);
  out[0] = out[1] = fd;
#else
  int p[2];
  if (pipe(p) < 0) return num(env, -errno);
  for (int i = 0; i < 2; i++) {
    if (fcntl(p[i], F_SETFL, fcntl(p[i], F_GETFL) | O_NONBLOCK) < 0 ||
        fcntl(p[i], F_SETFD, FD_CLOEXEC) < 0) {
      int e = errno;
      close(p[0]);
      close(p[1]);
      return num(env, -e);
    }
  }
  fds_own(state_get(env), p[0]);
  fds_own(state_get(env), p[1]);
  out[0] = p[0];
  out[1] = p[1];
#endif
  return num(env, 0);
}

/* wakeupSignal(writeFd) -> 0 or -errno (EBADF if closed) */
static napi_value signal_(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || arg_int32(env, argv[0], "fd", &fd)) return NULL;
  uint64_t one = 1;
  ssize_t r;
  do r = write(fd, &one, sizeof one); while (r < 0 && errno == EINTR);
  return num(env, r < 0 && errno != EAGAIN ? -errno : 0);
}

/* wakeupDrain(readFd) -> 1 if a wake-up was pending, 0 if not, or -errno */
static napi_value drain_(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || arg_int32(env, argv[0], "fd", &fd)) return NULL;
  char buf[256];
  int got = 0;
  for (;;) {
    ssize_t r = read(fd, buf, sizeof buf);
    if (r > 0) { got = 1; continue; }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && errno != EAGAIN) return num(env, -errno);
    break;
  }
  return num(env, got);
}

napi_value wakeup_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    METHOD("wakeupOpen", open_), METHOD("wakeupSignal", signal_), METHOD("wakeupDrain", drain_),
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
