/* Socket addresses <-> JS values. Only numeric addresses: resolving names is the
 * event loop's job (node:dns), and a resolver must never run on this thread. */
#include "common.h"
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/un.h>

static int parse_ip(const char* s, int port, struct sockaddr_storage* ss, socklen_t* len) {
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in* a4 = (struct sockaddr_in*)ss;
  if (inet_pton(AF_INET, s, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    *len = sizeof *a4;
    return 0;
  }
  /* IPv6, optionally with a zone: "fe80::1%eth0" or "fe80::1%2". */
  char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
  size_t n = strlen(s);
  if (n >= sizeof host) return -EINVAL; /* never parse a truncated address */
  memcpy(host, s, n + 1);
  uint32_t scope = 0;
  char* zone = strchr(host, '%');
  if (zone) {
    *zone++ = '\0';
    char* end;
    unsigned long n = strtoul(zone, &end, 10);
    scope = (*zone && *end == '\0') ? (uint32_t)n : if_nametoindex(zone);
    if (scope == 0) return -EINVAL;
  }
  struct sockaddr_in6* a6 = (struct sockaddr_in6*)ss;
  if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1) return -EINVAL;
  a6->sin6_family = AF_INET6;
  a6->sin6_port = htons((uint16_t)port);
  a6->sin6_scope_id = scope;
  *len = sizeof *a6;
  return 0;
}

int addr_parse(napi_env env, napi_value host, napi_value port,
               struct sockaddr_storage* ss, socklen_t* len) {
  int32_t p;
  char buf[sizeof(((struct sockaddr_un*)0)->sun_path) + 2];
  size_t n = 0;
  if (arg_int32(env, port, "port", &p)) return THREW;
  if (napi_get_value_string_utf8(env, host, buf, sizeof buf, &n) != napi_ok)
    return throw_type(env, p < 0 ? "path must be a string" : "address must be a string");
  if (p >= 0) {
    if (p > 65535) return throw_range(env, "port must be in 0..65535");
    return parse_ip(buf, p, ss, len);
  }
  struct sockaddr_un* un = (struct sockaddr_un*)ss;
  memset(un, 0, sizeof *un);
  if (n >= sizeof un->sun_path) return -ENAMETOOLONG;
  un->sun_family = AF_UNIX;
  memcpy(un->sun_path, buf, n);
  *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
  return 0;
}

static void set_str(napi_env env, napi_value out, const char* key, const char* s, size_t n) {
  napi_value v;
  napi_create_string_utf8(env, s, n, &v);
  napi_set_named_property(env, out, key, v);
}

void addr_fill(napi_env env, napi_value out, const struct sockaddr* sa, socklen_t len) {
  char text[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
  if (len >= sizeof(sa_family_t) && sa->sa_family == AF_INET) {
    const struct sockaddr_in* a4 = (const struct sockaddr_in*)sa;
    inet_ntop(AF_INET, &a4->sin_addr, text, sizeof text);
    set_str(env, out, "address", text, NAPI_AUTO_LENGTH);
    set_str(env, out, "family", "IPv4", 4);
    napi_set_named_property(env, out, "port", num(env, ntohs(a4->sin_port)));
  } else if (len >= sizeof(sa_family_t) && sa->sa_family == AF_INET6) {
    const struct sockaddr_in6* a6 = (const struct sockaddr_in6*)sa;
    inet_ntop(AF_INET6, &a6->sin6_addr, text, sizeof text);
    if (a6->sin6_scope_id != 0) {
      size_t at = strlen(text);
      char name[IF_NAMESIZE];
      if (if_indextoname(a6->sin6_scope_id, name))
        snprintf(text + at, sizeof text - at, "%%%s", name);
      else
        snprintf(text + at, sizeof text - at, "%%%u", (unsigned)a6->sin6_scope_id);
    }
    set_str(env, out, "address", text, NAPI_AUTO_LENGTH);
    set_str(env, out, "family", "IPv6", 4);
    napi_set_named_property(env, out, "port", num(env, ntohs(a6->sin6_port)));
  } else {
    /* AF_UNIX, or an unnamed socket (socketpair, unbound client): len may be
     * just the family, or 0 for an unbound datagram peer. */
    const struct sockaddr_un* un = (const struct sockaddr_un*)sa;
    size_t base = offsetof(struct sockaddr_un, sun_path);
    size_t n = len > base ? len - base : 0;
    if (n > sizeof un->sun_path) n = sizeof un->sun_path;
    /* Pathname sockets count a trailing NUL (Linux) or none (macOS): trim at it.
     * An abstract name starts with NUL and keeps its exact length. */
    if (n > 0 && un->sun_path[0] != '\0') n = strnlen(un->sun_path, n);
    set_str(env, out, "path", un->sun_path, n);
  }
}
