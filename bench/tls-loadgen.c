/*
 * Closed-loop TLS echo load generator for bench/tls-echo.js: bench/loadgen.c with OpenSSL
 * (link with -lssl -lcrypto; Debian: apt-get install libssl-dev).
 *
 *   tls-loadgen HOST PORT CONNS SIZE WARMUP_S DURATION_S CAFILE
 *
 * CONNS connections each finish a TLS 1.3 handshake (TLS_AES_128_GCM_SHA256 only, the
 * server's certificate checked against CAFILE for the name "localhost"), then send a
 * SIZE-byte message, wait until SIZE bytes came back, and send the next one. After
 * WARMUP_S seconds it counts completed round trips for DURATION_S seconds and prints one
 * line: the rate (requests per second), the round trips completed in all, and this
 * process's CPU time (user + system) per round trip in microseconds.
 * One thread, epoll, level-triggered, non-blocking SSL. It must cost less CPU per request
 * than any server it measures, so each message takes as few system calls as it can:
 * - reading: read-ahead into a 128 KiB record buffer, so one read() takes every record the
 *   socket holds (without it OpenSSL reads each record's 5-byte header and its body apart);
 *   no read() only to hear EAGAIN once the SSL holds nothing more (epoll says when);
 * - writing: the records of a message collect in a buffering BIO and leave in one write()
 *   (without it, one write() per 16 KiB record).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
  int fd;
  SSL *ssl;
  int ready;       /* handshake done */
  size_t sent;     /* bytes of the current message accepted by SSL_write */
  size_t received; /* bytes of the current echo received */
  int want_out;    /* EPOLLOUT registered */
};

/* Record buffer of a connection's reads and write buffer of its records: a 64 KiB message
 * is 65,624 bytes of records, so either holds a whole one. */
#define IO_BUFFER (128 * 1024)

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

static void die_ssl(const char *what, struct conn *c, int r) {
  fprintf(stderr, "tls-loadgen: %s failed (SSL_get_error %d, errno %d)\n", what, SSL_get_error(c->ssl, r), errno);
  ERR_print_errors_fp(stderr);
  exit(1);
}

static void set_out(struct conn *c, int on) {
  if (c->want_out == on) return;
  struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
  if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl");
  c->want_out = on;
}

/* Hand the buffered records to the kernel: 1 when all went, else wait for writability. */
static int flush(struct conn *c) {
  if (BIO_flush(SSL_get_wbio(c->ssl)) > 0) return 1;
  if (!BIO_should_retry(SSL_get_wbio(c->ssl))) die("write");
  set_out(c, 1);
  return 0;
}

/* Send what is left of the current message; wait for writability if the kernel is full. */
static void push(struct conn *c) {
  if (!flush(c)) return;
  while (c->sent < size) {
    size_t n = 0;
    int r = SSL_write_ex(c->ssl, msg + c->sent, size - c->sent, &n);
    if (r <= 0) {
      int err = SSL_get_error(c->ssl, r);
      if (err == SSL_ERROR_WANT_WRITE) {
        set_out(c, 1);
        return;
      }
      if (err == SSL_ERROR_WANT_READ) return;
      die_ssl("SSL_write", c, r);
    }
    c->sent += n;
  }
  if (flush(c)) set_out(c, 0);
}

static void pull(struct conn *c) {
  static char buf[1 << 16];
  do {
    size_t n = 0;
    int r = SSL_read_ex(c->ssl, buf, sizeof buf, &n);
    if (r <= 0) {
      int err = SSL_get_error(c->ssl, r);
      if (err == SSL_ERROR_WANT_READ) return;
      if (err == SSL_ERROR_WANT_WRITE) {
        set_out(c, 1);
        return;
      }
      if (err == SSL_ERROR_ZERO_RETURN) {
        fprintf(stderr, "tls-loadgen: the server closed a connection\n");
        exit(1);
      }
      die_ssl("SSL_read", c, r);
    }
    c->received += n;
    if (c->received >= size) {
      /* Strict ping-pong: the echo of the whole message is back, send the next one. */
      c->received -= size;
      completed++;
      c->sent = 0;
      push(c);
    }
    /* Nothing buffered: another SSL_read would only read() EAGAIN. */
  } while (SSL_has_pending(c->ssl));
}

static void handshake(struct conn *c) {
  int r = SSL_do_handshake(c->ssl);
  if (BIO_flush(SSL_get_wbio(c->ssl)) <= 0 && !BIO_should_retry(SSL_get_wbio(c->ssl))) die("write");
  if (r == 1) {
    c->ready = 1;
    set_out(c, 0);
    push(c);
    return;
  }
  int err = SSL_get_error(c->ssl, r);
  if (err == SSL_ERROR_WANT_READ) set_out(c, 0);
  else if (err == SSL_ERROR_WANT_WRITE) set_out(c, 1);
  else die_ssl("the TLS handshake", c, r);
}

int main(int argc, char **argv) {
  if (argc != 8) {
    fprintf(stderr, "usage: tls-loadgen HOST PORT CONNS SIZE WARMUP_S DURATION_S CAFILE\n");
    return 2;
  }
  const char *host = argv[1];
  int port = atoi(argv[2]);
  int nconns = atoi(argv[3]);
  size = (size_t)atol(argv[4]);
  double warmup = atof(argv[5]);
  double duration = atof(argv[6]);
  if (nconns <= 0 || size == 0 || duration <= 0) {
    fprintf(stderr, "tls-loadgen: CONNS, SIZE and DURATION_S must be positive\n");
    return 2;
  }
  msg = malloc(size);
  memset(msg, 'x', size);

  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == NULL || !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
      !SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256") || !SSL_CTX_load_verify_locations(ctx, argv[7], NULL)) {
    ERR_print_errors_fp(stderr);
    return 1;
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
  /* A partial SSL_write returns what it took, so 64 KiB messages go out as the kernel takes them. */
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_read_ahead(ctx, 1);
  SSL_CTX_set_default_read_buffer_len(ctx, IO_BUFFER);

  ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
    fprintf(stderr, "tls-loadgen: HOST must be a numeric IPv4 address\n");
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
    struct conn *c = &conns[i];
    c->fd = fd;
    c->ssl = SSL_new(ctx);
    /* Reads straight from the socket; writes through a buffer flushed once per message. */
    BIO *sock = BIO_new_socket(fd, BIO_NOCLOSE), *out = BIO_new(BIO_f_buffer());
    if (sock == NULL || out == NULL || !BIO_set_write_buffer_size(out, IO_BUFFER) || !BIO_up_ref(sock)) die("BIO_new");
    BIO_push(out, sock);
    SSL_set_bio(c->ssl, sock, out);
    SSL_set_tlsext_host_name(c->ssl, "localhost");
    SSL_set1_host(c->ssl, "localhost");
    SSL_set_connect_state(c->ssl);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
  }
  for (int i = 0; i < nconns; i++) handshake(&conns[i]);

  struct epoll_event events[1024];
  double start = now();
  double begin = start + warmup, end = begin + duration;
  long long at_begin = -1;
  for (;;) {
    double t = now();
    if (at_begin < 0 && t >= begin) at_begin = completed;
    if (t >= end) break;
    int n = epoll_wait(ep, events, 1024, 50);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < n; i++) {
      struct conn *c = events[i].data.ptr;
      if (!c->ready) {
        handshake(c);
        continue;
      }
      if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) pull(c);
      if (events[i].events & EPOLLOUT) push(c);
    }
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
  printf("%.0f %lld %.1f\n", (completed - at_begin) / duration, completed, completed > 0 ? cpu / completed * 1e6 : 0.0);
  for (int i = 0; i < nconns; i++) close(conns[i].fd); /* no close_notify: the run is over */
  return 0;
}
