/* Child processes for the selector loop: start one with its pipes, open a
 * pidfd to learn of its exit without polling, reap it, and move bytes through
 * its pipes (read/write: recv/send refuse a pipe with ENOTSOCK).
 *
 * Lifecycle rules (why the code below is shaped as it is):
 * - The child's pipe ends are made with pipe2(O_CLOEXEC) and only the
 *   parent's end is then made O_NONBLOCK: the flag belongs to the open file
 *   description, and a child handed a non-blocking stdin/stdout would see
 *   EAGAIN where it expects to block. CLOEXEC on every end we make means no
 *   other child spawned meanwhile (by any thread) inherits one: the dup2 of the
 *   file actions is what gives this child its copy, and that copy has no
 *   CLOEXEC. The child's ends are closed in the parent right after the spawn,
 *   success or not, so EOF reaches the parent when the child exits.
 * - The parent's ends and a pidfd are owned by the env (fds_own), so a worker
 *   that exits with them open has them closed by the cleanup hook (fds.c);
 *   close() from JS (sock.c's close) forgets them first.
 * - posix_spawn (glibc: clone(CLONE_VM|CLONE_VFORK) + exec) reports an exec
 *   failure (ENOENT, EACCES, a missing cwd) as its own return value, after the
 *   child has exited: no error pipe is needed and no child is left to reap.
 * - Node ignores SIGPIPE and may block signals on its threads; an exec keeps
 *   ignored dispositions and the mask, so the child gets every signal reset to
 *   its default and an empty mask (as libuv's uv_spawn and Python's
 *   restore_signals do). A `cat` whose reader went away must die of SIGPIPE.
 * - Reaping is ours alone: waitpid(pid) for that pid only, never -1, so the
 *   children of Node's own child_process (reaped by libuv, also by pid) are
 *   never taken from it, and ours never from us. */
#define _GNU_SOURCE 1
#include "common.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

#define ARGS(n)                                      \
  size_t argc = n;                                   \
  napi_value argv[n];                                \
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL); \
  for (size_t i_ = argc; i_ < n; i_++) argv[i_] = undef(env)

/* stdio codes for spawn's `stdio` argument, beside fd numbers >= 0 */
#define STDIO_PIPE (-1)
#define STDIO_STDOUT (-2) /* stderr only: the same file as the child's stdout */
#define STDIO_DEVNULL (-3)
#define STDIO_INHERIT (-4)

#define MAX_IOV 1024

/* A JS array of strings as a NULL-terminated, malloc'ed char* array; NULL
 * with a TypeError pending when it is not one. */
static char** string_array(napi_env env, napi_value arr, const char* name) {
  bool is_arr = false;
  uint32_t n = 0;
  char msg[96];
  snprintf(msg, sizeof msg, "%s must be an array of strings", name);
  if (napi_is_array(env, arr, &is_arr) != napi_ok || !is_arr) { throw_type(env, msg); return NULL; }
  napi_get_array_length(env, arr, &n);
  char** out = calloc((size_t)n + 1, sizeof *out);
  if (out == NULL) { napi_throw_error(env, "ENOMEM", "out of memory"); return NULL; }
  for (uint32_t i = 0; i < n; i++) {
    napi_value el;
    size_t len = 0;
    napi_get_element(env, arr, i, &el);
    if (napi_get_value_string_utf8(env, el, NULL, 0, &len) != napi_ok) {
      for (uint32_t j = 0; j < i; j++) free(out[j]);
      free(out);
      throw_type(env, msg);
      return NULL;
    }
    out[i] = malloc(len + 1);
    if (out[i] == NULL) {
      for (uint32_t j = 0; j < i; j++) free(out[j]);
      free(out);
      napi_throw_error(env, "ENOMEM", "out of memory");
      return NULL;
    }
    napi_get_value_string_utf8(env, el, out[i], len + 1, &len);
  }
  return out;
}

static void free_strings(char** a) {
  if (a == NULL) return;
  for (char** p = a; *p != NULL; p++) free(*p);
  free(a);
}

static char* string_arg(napi_env env, napi_value v, const char* name) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s must be a string", name);
    throw_type(env, msg);
    return NULL;
  }
  char* s = malloc(len + 1);
  if (s == NULL) { napi_throw_error(env, "ENOMEM", "out of memory"); return NULL; }
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  return s;
}

/* spawn(file, argv[], envp[] | null, cwd | null, stdio: Int32Array(3), out: Int32Array(3))
 *   -> pid, or -errno (nothing is left open or running then).
 * stdio[i]: STDIO_* or an fd the child gets as fd i. out[i]: the parent's end
 * of pipe i (stdin: write end; stdout/stderr: read end), -1 when not a pipe. */
static napi_value js_spawn(napi_env env, napi_callback_info info) {
  ARGS(6);
  int32_t *stdio, *out;
  size_t n_stdio, n_out;
  if (arg_int32_array(env, argv[4], "stdio", &stdio, &n_stdio) ||
      arg_int32_array(env, argv[5], "out", &out, &n_out))
    return NULL;
  if (n_stdio < 3 || n_out < 3) { throw_range(env, "stdio and out must hold 3 entries"); return NULL; }
  char* file = string_arg(env, argv[0], "file");
  if (file == NULL) return NULL;
  char** args = string_array(env, argv[1], "argv");
  char** envp = NULL;
  char* cwd = NULL;
  napi_value result = NULL;
  if (args == NULL) goto done;
  if (!is_undefined(env, argv[2])) {
    napi_valuetype t;
    napi_typeof(env, argv[2], &t);
    if (t != napi_null && (envp = string_array(env, argv[2], "envp")) == NULL) goto done;
  }
  if (!is_undefined(env, argv[3])) {
    napi_valuetype t;
    napi_typeof(env, argv[3], &t);
    if (t != napi_null && (cwd = string_arg(env, argv[3], "cwd")) == NULL) goto done;
  }

  int parent[3] = {-1, -1, -1}, child[3] = {-1, -1, -1};
  int err = 0;
  for (int i = 0; i < 3 && err == 0; i++) {
    if (stdio[i] != STDIO_PIPE) continue;
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) { err = errno; break; }
    /* stdin: the child reads p[0]; stdout/stderr: the child writes p[1] */
    parent[i] = i == 0 ? p[1] : p[0];
    child[i] = i == 0 ? p[0] : p[1];
    int fl = fcntl(parent[i], F_GETFL);
    if (fl < 0 || fcntl(parent[i], F_SETFL, fl | O_NONBLOCK) < 0) err = errno;
  }

  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  int have_fa = 0, have_attr = 0;
  pid_t pid = -1;
  if (err == 0) err = posix_spawn_file_actions_init(&fa);
  if (err == 0) have_fa = 1;
  if (err == 0) err = posix_spawnattr_init(&attr);
  if (err == 0) have_attr = 1;
  if (err == 0) {
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    err = posix_spawnattr_setsigdefault(&attr, &all);
    if (err == 0) err = posix_spawnattr_setsigmask(&attr, &none);
    if (err == 0) err = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  }
  for (int i = 0; i < 3 && err == 0; i++) {
    int s = stdio[i];
    if (s == STDIO_PIPE) err = posix_spawn_file_actions_adddup2(&fa, child[i], i);
    else if (s == STDIO_DEVNULL) err = posix_spawn_file_actions_addopen(&fa, i, "/dev/null", i == 0 ? O_RDONLY : O_WRONLY, 0);
    else if (s == STDIO_STDOUT) err = i == 2 ? posix_spawn_file_actions_adddup2(&fa, 1, 2) : EINVAL;
    else if (s >= 0) err = posix_spawn_file_actions_adddup2(&fa, s, i);
    else if (s != STDIO_INHERIT) err = EINVAL;
  }
#if defined(__GLIBC__) || defined(__APPLE__)
  if (err == 0 && cwd != NULL) err = posix_spawn_file_actions_addchdir_np(&fa, cwd);
#else
  if (err == 0 && cwd != NULL) err = ENOSYS;
#endif
  if (err == 0) err = posix_spawnp(&pid, file, &fa, &attr, args, envp != NULL ? envp : environ);
  if (have_fa) posix_spawn_file_actions_destroy(&fa);
  if (have_attr) posix_spawnattr_destroy(&attr);
  for (int i = 0; i < 3; i++) {
    if (child[i] >= 0) close(child[i]);
    if (err != 0 && parent[i] >= 0) close(parent[i]);
    out[i] = err == 0 ? parent[i] : -1;
    if (err == 0 && parent[i] >= 0) fds_own(state_get(env), parent[i]);
  }
  result = num(env, err == 0 ? pid : -err);
done:
  free(file);
  free_strings(args);
  free_strings(envp);
  free(cwd);
  return result;
}

/* pidfdOpen(pid) -> a close-on-exec fd that polls readable once the child has
 * exited, or -errno (ENOSYS: no pidfds here, use SIGCHLD). */
static napi_value js_pidfd_open(napi_env env, napi_callback_info info) {
  ARGS(1);
  int32_t pid;
  if (arg_int32(env, argv[0], "pid", &pid)) return NULL;
#ifdef SYS_pidfd_open
  long fd = syscall(SYS_pidfd_open, (pid_t)pid, 0);
  if (fd < 0) return num(env, -errno);
  fds_own(state_get(env), (int)fd);
  return num(env, fd);
#else
  return num(env, -ENOSYS);
#endif
}

/* reap(pid, block, out: Int32Array(1)) -> 1 (reaped; out[0] = exit code, or
 * minus the signal that killed it), 0 (still running; only when !block), or
 * -errno (ECHILD: not our child, or already reaped). */
static napi_value js_reap(napi_env env, napi_callback_info info) {
  ARGS(3);
  int32_t pid, block;
  int32_t* out;
  size_t n;
  if (arg_int32(env, argv[0], "pid", &pid) || arg_int32(env, argv[1], "block", &block) ||
      arg_int32_array(env, argv[2], "out", &out, &n))
    return NULL;
  if (n < 1 || pid <= 0) { throw_range(env, "pid must be > 0 and out hold 1 entry"); return NULL; }
  int status = 0;
  pid_t r;
  do r = waitpid((pid_t)pid, &status, block ? 0 : WNOHANG); while (r < 0 && errno == EINTR);
  if (r < 0) return num(env, -errno);
  if (r == 0) return num(env, 0);
  if (WIFEXITED(status)) out[0] = WEXITSTATUS(status);
  else if (WIFSIGNALED(status)) out[0] = -WTERMSIG(status);
  else return num(env, 0); /* stopped or continued: not an exit (WUNTRACED is not asked) */
  return num(env, 1);
}

/* read(fd, buf, offset, length) -> bytes (0 = EOF) or -errno */
static napi_value js_read(napi_env env, napi_callback_info info) {
  ARGS(4);
  int32_t fd;
  char* p;
  size_t n;
  if (arg_int32(env, argv[0], "fd", &fd) || arg_span(env, argv + 1, &p, &n)) return NULL;
  ssize_t r;
  do r = read(fd, p, n); while (r < 0 && errno == EINTR);
  return num(env, r < 0 ? -errno : r);
}

/* write(fd, buf: ArrayBufferView) -> bytes written or -errno: writev's one-buffer case
 * without the array (reading an array's element through N-API costs more than the rest of
 * the call: NetProactor's echo writes one buffer per reply). */
static napi_value js_write(napi_env env, napi_callback_info info) {
  ARGS(2);
  int32_t fd;
  char* p;
  size_t n;
  if (arg_int32(env, argv[0], "fd", &fd) || arg_bytes(env, argv[1], "buf", &p, &n)) return NULL;
  if (n > INT32_MAX) n = INT32_MAX;
  ssize_t r;
  do r = write(fd, p, n); while (r < 0 && errno == EINTR);
  return num(env, r < 0 ? -errno : r);
}

/* writev(fd, bufs: ArrayBufferView[]) -> bytes written or -errno (EPIPE when the
 * reader is gone: SIGPIPE is ignored by Node, so it never kills us). At most
 * MAX_IOV buffers go per call; the caller writes the rest on writability. */
static napi_value js_writev(napi_env env, napi_callback_info info) {
  ARGS(2);
  int32_t fd;
  bool is_arr = false;
  uint32_t count = 0;
  if (arg_int32(env, argv[0], "fd", &fd)) return NULL;
  if (napi_is_array(env, argv[1], &is_arr) != napi_ok || !is_arr) {
    throw_type(env, "bufs must be an array of Buffers");
    return NULL;
  }
  napi_get_array_length(env, argv[1], &count);
  struct iovec iov[MAX_IOV];
  size_t total = 0;
  int k = 0;
  for (uint32_t i = 0; i < count && k < MAX_IOV && total < INT32_MAX; i++) {
    napi_value el;
    char* p;
    size_t n;
    napi_get_element(env, argv[1], i, &el);
    if (arg_bytes(env, el, "bufs[i]", &p, &n)) return NULL;
    if (n == 0) continue;
    if (total + n > INT32_MAX) n = INT32_MAX - total;
    iov[k].iov_base = p;
    iov[k].iov_len = n;
    k++;
    total += n;
  }
  if (k == 0) return num(env, 0);
  ssize_t r;
  do r = writev(fd, iov, k); while (r < 0 && errno == EINTR);
  return num(env, r < 0 ? -errno : r);
}

/* setNonblocking(fd) -> 0 or -errno: a pipe handed to connectRead/WritePipe is
 * read and written without blocking, as asyncio's pipe transports set it. */
static napi_value js_set_nonblocking(napi_env env, napi_callback_info info) {
  ARGS(1);
  int32_t fd;
  if (arg_int32(env, argv[0], "fd", &fd)) return NULL;
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return num(env, -errno);
  return num(env, 0);
}

napi_value spawn_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    METHOD("spawn", js_spawn), METHOD("pidfdOpen", js_pidfd_open), METHOD("reap", js_reap),
    METHOD("read", js_read), METHOD("write", js_write), METHOD("writev", js_writev), METHOD("setNonblocking", js_set_nonblocking),
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
