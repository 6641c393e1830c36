/*
 * Closed-loop echo load generator for bench/echo.js.
 *
 *   loadgen HOST PORT CONNS SIZE WARMUP_S DURATION_S
 *
 * CONNS connections each send a SIZE-byte message, wait until SIZE bytes came back, and
 * send the next one. After WARMUP_S seconds it counts completed round trips for DURATION_S
 * seconds and prints the rate (requests per second), the round trips completed in all
 * (warm-up included), and the mean and 99th percentile round-trip time in microseconds of
 * the counted ones (from the first byte sent to the last byte of the echo received) on one
 * line. One thread, epoll, level-
 * triggered: cheap enough that the server under test, not this process, is the bottleneck.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
  int fd;
  size_t sent;     /* bytes of the current message sent */
  size_t received; /* bytes of the current echo received */
  int want_out;    /* EPOLLOUT registered */
  double started;  /* when the current message's first byte went out */
};

/* Round-trip times counted in 1 us buckets; the last bucket holds everything slower. */
#define LATENCY_BUCKETS (1 << 20)
static unsigned *latency;
static int measuring;
static double latency_sum;
static long long latency_count;

static int ep;
static char *msg;
static size_t size;
static long long completed;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what) {
  perror(what);
  exit(1);
}

static void set_out(struct conn *c, int on) {
  if (c->want_out == on) return;
  struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
  if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl");
  c->want_out = on;
}

/* Send what is left of the current message; wait for writability if the kernel is full. */
static void push(struct conn *c) {
  while (c->sent < size) {
    ssize_t n = send(c->fd, msg + c->sent, size - c->sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        set_out(c, 1);
        return;
      }
      die("send");
    }
    c->sent += (size_t)n;
  }
  set_out(c, 0);
}

static void record_round_trip(struct conn *c) {
  if (!measuring) return;
  double us = (now() - c->started) * 1e6;
  size_t bucket = us < LATENCY_BUCKETS - 1 ? (size_t)us : LATENCY_BUCKETS - 1;
  latency[bucket]++;
  latency_sum += us;
  latency_count++;
}

static double percentile(double fraction) {
  long long wanted = (long long)(fraction * latency_count), seen = 0;
  for (size_t i = 0; i < LATENCY_BUCKETS; i++) {
    seen += latency[i];
    if (seen > wanted) return (double)i + 0.5;
  }
  return LATENCY_BUCKETS;
}

static void pull(struct conn *c) {
  static char buf[1 << 16];
  for (;;) {
    ssize_t n = recv(c->fd, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      die("recv");
    }
    if (n == 0) {
      fprintf(stderr, "loadgen: the server closed a connection\n");
      exit(1);
    }
    c->received += (size_t)n;
    if (c->received >= size) {
      /* Strict ping-pong: the echo of the whole message is back, send the next one. */
      c->received -= size;
      completed++;
      record_round_trip(c);
      c->sent = 0;
      c->started = now();
      push(c);
    }
  }
}

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: loadgen HOST PORT CONNS SIZE WARMUP_S DURATION_S\n");
    return 2;
  }
  const char *host = argv[1];
  int port = atoi(argv[2]);
  int nconns = atoi(argv[3]);
  size = (size_t)atol(argv[4]);
  double warmup = atof(argv[5]);
  double duration = atof(argv[6]);
  if (nconns <= 0 || size == 0 || duration <= 0) {
    fprintf(stderr, "loadgen: CONNS, SIZE and DURATION_S must be positive\n");
    return 2;
  }
  msg = malloc(size);
  memset(msg, 'x', size);
  ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");

  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
    fprintf(stderr, "loadgen: HOST must be a numeric IPv4 address\n");
    return 2;
  }
  struct conn *conns = calloc((size_t)nconns, sizeof *conns);
  for (int i = 0; i < nconns; i++) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    conns[i].fd = fd;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &conns[i]};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
  }
  latency = calloc(LATENCY_BUCKETS, sizeof *latency);
  if (latency == NULL) die("calloc");
  for (int i = 0; i < nconns; i++) {
    conns[i].started = now();
    push(&conns[i]);
  }

  struct epoll_event events[1024];
  double start = now();
  double begin = start + warmup, end = begin + duration;
  long long at_begin = -1;
  for (;;) {
    double t = now();
    if (at_begin < 0 && t >= begin) {
      at_begin = completed;
      measuring = 1;
    }
    if (t >= end) break;
    int n = epoll_wait(ep, events, 1024, 50);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < n; i++) {
      struct conn *c = events[i].data.ptr;
      if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) pull(c);
      if (events[i].events & EPOLLOUT) push(c);
    }
  }
  double mean = latency_count > 0 ? latency_sum / latency_count : 0;
  printf("%.0f %lld %.1f %.1f\n", (completed - at_begin) / duration, completed, mean, percentile(0.99));
  for (int i = 0; i < nconns; i++) close(conns[i].fd);
  return 0;
}
