/*
 * The reference echo server of bench/echo.js: what a careful C programmer writes with
 * epoll, one thread, level-triggered, non-blocking sockets with TCP_NODELAY (as Node's and
 * loopkit's servers set it).
 *
 *   echo-server        listens on 127.0.0.1 (an ephemeral port), prints "PORT <n>", serves until killed
 *   echo-server idle-poll   the same, waiting as libuv does with idle-time metrics on (as Node
 *                      turns them on): an epoll_wait with timeout 0 first, then, when it found
 *                      nothing, the blocking one (bench/echo-pair.js's `c-idle-poll`: what that
 *                      extra syscall per idle wake-up costs a server that pays nothing else)
 *
 * Per connection: read up to 256 KiB, send it back; what the kernel does not take waits in
 * the connection's buffer, and the connection is not read again until it is all sent (so
 * a client that does not read cannot grow the server without bound).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUFFER_SIZE (256 * 1024)

struct conn {
  int fd;
  size_t pending; /* bytes of buf not yet sent back */
  size_t offset;  /* where the unsent bytes start */
  char buf[BUFFER_SIZE];
};

static int ep;

static void die(const char *what) {
  perror(what);
  exit(1);
}

static void watch(struct conn *c, int op, unsigned events) {
  struct epoll_event ev = {.events = events, .data.ptr = c};
  if (epoll_ctl(ep, op, c->fd, &ev) < 0) die("epoll_ctl");
}

static void drop(struct conn *c) {
  close(c->fd); /* closing removes it from the epoll set */
  free(c);
}

/* Send what is pending; 1 when all is sent, 0 when the kernel is full, -1 on error. */
static int flush(struct conn *c) {
  while (c->pending > 0) {
    ssize_t n = send(c->fd, c->buf + c->offset, c->pending, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN ? 0 : -1;
    }
    c->offset += (size_t)n;
    c->pending -= (size_t)n;
  }
  return 1;
}

static void on_readable(struct conn *c) {
  for (;;) {
    ssize_t n = recv(c->fd, c->buf, BUFFER_SIZE, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      drop(c);
      return;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    c->offset = 0;
    c->pending = (size_t)n;
    int sent = flush(c);
    if (sent < 0) {
      drop(c);
      return;
    }
    if (sent == 0) {
      watch(c, EPOLL_CTL_MOD, EPOLLOUT);
      return;
    }
    if ((size_t)n < BUFFER_SIZE) return; /* the socket is drained */
  }
}

static void on_writable(struct conn *c) {
  int sent = flush(c);
  if (sent < 0) drop(c);
  else if (sent > 0) watch(c, EPOLL_CTL_MOD, EPOLLIN);
}

int main(int argc, char **argv) {
  int idle_poll = argc > 1 && strcmp(argv[1], "idle-poll") == 0;
  if (argc > 1 && !idle_poll) {
    fprintf(stderr, "usage: echo-server [idle-poll]\n");
    return 2;
  }
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listener < 0) die("socket");
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind");
  if (listen(listener, 1024) < 0) die("listen");
  socklen_t len = sizeof addr;
  if (getsockname(listener, (struct sockaddr *)&addr, &len) < 0) die("getsockname");
  printf("PORT %d\n", ntohs(addr.sin_port));
  fflush(stdout);

  ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev) < 0) die("epoll_ctl");
  struct epoll_event events[256];
  for (;;) {
    int n = epoll_wait(ep, events, 256, idle_poll ? 0 : -1);
    if (idle_poll && n == 0) n = epoll_wait(ep, events, 256, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < n; i++) {
      struct conn *c = events[i].data.ptr;
      if (c == NULL) {
        int fd;
        while ((fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          struct conn *fresh = malloc(sizeof *fresh);
          if (fresh == NULL) die("malloc");
          fresh->fd = fd;
          fresh->pending = 0;
          fresh->offset = 0;
          watch(fresh, EPOLL_CTL_ADD, EPOLLIN);
        }
        continue;
      }
      if (events[i].events & EPOLLOUT) on_writable(c);
      else if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(c);
    }
  }
}
