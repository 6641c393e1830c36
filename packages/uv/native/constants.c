/* Platform values of the socket constants the TypeScript layer and its users
 * pass to socket/setsockopt/shutdown. They differ between Linux and macOS, so
 * they come from the headers, never from a table in JS. */
#include "common.h"
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#define C(name) { #name, name }

napi_value constants_init(napi_env env, napi_value exports) {
  static const struct { const char* name; int value; } table[] = {
    C(AF_INET), C(AF_INET6), C(AF_UNIX), C(SOCK_STREAM), C(SOCK_DGRAM),
    C(SOL_SOCKET), C(SO_REUSEADDR), C(SO_KEEPALIVE), C(SO_RCVBUF), C(SO_SNDBUF),
    C(SO_ERROR), C(SO_TYPE), C(SO_BROADCAST), C(SO_LINGER),
#ifdef SO_REUSEPORT
    C(SO_REUSEPORT),
#endif
    C(IPPROTO_IP), C(IPPROTO_IPV6), C(IPPROTO_TCP), C(IPPROTO_UDP),
    C(TCP_NODELAY), C(IPV6_V6ONLY),
    C(SHUT_RD), C(SHUT_WR), C(SHUT_RDWR),
    C(EAGAIN), C(EWOULDBLOCK), C(EINPROGRESS), C(EINTR), C(EALREADY), C(EISCONN),
    C(EBADF), C(ECONNREFUSED), C(ECONNRESET), C(EPIPE), C(ENOTCONN), C(EEXIST),
    C(ENOENT), C(EINVAL),
  };
  napi_value obj;
  napi_create_object(env, &obj);
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    napi_set_named_property(env, obj, table[i].name, num(env, table[i].value));
  napi_set_named_property(env, exports, "constants", obj);
  return exports;
}
