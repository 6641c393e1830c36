/*
 * Closed-loop TLS echo load generator for bench/tls-echo.js: bench/loadgen.c with OpenSSL
 * (link with -lssl -lcrypto; Debian: apt-get install libssl-dev).
 *
 *   tls-loadgen HOST PORT CONNS SIZE WARMUP_S DURATION_S CAFILE [--verify]
 *
 * CONNS connections each finish a TLS 1.3 handshake (TLS_AES_128_GCM_SHA256 only, the
 * server's certificate checked against CAFILE for the name "localhost"), then send a
 * SIZE-byte message, wait until SIZE bytes came back, and send the next one. After
 * WARMUP_S seconds it counts completed round trips for DURATION_S seconds and prints one
 * line: the rate (requests per second), the round trips completed in all, this process's
 * CPU time (user + system) per round trip in microseconds, and the milliseconds it spent
 * runnable but waiting for its CPU during the timed part (from /proc/self/schedstat; -1
 * without it): what other processes on that CPU took from it.
 *
 * It must cost less CPU per request than any server it measures, so it does the least a
 * TLS client can:
 * - Every message is encrypted by SSL_write (the server must decrypt real records), and
 *   the records of a message collect in a buffering BIO and leave in one write().
 * - The echoes are counted, not decrypted. One read() takes what the socket holds into a
 *   buffer, and the client walks the TLS record headers in it: with TLS 1.3 and AES-128-GCM
 *   an application-data record of length L carries L - 17 bytes (a 16-byte tag and the
 *   1-byte inner content type) when the sender adds no padding, and no server here does.
 * - That assumption is checked on every connection before it is used: the handshake, the
 *   first echo (which also carries the TLS 1.3 session tickets) and the next VERIFIED_ECHOES
 *   echoes are decrypted record by record, and each record must decrypt to exactly L - 17
 *   bytes of the message, else the run stops with an error. With --verify every echo of the
 *   run is decrypted and checked that way (the client then costs as much as any TLS client).
 * One thread, epoll, level-triggered, non-blocking sockets.
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

/* Echoes decrypted and checked on every connection after the first one. */
#define VERIFIED_ECHOES 3
/* TLS 1.3 record framing (RFC 8446 5.1, 5.2) with AES-128-GCM. */
#define RECORD_HEADER 5
#define APPLICATION_DATA 23
#define GCM_TAG 16
#define MAX_CIPHERTEXT (16384 + 256)

enum phase {
  HANDSHAKE, /* records go to SSL_do_handshake */
  DECRYPT,   /* records are decrypted; from the second echo on each must hold L - 17 bytes */
  COUNT,     /* records are counted from their headers */
};

struct conn {
  int fd;
  SSL *ssl;
  BIO *in;         /* memory BIO: the records handed to SSL while it decrypts */
  enum phase phase;
  long echoes;     /* echoes completed on this connection */
  size_t sent;     /* bytes of the current message accepted by SSL_write */
  size_t received; /* bytes of the current echo received */
  int want_out;    /* EPOLLOUT registered */
  unsigned char header[RECORD_HEADER];
  size_t header_have; /* bytes of the current record's header seen */
  size_t body_left;   /* bytes of the current record's body not yet seen */
};

/* Write buffer of a connection's records and the read buffer: a 64 KiB message is 65,624
 * bytes of records, so either holds a whole one. */
#define IO_BUFFER (128 * 1024)

static int ep;
static char *msg;
static size_t size;
static long long completed;
static int verify_all;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Nanoseconds this process has waited on a run queue so far (schedstat's second field), or -1. */
static double runqueue_wait(void) {
  FILE *f = fopen("/proc/self/schedstat", "r");
  if (f == NULL) return -1;
  unsigned long long on_cpu, waited;
  int got = fscanf(f, "%llu %llu", &on_cpu, &waited);
  fclose(f);
  return got == 2 ? (double)waited : -1;
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
      die_ssl("SSL_write", c, r);
    }
    c->sent += n;
  }
  if (flush(c)) set_out(c, 0);
}

static void handshake(struct conn *c) {
  int r = SSL_do_handshake(c->ssl);
  if (BIO_flush(SSL_get_wbio(c->ssl)) <= 0 && !BIO_should_retry(SSL_get_wbio(c->ssl))) die("write");
  if (r == 1) {
    c->phase = DECRYPT;
    set_out(c, 0);
    push(c);
    return;
  }
  int err = SSL_get_error(c->ssl, r);
  if (err == SSL_ERROR_WANT_READ) set_out(c, 0);
  else if (err == SSL_ERROR_WANT_WRITE) set_out(c, 1);
  else die_ssl("the TLS handshake", c, r);
}

/* `n` more bytes of the current echo arrived. */
static void received(struct conn *c, size_t n) {
  c->received += n;
  if (c->received < size) return;
  if (c->received > size) {
    fprintf(stderr, "tls-loadgen: the server echoed more than it was sent\n");
    exit(1);
  }
  /* Strict ping-pong: the echo of the whole message is back, send the next one. */
  c->received = 0;
  completed++;
  c->echoes++;
  if (c->phase == DECRYPT && !verify_all && c->echoes > VERIFIED_ECHOES) c->phase = COUNT;
  c->sent = 0;
  push(c);
}

/* Decrypt the record just handed to SSL; from the second echo on it must hold `expected`
 * bytes of the message (the first echo also carries the session tickets, which hold none). */
static void decrypt_record(struct conn *c, size_t expected) {
  static char plain[MAX_CIPHERTEXT];
  size_t got = 0;
  for (;;) {
    size_t n = 0;
    int r = SSL_read_ex(c->ssl, plain + got, sizeof plain - got, &n);
    if (r <= 0) {
      int err = SSL_get_error(c->ssl, r);
      if (err == SSL_ERROR_WANT_READ) break;
      if (err == SSL_ERROR_ZERO_RETURN) {
        fprintf(stderr, "tls-loadgen: the server closed a connection\n");
        exit(1);
      }
      die_ssl("SSL_read", c, r);
    }
    got += n;
  }
  if (got != expected && (c->echoes > 0 || got != 0)) {
    fprintf(stderr, "tls-loadgen: a record of %zu bytes held %zu bytes of data, not %zu: the server pads its records "
            "or sends other records, so its echoes cannot be counted from the record headers\n",
            expected + GCM_TAG + 1, got, expected);
    exit(1);
  }
  for (size_t i = 0; i < got; i++) {
    if (plain[i] != 'x') {
      fprintf(stderr, "tls-loadgen: the echo differs from the message\n");
      exit(1);
    }
  }
  if (got > 0) received(c, got);
}

/* A whole record has been read: its header is c->header. */
static void record_done(struct conn *c) {
  if (c->phase == HANDSHAKE) {
    handshake(c);
    return;
  }
  if (c->header[0] != APPLICATION_DATA) {
    fprintf(stderr, "tls-loadgen: a record of type %d after the handshake\n", c->header[0]);
    exit(1);
  }
  size_t length = (size_t)c->header[3] << 8 | c->header[4];
  if (c->phase == DECRYPT) decrypt_record(c, length - GCM_TAG - 1);
  else received(c, length - GCM_TAG - 1);
}

/* Walk the records in what one read() brought; hand them to SSL while it still reads them. */
static void pull(struct conn *c) {
  static unsigned char buf[IO_BUFFER];
  ssize_t got = read(c->fd, buf, sizeof buf);
  if (got < 0) {
    if (errno == EAGAIN || errno == EINTR) return;
    die("read");
  }
  if (got == 0) {
    fprintf(stderr, "tls-loadgen: the server closed a connection\n");
    exit(1);
  }
  unsigned char *p = buf, *end = buf + got;
  while (p < end) {
    size_t take;
    if (c->header_have < RECORD_HEADER) {
      take = RECORD_HEADER - c->header_have;
      if (take > (size_t)(end - p)) take = (size_t)(end - p);
      memcpy(c->header + c->header_have, p, take);
      c->header_have += take;
      if (c->header_have == RECORD_HEADER) {
        c->body_left = (size_t)c->header[3] << 8 | c->header[4];
        if (c->body_left > MAX_CIPHERTEXT || (c->phase != HANDSHAKE && c->body_left <= GCM_TAG)) {
          fprintf(stderr, "tls-loadgen: a record of impossible length %zu\n", c->body_left);
          exit(1);
        }
      }
    } else {
      take = c->body_left < (size_t)(end - p) ? c->body_left : (size_t)(end - p);
      c->body_left -= take;
    }
    if (c->phase != COUNT && BIO_write(c->in, p, (int)take) != (int)take) die("BIO_write");
    p += take;
    if (c->header_have == RECORD_HEADER && c->body_left == 0) {
      c->header_have = 0;
      record_done(c);
    }
  }
}

int main(int argc, char **argv) {
  verify_all = argc == 9 && strcmp(argv[8], "--verify") == 0;
  if (argc != 8 && !verify_all) {
    fprintf(stderr, "usage: tls-loadgen HOST PORT CONNS SIZE WARMUP_S DURATION_S CAFILE [--verify]\n");
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
    /* Reads come from the records pull() hands over; writes go through a buffer flushed once per message. */
    BIO *sock = BIO_new_socket(fd, BIO_NOCLOSE), *out = BIO_new(BIO_f_buffer());
    c->in = BIO_new(BIO_s_mem());
    if (sock == NULL || out == NULL || c->in == NULL || !BIO_set_write_buffer_size(out, IO_BUFFER)) die("BIO_new");
    BIO_set_mem_eof_return(c->in, -1); /* empty means "more to come", not end of file */
    BIO_push(out, sock);
    SSL_set_bio(c->ssl, c->in, out);
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
  double waited_at_begin = -1;
  for (;;) {
    double t = now();
    if (at_begin < 0 && t >= begin) {
      at_begin = completed;
      waited_at_begin = runqueue_wait();
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
      if (events[i].events & EPOLLOUT) c->phase == HANDSHAKE ? handshake(c) : push(c);
    }
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
  double waited_at_end = runqueue_wait();
  double waited_ms = waited_at_begin < 0 || waited_at_end < 0 ? -1 : (waited_at_end - waited_at_begin) / 1e6;
  printf("%.0f %lld %.1f %.0f\n", (completed - at_begin) / duration, completed, completed > 0 ? cpu / completed * 1e6 : 0.0, waited_ms);
  for (int i = 0; i < nconns; i++) close(conns[i].fd); /* no close_notify: the run is over */
  return 0;
}
