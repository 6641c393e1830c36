/* Non-blocking socket syscalls. Each export takes an fd number first and
 * returns >= 0 or a negative errno (see common.h). EINTR is retried where a
 * retry is harmless; connect() is never retried (the kernel keeps connecting). */
#define _GNU_SOURCE 1 /* accept4 */
#include "common.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/sendfile.h>
#elif defined(__APPLE__)
#include <sys/socket.h>
#include <sys/types.h>
#endif

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* macOS: SO_NOSIGPIPE is set on every socket instead */
#endif
#define MAX_IOV 1024   /* IOV_MAX on Linux and macOS; a larger batch is sent partly */

#define ARGS(n)                                      \
  size_t argc = n;                                   \
  napi_value argv[n];                                \
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL); \
  for (size_t i_ = argc; i_ < n; i_++) argv[i_] = undef(env)

#define FD(i, var) int32_t var; if (arg_int32(env, argv[i], "fd", &var)) return NULL
#define RET(expr) return num(env, (expr))

static int fix_flags(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return -errno;
  if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) return -errno;
#ifdef SO_NOSIGPIPE
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
  return 0;
}

/* socket(domain, type) -> fd */
static napi_value js_socket(napi_env env, napi_callback_info info) {
  ARGS(2);
  int32_t dom, type;
  if (arg_int32(env, argv[0], "family", &dom) || arg_int32(env, argv[1], "type", &type)) return NULL;
#ifdef SOCK_NONBLOCK
  int fd = socket(dom, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) RET(-errno);
#else
  int fd = socket(dom, type, 0);
  if (fd < 0) RET(-errno);
  int r = fix_flags(fd);
  if (r < 0) { close(fd); RET(r); }
#endif
  fds_own(state_get(env), fd);
  RET(fd);
}

/* socketpair(out: Int32Array(2)) -> 0; AF_UNIX stream pair */
static napi_value js_socketpair(napi_env env, napi_callback_info info) {
  ARGS(1);
  int32_t* out; size_t n;
  if (arg_int32_array(env, argv[0], "out", &out, &n)) return NULL;
  if (n < 2) { throw_range(env, "out must hold 2 entries"); return NULL; }
  int sv[2];
#ifdef SOCK_NONBLOCK
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) RET(-errno);
#else
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) RET(-errno);
  int r = fix_flags(sv[0]);
  if (r == 0) r = fix_flags(sv[1]);
  if (r < 0) { close(sv[0]); close(sv[1]); RET(r); }
#endif
  fds_own(state_get(env), sv[0]);
  fds_own(state_get(env), sv[1]);
  out[0] = sv[0];
  out[1] = sv[1];
  RET(0);
}

/* sockinfo(fd, out: Int32Array(2)) -> 0; out = [family, type]. Also makes the
 * adopted fd non-blocking and close-on-exec, as sockets made here are. */
static napi_value js_sockinfo(napi_env env, napi_callback_info info) {
  ARGS(2);
  FD(0, fd);
  int32_t* out; size_t n;
  if (arg_int32_array(env, argv[1], "out", &out, &n)) return NULL;
  if (n < 2) { throw_range(env, "out must hold 2 entries"); return NULL; }
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  int type = 0;
  socklen_t tlen = sizeof type;
  memset(&ss, 0, sizeof ss);
  if (getsockname(fd, (struct sockaddr*)&ss, &len) < 0) RET(-errno);
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0) RET(-errno);
  int r = fix_flags(fd);
  if (r < 0) RET(r);
  fds_own(state_get(env), fd); /* adoption: this env owns it now */
  out[0] = ss.ss_family;
  out[1] = type;
  RET(0);
}

static napi_value addr_call(napi_env env, napi_callback_info info, int connecting) {
  ARGS(3);
  FD(0, fd);
  struct sockaddr_storage ss;
  socklen_t len;
  int r = addr_parse(env, argv[1], argv[2], &ss, &len);
  if (r == THREW) return NULL;
  if (r < 0) RET(r);
  r = connecting ? connect(fd, (struct sockaddr*)&ss, len) : bind(fd, (struct sockaddr*)&ss, len);
  RET(r < 0 ? -errno : 0);
}

/* bind(fd, host|path, port|-1) -> 0 */
static napi_value js_bind(napi_env env, napi_callback_info info) { return addr_call(env, info, 0); }
/* connect(fd, host|path, port|-1) -> 0 or -EINPROGRESS (then wait for writability
 * and read SO_ERROR) */
static napi_value js_connect(napi_env env, napi_callback_info info) { return addr_call(env, info, 1); }

/* listen(fd, backlog) -> 0 */
static napi_value js_listen(napi_env env, napi_callback_info info) {
  ARGS(2);
  FD(0, fd);
  int32_t backlog;
  if (arg_int32(env, argv[1], "backlog", &backlog)) return NULL;
  RET(listen(fd, backlog) < 0 ? -errno : 0);
}

/* accept(fd, out?) -> new fd (non-blocking, cloexec); fills out with the peer */
static napi_value js_accept(napi_env env, napi_callback_info info) {
  ARGS(2);
  FD(0, fd);
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  int c;
#if defined(__linux__) || defined(__FreeBSD__)
  do c = accept4(fd, (struct sockaddr*)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
  while (c < 0 && errno == EINTR);
  if (c < 0) RET(-errno);
#ifdef SO_NOSIGPIPE
  fix_flags(c);
#endif
#else
  do c = accept(fd, (struct sockaddr*)&ss, &len);
  while (c < 0 && errno == EINTR);
  if (c < 0) RET(-errno);
  int r = fix_flags(c);
  if (r < 0) { close(c); RET(r); }
#endif
  fds_own(state_get(env), c);
  if (!is_undefined(env, argv[1])) addr_fill(env, argv[1], (struct sockaddr*)&ss, len);
  RET(c);
}

/* recv(fd, buf, offset, length) -> bytes read (0 = EOF) */
static napi_value js_recv(napi_env env, napi_callback_info info) {
  ARGS(4);
  FD(0, fd);
  char* p; size_t n;
  if (arg_span(env, argv + 1, &p, &n)) return NULL;
  ssize_t r;
  do r = recv(fd, p, n, 0); while (r < 0 && errno == EINTR);
  RET(r < 0 ? -errno : r);
}

/* recvBatch(fds, from, count, buf, offset, length, minRoom, out) -> the index it stopped at:
 * fds[from], fds[from + 1], ... up to fds[count - 1] are recv'd in turn into
 * buf[offset, offset + length), each read starting 8-aligned after the bytes of the one
 * before; out[2i] is where fds[i]'s bytes start in buf, out[2i+1] what its recv returned
 * (bytes, 0 at EOF, -errno). It stops before a read that would have fewer than minRoom bytes
 * of room: the fds from there on are not read (their data stays in the kernel). One call for
 * the sockets a wake-up found readable, where a recv each paid a call into the addon. */
static napi_value js_recv_batch(napi_env env, napi_callback_info info) {
  ARGS(8);
  int32_t* fds; size_t nfds;
  int32_t from, count, base, min_room;
  int32_t* out; size_t nout;
  char* p; size_t n;
  if (arg_int32_array(env, argv[0], "fds", &fds, &nfds) || arg_int32(env, argv[1], "from", &from) ||
      arg_int32(env, argv[2], "count", &count) || arg_span(env, argv + 3, &p, &n) ||
      arg_int32(env, argv[4], "offset", &base) || arg_int32(env, argv[6], "minRoom", &min_room) ||
      arg_int32_array(env, argv[7], "out", &out, &nout)) return NULL;
  if (from < 0 || count < from || (size_t)count > nfds || 2 * (size_t)count > nout) {
    throw_range(env, "from and count must satisfy 0 <= from <= count <= fds.length and count <= out.length / 2");
    return NULL;
  }
  if (min_room < 1) { throw_range(env, "minRoom must be >= 1"); return NULL; }
  size_t at = 0;
  int32_t k = from;
  for (; k < count && n - at >= (size_t)min_room; k++) {
    ssize_t r;
    do r = recv(fds[k], p + at, n - at, 0); while (r < 0 && errno == EINTR);
    out[2 * k] = base + (int32_t)at;
    out[2 * k + 1] = r < 0 ? -errno : (int32_t)r;
    if (r > 0) at = (at + (size_t)r + 7) & ~(size_t)7;
    if (at > n) at = n;
  }
  RET(k);
}

/* send(fd, buf[, offset, length]) -> bytes sent; without offset and length, all of buf (two
 * argument checks less: a transport's first try at a write sends the whole chunk) */
static napi_value js_send(napi_env env, napi_callback_info info) {
  ARGS(4);
  FD(0, fd);
  char* p; size_t n;
  if (argc == 2 ? arg_bytes(env, argv[1], "buf", &p, &n) : arg_span(env, argv + 1, &p, &n)) return NULL;
  ssize_t r;
  do r = send(fd, p, n, MSG_NOSIGNAL); while (r < 0 && errno == EINTR);
  RET(r < 0 ? -errno : r);
}

/* sendv(fd, bufs: ArrayBufferView[]) -> bytes sent, all buffers in one sendmsg.
 * At most MAX_IOV buffers / INT32_MAX bytes go per call; the caller sends the
 * rest on the next writability, as after any partial write. */
static napi_value js_sendv(napi_env env, napi_callback_info info) {
  ARGS(2);
  FD(0, fd);
  bool is_arr = false;
  uint32_t count = 0;
  if (napi_is_array(env, argv[1], &is_arr) != napi_ok || !is_arr) {
    throw_type(env, "bufs must be an array of Buffers");
    return NULL;
  }
  napi_get_array_length(env, argv[1], &count);
  struct iovec iov[MAX_IOV];
  size_t total = 0;
  int k = 0;
  for (uint32_t i = 0; i < count && k < MAX_IOV; i++) {
    napi_value el;
    char* p; size_t n;
    napi_get_element(env, argv[1], i, &el);
    if (arg_bytes(env, el, "bufs[i]", &p, &n)) return NULL;
    if (n == 0) continue;
    if (total + n > INT32_MAX) n = INT32_MAX - total;
    iov[k].iov_base = p;
    iov[k].iov_len = n;
    k++;
    total += n;
    if (total >= INT32_MAX) break;
  }
  if (k == 0) RET(0);
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = iov;
  msg.msg_iovlen = k;
  ssize_t r;
  do r = sendmsg(fd, &msg, MSG_NOSIGNAL); while (r < 0 && errno == EINTR);
  RET(r < 0 ? -errno : r);
}

/* sendfile(fd, fileFd, offset, count) -> bytes of the file from offset sent on the socket fd
 * (0 = the file ends at offset), or -ENOSYS where the OS has no sendfile. offset is a double
 * (files past 2 GiB); count is capped at INT32_MAX per call, as the kernel caps it anyway. The
 * file's own position is never moved (the offset is explicit). */
static napi_value js_sendfile(napi_env env, napi_callback_info info) {
  ARGS(4);
  FD(0, fd);
  FD(1, file_fd);
  double offset_arg;
  int32_t count;
  if (napi_get_value_double(env, argv[2], &offset_arg) != napi_ok || offset_arg < 0) {
    throw_type(env, "offset must be a non-negative number");
    return NULL;
  }
  if (arg_int32(env, argv[3], "count", &count)) return NULL;
#if defined(__linux__)
  off_t offset = (off_t)offset_arg;
  ssize_t r;
  do r = sendfile(fd, file_fd, &offset, (size_t)count); while (r < 0 && errno == EINTR);
  RET(r < 0 ? -errno : r);
#elif defined(__APPLE__)
  off_t len = count;
  int r;
  do r = sendfile(file_fd, fd, (off_t)offset_arg, &len, NULL, 0); while (r < 0 && errno == EINTR && len == 0);
  /* macOS reports bytes sent in len, also when it fails with EAGAIN after a partial send */
  if (len > 0) RET(len);
  RET(r < 0 ? -errno : 0);
#else
  (void)fd; (void)file_fd; (void)count;
  RET(-ENOSYS);
#endif
}

/* recvfrom(fd, buf, offset, length, out?) -> bytes; fills out with the sender */
static napi_value js_recvfrom(napi_env env, napi_callback_info info) {
  ARGS(5);
  FD(0, fd);
  char* p; size_t n;
  if (arg_span(env, argv + 1, &p, &n)) return NULL;
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  ssize_t r;
  do r = recvfrom(fd, p, n, 0, (struct sockaddr*)&ss, &len); while (r < 0 && errno == EINTR);
  if (r < 0) RET(-errno);
  if (!is_undefined(env, argv[4])) addr_fill(env, argv[4], (struct sockaddr*)&ss, len);
  RET(r);
}

/* sendto(fd, buf, offset, length, host|path, port|-1) -> bytes */
static napi_value js_sendto(napi_env env, napi_callback_info info) {
  ARGS(6);
  FD(0, fd);
  char* p; size_t n;
  if (arg_span(env, argv + 1, &p, &n)) return NULL;
  struct sockaddr_storage ss;
  socklen_t len;
  int e = addr_parse(env, argv[4], argv[5], &ss, &len);
  if (e == THREW) return NULL;
  if (e < 0) RET(e);
  ssize_t r;
  do r = sendto(fd, p, n, MSG_NOSIGNAL, (struct sockaddr*)&ss, len); while (r < 0 && errno == EINTR);
  RET(r < 0 ? -errno : r);
}

/* shutdown(fd, how) -> 0 */
static napi_value js_shutdown(napi_env env, napi_callback_info info) {
  ARGS(2);
  FD(0, fd);
  int32_t how;
  if (arg_int32(env, argv[1], "how", &how)) return NULL;
  RET(shutdown(fd, how) < 0 ? -errno : 0);
}

/* close(fd) -> 0. Every PollSet of this thread forgets fd first: libuv must
 * never poll a closed (and possibly reused) descriptor. EINTR still closed the
 * fd (Linux, macOS), so it is not an error and is never retried. */
static napi_value js_close(napi_env env, napi_callback_info info) {
  ARGS(1);
  FD(0, fd);
  if (fd < 0) RET(-EBADF);
  state_drop_fd(env, fd);
  fds_forget(fd);
  RET(close(fd) < 0 && errno != EINTR ? -errno : 0);
}

/* forget(fd) -> 0: the env no longer owns fd (Socket#detach: the caller does),
 * so its cleanup hook will not close it. */
static napi_value js_forget(napi_env env, napi_callback_info info) {
  ARGS(1);
  FD(0, fd);
  fds_forget(fd);
  RET(0);
}

static napi_value name_call(napi_env env, napi_callback_info info, int peer) {
  ARGS(2);
  FD(0, fd);
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  memset(&ss, 0, sizeof ss);
  int r = peer ? getpeername(fd, (struct sockaddr*)&ss, &len) : getsockname(fd, (struct sockaddr*)&ss, &len);
  if (r < 0) RET(-errno);
  addr_fill(env, argv[1], (struct sockaddr*)&ss, len);
  RET(0);
}

/* getsockname(fd, out) -> 0; getpeername(fd, out) -> 0 */
static napi_value js_getsockname(napi_env env, napi_callback_info info) { return name_call(env, info, 0); }
static napi_value js_getpeername(napi_env env, napi_callback_info info) { return name_call(env, info, 1); }

/* setsockopt(fd, level, name, value) -> 0 (integer options only) */
static napi_value js_setsockopt(napi_env env, napi_callback_info info) {
  ARGS(4);
  FD(0, fd);
  int32_t level, name, value;
  if (arg_int32(env, argv[1], "level", &level) || arg_int32(env, argv[2], "name", &name) ||
      arg_int32(env, argv[3], "value", &value)) return NULL;
  int v = value;
  RET(setsockopt(fd, level, name, &v, sizeof v) < 0 ? -errno : 0);
}

/* getsockopt(fd, level, name, out: Int32Array(1)) -> 0; out[0] = value */
static napi_value js_getsockopt(napi_env env, napi_callback_info info) {
  ARGS(4);
  FD(0, fd);
  int32_t level, name;
  int32_t* out; size_t n;
  if (arg_int32(env, argv[1], "level", &level) || arg_int32(env, argv[2], "name", &name) ||
      arg_int32_array(env, argv[3], "out", &out, &n)) return NULL;
  if (n < 1) { throw_range(env, "out must hold 1 entry"); return NULL; }
  int v = 0;
  socklen_t len = sizeof v;
  if (getsockopt(fd, level, name, &v, &len) < 0) RET(-errno);
  out[0] = v;
  RET(0);
}

napi_value sock_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    METHOD("socket", js_socket), METHOD("socketpair", js_socketpair),
    METHOD("sockinfo", js_sockinfo), METHOD("bind", js_bind), METHOD("connect", js_connect),
    METHOD("listen", js_listen), METHOD("accept", js_accept), METHOD("recv", js_recv), METHOD("recvBatch", js_recv_batch),
    METHOD("send", js_send), METHOD("sendv", js_sendv), METHOD("sendfile", js_sendfile), METHOD("recvfrom", js_recvfrom),
    METHOD("sendto", js_sendto), METHOD("shutdown", js_shutdown), METHOD("close", js_close),
    METHOD("forget", js_forget),
    METHOD("getsockname", js_getsockname), METHOD("getpeername", js_getpeername),
    METHOD("setsockopt", js_setsockopt), METHOD("getsockopt", js_getsockopt),
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
