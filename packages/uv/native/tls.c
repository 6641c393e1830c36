/* TLSEngine: one TLS connection as an SSL object over two memory BIOs, the shape of
 * CPython's ssl.SSLObject + MemoryBIO and of uvloop's sslproto: the engine never sees
 * a socket. The layer above feeds it what the network delivered (feed), takes what it
 * must send (takeInto), and moves application bytes in and out (readInto, write).
 * Why memory BIOs: the TLS state machine stays independent of any transport, so one
 * layer serves every loop (selector, proactor, io_uring, a user's backend) and
 * STARTTLS can hand over bytes that already arrived; every call is synchronous.
 *
 * Crossings: each call leaves its numbers in an Int32Array the JS side shares
 * (io, see sync_io), so JS can allocate exactly (Buffer.allocUnsafe, pooled when
 * small) and skip calls that would do nothing (read with no input, take with no
 * output) without crossing into C at all.
 *
 * Lifecycle:
 * - The engine owns its SSL; the SSL owns both BIOs (SSL_set_bio) and a reference
 *   on its SSL_CTX. close() frees the SSL (idempotent); the wrap finalizer frees it
 *   if close() never ran, so an engine dropped mid-connection leaks nothing.
 * - `origin` is a second reference on the SSL_CTX the engine was made from, kept
 *   after an SNI switch (useContext) so ALPN selection still reads that server's
 *   list; dropped with the SSL.
 * - The io array is held by a napi reference until close or finalization.
 * - feedRead and writeInto are functions of each engine's own (bind_method): each holds the
 *   engine struct, so the struct is freed when the last of the object and those two is
 *   collected; the SSL itself goes with close() or the object.
 * - Fatal errors are sticky: the first is kept (a napi reference) and thrown again
 *   by every later handshake/read/write, because OpenSSL's own repeat after a fatal
 *   alert has an empty error queue and would describe nothing.
 * - No fd, no uv handle: nothing for the env cleanup hook; Node-API finalizes what
 *   is left at env teardown. */
#include "tls.h"
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

int64_t tls_live_engines;

/* What a live SSL costs beyond the JS object (record buffers): told to the GC so
 * unreachable engines are collected before their native memory piles up. */
#define EXTERNAL_COST (40 * 1024)
/* Plaintext of one record at most: a partial record held inside the SSL may yield it. */
#define RECORD_MAX SSL3_RT_MAX_PLAIN_LENGTH

static int32_t clamp32(size_t n) {
  return n > INT32_MAX ? INT32_MAX : (int32_t)n;
}

/* io[IO_READABLE]: an upper bound of the plaintext the input held so far can yield
 * (what the input BIO holds, what the SSL decrypted and not handed out, and one whole
 * record when the SSL holds part of one that new input may complete); io[IO_FLAGS]: F_*;
 * io[IO_OUTGOING]: bytes waiting in the output BIO; io[IO_HELD]: as io[IO_READABLE] once
 * more input comes (what feedRead adds its input to, to size its buffer); io[IO_OVERHEAD]: see
 * record_overhead (set when the handshake is done, 0 during a renegotiation);
 * io[IO_DEFERRED]: plaintext written during a renegotiation, not encrypted yet. */
static void sync_io(engine* e) {
  size_t pend = SSL_pending(e->ssl);
  size_t in_bio = tls_queue_size(e->in);
  size_t held = in_bio + pend;
  if (pend == 0 && SSL_has_pending(e->ssl)) held += RECORD_MAX;
  /* After a read that wanted input, what the SSL holds is part of a record: nothing to read
   * until feed() (JS then skips the call and its buffer). */
  size_t in = e->starved && in_bio == 0 ? in_bio + pend : held;
  e->io[IO_READABLE] = clamp32(in);
  e->io[IO_HELD] = clamp32(held);
  size_t out = e->out->end - e->out->start;
  e->io[IO_OUTGOING] = clamp32(out);
  e->io[IO_DEFERRED] = clamp32(e->deferred.end - e->deferred.start);
  int f = e->io[IO_FLAGS] & (F_EOF | F_ERROR);
  if (e->pending_zero || (SSL_get_shutdown(e->ssl) & SSL_RECEIVED_SHUTDOWN)) f |= F_CLOSE_NOTIFY;
  e->io[IO_FLAGS] = f;
}

static void free_ssl(engine* e) {
  if (e->ssl == NULL) return;
  SSL_free(e->ssl);
  SSL_CTX_free(e->origin->ctx);
  e->ssl = NULL;
  tls_queue_free(&e->deferred);
  free(e->sni);
  free(e->host);
  e->sni = e->host = NULL;
  if (e->io_ref) {
    e->io[IO_FLAGS] = F_CLOSED;
    e->io[IO_READABLE] = e->io[IO_OUTGOING] = e->io[IO_HELD] = e->io[IO_OVERHEAD] = e->io[IO_DEFERRED] = 0;
    napi_delete_reference(e->env, e->io_ref);
  }
  if (e->error) napi_delete_reference(e->env, e->error);
  e->io_ref = e->error = NULL;
  int64_t ignored;
  napi_adjust_external_memory(e->env, -EXTERNAL_COST, &ignored);
  __atomic_sub_fetch(&tls_live_engines, 1, __ATOMIC_RELAXED);
}

/* Drop one holder of the engine struct (its JS object or one of its bound functions);
 * the last frees it. */
static void release(engine* e) {
  if (--e->holders == 0) free(e);
}

static void finalize(napi_env env, void* data, void* hint) {
  free_ssl(data);
  release(data);
}

static void finalize_bound(napi_env env, void* data, void* hint) {
  release(data);
}

/* OpenSSL's thread queue, emptied before a call into the SSL: what another connection, or
 * Node's own tls, left there must not be read as ours. Looking costs a thread-local lookup;
 * clearing also rewrites all 16 slots, so it is done only when something is queued. */
static void clear_ssl_errors(void) {
  if (ERR_peek_error() != 0) ERR_clear_error();
}

static const napi_type_tag engine_tag = { 0x6c6f6f706b697401ULL, 0x746c732d656e6701ULL };

/* The engine behind `this`, open; else NULL with a throw. `ssl_call`: the method is about
 * to call into the SSL, so OpenSSL's thread queue is emptied first (clear_ssl_errors).
 * Feeding and taking bytes only touch memory BIOs, which report no errors: not even the
 * look. */
engine* tls_engine_this(napi_env env, napi_callback_info info, size_t* argc, napi_value* argv,
                        int ssl_call) {
  napi_value self;
  void* p = NULL;
  bool ok = false;
  size_t zero = 0;
  napi_get_cb_info(env, info, argc ? argc : &zero, argv, &self, NULL);
  if (napi_check_object_type_tag(env, self, &engine_tag, &ok) != napi_ok || !ok ||
      napi_unwrap(env, self, &p) != napi_ok || p == NULL) {
    throw_type(env, "method called on an incompatible receiver");
    return NULL;
  }
  engine* e = p;
  if (e->ssl == NULL) {
    napi_throw_error(env, "ERR_TLS_ENGINE_CLOSED", "the TLS engine is closed");
    return NULL;
  }
  if (ssl_call) clear_ssl_errors();
  return e;
}

/* Keep `err` as the engine's fatal error and throw it. */
static napi_value fail(engine* e, napi_value err) {
  if (e->error == NULL) napi_create_reference(e->env, err, 1, &e->error);
  e->io[IO_FLAGS] |= F_ERROR;
  sync_io(e);
  napi_throw(e->env, err);
  return NULL;
}

/* Throw the sticky error, if any: 1 when it threw. */
static int rethrow(engine* e) {
  napi_value err;
  if (e->error == NULL) return 0;
  napi_get_reference_value(e->env, e->error, &err);
  napi_throw(e->env, err);
  return 1;
}

/* Keep `err` (if any) as the fatal error the next call throws, without throwing now: the
 * caller still returns what it did before the failure. */
static void keep_error(engine* e, napi_value err) {
  if (err != NULL && e->error == NULL) napi_create_reference(e->env, err, 1, &e->error);
  e->io[IO_FLAGS] |= F_ERROR;
}

/* The error of a failed SSL call: a certificate that did not verify is told apart
 * from the rest by OpenSSL's reason and the verify result SSL kept. */
static napi_value ssl_failure(engine* e, const char* what) {
  unsigned long last = ERR_peek_last_error();
  long v = SSL_get_verify_result(e->ssl);
  if (ERR_GET_LIB(last) == ERR_LIB_SSL && ERR_GET_REASON(last) == SSL_R_CERTIFICATE_VERIFY_FAILED &&
      v != X509_V_OK)
    return fail(e, tls_verify_error(e->env, v, e->host));
  return fail(e, tls_error(e->env, what));
}

static napi_value feed_read(napi_env env, napi_callback_info info);
static napi_value write_into(napi_env env, napi_callback_info info);

/* Give `self` a method `name` bound to `e` (see bound_data_buf); it holds e until collected. */
static int bind_method(napi_env env, napi_value self, engine* e, const char* name, napi_callback cb) {
  napi_value fn;
  if (napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, e, &fn) != napi_ok ||
      napi_add_finalizer(env, fn, e, finalize_bound, NULL, NULL) != napi_ok)
    return 1;
  e->holders++;
  napi_property_descriptor d = { name, NULL, NULL, NULL, NULL, fn, napi_default, NULL };
  return napi_define_properties(env, self, 1, &d) != napi_ok;
}

/* new TLSEngine(context, serverHostname: string | null, io: Int32Array(IO_LENGTH)) */
/* Every read and takeOutgoing hands JS a new buffer that V8 frees only at a GC, in bulk:
 * keep_freed_memory() (memory.c) keeps that memory in the process for the next ones. */
static napi_value ctor(napi_env env, napi_callback_info info) {
  keep_freed_memory();
  size_t argc = 3;
  napi_value argv[3], self;
  napi_get_cb_info(env, info, &argc, argv, &self, NULL);
  if (argc < 3) { throw_type(env, "new TLSEngine(context, serverHostname, io)"); return NULL; }
  tls_ctx* c = tls_ctx_unwrap(env, argv[0], "context");
  if (c == NULL) return NULL;
  int32_t* io;
  size_t n;
  if (arg_int32_array(env, argv[2], "io", &io, &n)) return NULL;
  if (n < IO_LENGTH) { throw_range(env, "io must hold 6 entries"); return NULL; }
  char host[256] = "";
  napi_valuetype t;
  napi_typeof(env, argv[1], &t);
  if (t == napi_string) {
    size_t hl;
    napi_get_value_string_utf8(env, argv[1], host, sizeof host, &hl);
    if (hl == 0 || hl >= sizeof host - 1) {
      throw_range(env, "serverHostname must be 1 to 254 characters");
      return NULL;
    }
  } else if (t != napi_null && t != napi_undefined) {
    throw_type(env, "serverHostname must be a string or null");
    return NULL;
  }
  ERR_clear_error();
  engine* e = calloc(1, sizeof *e);
  if (e == NULL) { napi_throw_error(env, "ENOMEM", "out of memory"); return NULL; }
  e->env = env;
  e->io = io;
  e->holders = 1;
  e->ssl = SSL_new(c->ctx);
  BIO* rbio = tls_queue_new(&e->in);
  BIO* wbio = tls_queue_new(&e->out);
  if (e->ssl == NULL || rbio == NULL || wbio == NULL) {
    SSL_free(e->ssl);
    BIO_free(rbio);
    BIO_free(wbio);
    free(e);
    return tls_throw(env, "SSL_new");
  }
  SSL_set_bio(e->ssl, rbio, wbio);
  SSL_set_app_data(e->ssl, e);
  /* A write retried after a renegotiation passes the deferred queue, which may have moved. */
  SSL_set_mode(e->ssl, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_up_ref(c->ctx);
  e->origin = c;
  __atomic_add_fetch(&tls_live_engines, 1, __ATOMIC_RELAXED);
  int64_t ignored;
  napi_adjust_external_memory(env, EXTERNAL_COST, &ignored);
  napi_create_reference(env, argv[2], 1, &e->io_ref);
  if (c->server) {
    SSL_set_accept_state(e->ssl);
  } else {
    SSL_set_connect_state(e->ssl);
    if (host[0]) {
      unsigned char addr[16];
      int ip = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
      X509_VERIFY_PARAM* param = SSL_get0_param(e->ssl);
      e->host = strdup(host);
      /* An IP is checked against the IP SANs and never sent as SNI (RFC 6066 3), as Node. */
      int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host)
                  : X509_VERIFY_PARAM_set1_host(param, host, 0) &&
                        SSL_set_tlsext_host_name(e->ssl, host);
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      if (!ip) e->sni = strdup(host);
      if (!ok || e->host == NULL || (!ip && e->sni == NULL)) {
        napi_value err = tls_error(env, "serverHostname");
        free_ssl(e);
        free(e);
        napi_throw(env, err);
        return NULL;
      }
    }
  }
  if (napi_wrap(env, self, e, finalize, NULL, NULL) != napi_ok) {
    free_ssl(e);
    free(e);
    return NULL;
  }
  napi_type_tag_object(env, self, &engine_tag);
  if (bind_method(env, self, e, "feedRead", feed_read) || bind_method(env, self, e, "writeInto", write_into)) return NULL;
  sync_io(e);
  return self;
}

/* feed(data): append bytes received from the peer. */
static napi_value feed(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1] = { NULL };
  engine* e = tls_engine_this(env, info, &argc, argv, 0);
  char* data;
  size_t len;
  if (e == NULL || arg_bytes(env, argv[0] ? argv[0] : undef(env), "data", &data, &len)) return NULL;
  if (e->io[IO_FLAGS] & F_EOF) {
    napi_throw_error(env, "ERR_INVALID_STATE", "feed() after feedEof()");
    return NULL;
  }
  size_t written;
  if (len > 0 && BIO_write_ex(SSL_get_rbio(e->ssl), data, len, &written) != 1) return fail(e, tls_error(env, "feed"));
  e->starved = 0;
  sync_io(e);
  return NULL;
}

/* feedEof(): the peer's stream ended; an empty input now reads as end of file. */
static napi_value feed_eof(napi_env env, napi_callback_info info) {
  engine* e = tls_engine_this(env, info, NULL, NULL, 0);
  if (e == NULL) return NULL;
  e->in->eof = 1;
  e->io[IO_FLAGS] |= F_EOF;
  sync_io(e);
  return NULL;
}

/* The fewest bytes an application-data record of the settled cipher carries beyond its
 * plaintext, its 5-byte header aside: with it JS sizes a read's buffer to the plaintext of
 * the whole records it feeds (tls.ts). AEAD ciphers only: the tag, plus TLS 1.3's inner
 * content type or TLS 1.2's explicit nonce (GCM, CCM); 0 (unknown: size by the ciphertext)
 * for the rest, whose padding varies. A record may carry less (TLS 1.3 padding) or no
 * application data: the buffer is then only larger than needed. */
static int32_t record_overhead(SSL* ssl) {
  const SSL_CIPHER* c = SSL_get_current_cipher(ssl);
  if (c == NULL || !SSL_CIPHER_is_aead(c)) return 0;
  const char* name = SSL_CIPHER_get_name(c);
  int32_t tag = strstr(name, "CCM8") || strstr(name, "CCM_8") ? 8 : 16;
  if (SSL_version(ssl) >= TLS1_3_VERSION) return tag + 1;
  return SSL_CIPHER_get_cipher_nid(c) == NID_chacha20_poly1305 ? tag : tag + 8;
}

/* handshake() -> 0 done, 1 want-read, 2 want-sni */
static napi_value handshake(napi_env env, napi_callback_info info) {
  engine* e = tls_engine_this(env, info, NULL, NULL, 1);
  if (e == NULL || rethrow(e)) return NULL;
  if (e->sni_state == 1) e->sni_state = 2; /* no useContext(): keep this context */
  int r = SSL_do_handshake(e->ssl);
  int state = HS_DONE;
  if (r != 1) {
    int err = SSL_get_error(e->ssl, r);
    if (err == SSL_ERROR_WANT_READ) state = HS_WANT_READ;
    else if (err == SSL_ERROR_WANT_CLIENT_HELLO_CB) state = HS_WANT_SNI;
    else return ssl_failure(e, "handshake");
  }
  ERR_clear_error(); /* a verification let through (rejectUnauthorized: false) may leave entries */
  if (state == HS_DONE) {
    e->established = 1;
    e->io[IO_OVERHEAD] = record_overhead(e->ssl);
  }
  sync_io(e);
  return num(env, state);
}

/* Decrypt records into buf: the byte count (> 0), -1 when none is ready, 0 after
 * close_notify; NULL with an exception pending. Reads records until buf is full or none is
 * complete, so one call returns all there is. The caller syncs io after (feedRead once its
 * input is kept). */
static napi_value read_records(engine* e, char* buf, size_t cap) {
  napi_env env = e->env;
  if (rethrow(e)) return NULL;
  if (e->pending_zero) return num(env, 0);
  if (cap > INT32_MAX) cap = INT32_MAX;
  size_t got = 0;
  char tiny[1];
  /* No room: still report close_notify, EOF and errors, but only peek at application data,
   * which stays in the SSL (io[IO_READABLE] then says how much) for a call with room. */
  int peek_only = cap == 0;
  if (peek_only) { buf = tiny; cap = 1; }
  while (got < cap) {
    size_t n = 0;
    int r = peek_only ? SSL_peek_ex(e->ssl, buf, 1, &n) : SSL_read_ex(e->ssl, buf + got, cap - got, &n);
    if (r == 1) {
      if (peek_only) break;
      got += n;
      /* No record bytes left anywhere and the stream not ended: another SSL_read could only
       * want input, so it is skipped (with SSL_get_error's look at the error queue). */
      if (!(e->io[IO_FLAGS] & F_EOF) && !SSL_has_pending(e->ssl) && tls_queue_size(e->in) == 0) {
        e->starved = 1;
        break;
      }
      continue;
    }
    int err = SSL_get_error(e->ssl, r);
    if (err == SSL_ERROR_WANT_READ) {
      e->starved = 1;
      break;
    }
    if (err == SSL_ERROR_ZERO_RETURN) {
      if (got > 0) e->pending_zero = 1; /* data first; the end on the next call */
      return num(env, got > 0 ? (int64_t)got : 0);
    }
    if (got == 0) return ssl_failure(e, "read");
    /* Deliver what was decrypted; the error is kept and thrown by the next call. */
    keep_error(e, err == SSL_ERROR_SSL || err == SSL_ERROR_SYSCALL ? tls_error(env, "read") : NULL);
    break;
  }
  return num(env, got > 0 ? (int64_t)got : -1);
}

/* After a read (which drives a renegotiation: a client's SSL_read answers the server's
 * HelloRequest, and takes the handshake messages that follow). While one is under way the
 * record overhead is unknown (the cipher may change: 0 sizes reads by the ciphertext); once it
 * finished, the writes it held are encrypted in order, then the close_notify shutdown() asked
 * for meanwhile. A failure is kept for the next call, as a read's after data. */
static void after_read(engine* e) {
  if (!e->established) return;
  if (SSL_in_init(e->ssl)) {
    e->renegotiating = 1;
    e->io[IO_OVERHEAD] = 0;
    return;
  }
  if (e->renegotiating) {
    e->renegotiating = 0;
    e->io[IO_OVERHEAD] = record_overhead(e->ssl);
  }
  if (e->error != NULL) return;
  tls_queue* q = &e->deferred;
  while (q->end > q->start) {
    size_t n = 0;
    if (SSL_write_ex(e->ssl, q->data + q->start, q->end - q->start, &n) != 1) {
      if (SSL_get_error(e->ssl, 0) == SSL_ERROR_WANT_READ) return;
      keep_error(e, tls_error(e->env, "write"));
      return;
    }
    tls_queue_consume(q, n);
  }
  if (e->shut_deferred) {
    e->shut_deferred = 0;
    int r = SSL_shutdown(e->ssl);
    if (r < 0 && SSL_get_error(e->ssl, r) != SSL_ERROR_WANT_READ) keep_error(e, tls_error(e->env, "shutdown"));
  }
}

/* readInto(buf) -> bytes read (> 0), -1 when none is ready, 0 after close_notify. */
static napi_value read_into(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1] = { NULL };
  engine* e = tls_engine_this(env, info, &argc, argv, 1);
  char* buf;
  size_t cap;
  if (e == NULL || arg_bytes(env, argv[0] ? argv[0] : undef(env), "buf", &buf, &cap)) return NULL;
  napi_value got = read_records(e, buf, cap);
  if (got != NULL) after_read(e);
  sync_io(e);
  return got;
}

/* The engine feedRead or writeInto is bound to (see bind_method), open, and their (data, buf)
 * arguments; NULL with a JS exception pending when closed, or an argument is missing or not
 * bytes. These two run once per socket read and per app write: a function made for one
 * engine finds it without the receiver's type tag check and unwrap (two private-property
 * lookups) that every method pays. */
static engine* bound_data_buf(napi_env env, napi_callback_info info, char** data, size_t* len, char** buf, size_t* cap) {
  size_t argc = 2;
  napi_value argv[2] = { NULL, NULL };
  void* bound = NULL;
  napi_get_cb_info(env, info, &argc, argv, NULL, &bound);
  engine* e = bound;
  if (e->ssl == NULL) {
    napi_throw_error(env, "ERR_TLS_ENGINE_CLOSED", "the TLS engine is closed");
    return NULL;
  }
  clear_ssl_errors();
  if (arg_bytes(env, argv[0] ? argv[0] : undef(env), "data", data, len) ||
      arg_bytes(env, argv[1] ? argv[1] : undef(env), "buf", buf, cap))
    return NULL;
  return e;
}

/* feedRead(data, buf) -> as feed(data) then readInto(buf), in one call. The SSL reads data
 * where it lies (after what the input queue held): only the part of a record it leaves is
 * copied into the queue, where feed() would copy everything in first. */
static napi_value feed_read(napi_env env, napi_callback_info info) {
  char *data, *buf;
  size_t len, cap;
  engine* e = bound_data_buf(env, info, &data, &len, &buf, &cap);
  if (e == NULL) return NULL;
  if (e->io[IO_FLAGS] & F_EOF) {
    napi_throw_error(env, "ERR_INVALID_STATE", "feed() after feedEof()");
    return NULL;
  }
  if (len > 0) e->starved = 0;
  tls_queue_lend(e->in, data, len);
  napi_value got = read_records(e, buf, cap);
  int kept = tls_queue_keep_lent(e->in);
  if (got != NULL) after_read(e);
  sync_io(e);
  if (got != NULL && !kept) return fail(e, tls_plain_error(env, "ENOMEM", "out of memory keeping the input"));
  return got;
}

/* Whether the engine can encrypt now: else 0 with an exception pending. */
static int writable(engine* e) {
  napi_env env = e->env;
  if (rethrow(e)) return 0;
  if (!e->established) {
    napi_throw_error(env, "ERR_INVALID_STATE", "write() before the handshake is done");
    return 0;
  }
  /* Not an OpenSSL call: OpenSSL would fail it as a fatal error, and a connection that
   * sent close_notify may still read what the peer sends (half-close). */
  if (e->shut_sent || (SSL_get_shutdown(e->ssl) & SSL_SENT_SHUTDOWN)) {
    napi_throw(env, tls_plain_error(env, "ERR_SSL_PROTOCOL_IS_SHUTDOWN", "protocol is shutdown"));
    return 0;
  }
  return 1;
}

/* Hold data until the renegotiation under way finishes (after_read encrypts it): 0 with an
 * error pending when memory ran out. */
static int defer(engine* e, const char* data, size_t len) {
  if (tls_queue_append(&e->deferred, data, len)) return 1;
  fail(e, tls_plain_error(e->env, "ENOMEM", "out of memory holding a write during a renegotiation"));
  return 0;
}

/* Encrypt all of data into the outgoing BIO (which grows: it never blocks), or during a
 * renegotiation hold it (after what is held already: order is kept); 0 with the (sticky)
 * error pending when OpenSSL failed. */
static int encrypt(engine* e, const char* data, size_t len) {
  if (e->deferred.end > e->deferred.start) return defer(e, data, len);
  while (len > 0) {
    size_t n = 0;
    if (SSL_write_ex(e->ssl, data, len, &n) != 1) {
      /* The only read a write can want (memory BIOs never block): the peer's next handshake
       * message of a renegotiation. */
      if (SSL_get_error(e->ssl, 0) == SSL_ERROR_WANT_READ) {
        ERR_clear_error();
        return defer(e, data, len);
      }
      ssl_failure(e, "write");
      return 0;
    }
    data += n;
    len -= n;
  }
  return 1;
}

/* write(data): encrypt all of data into the outgoing BIO. */
static napi_value write_(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1] = { NULL };
  engine* e = tls_engine_this(env, info, &argc, argv, 1);
  char* data;
  size_t len;
  if (e == NULL || arg_bytes(env, argv[0] ? argv[0] : undef(env), "data", &data, &len)) return NULL;
  if (writable(e) && encrypt(e, data, len)) sync_io(e);
  return NULL;
}

/* writeInto(data, buf) -> as write(data) then takeInto(buf), in one call: what was waiting
 * moves into buf first, then the new records are written straight after it, and only what
 * does not fit goes through the outgoing BIO. A failure is fatal (sticky), as write()'s. */
static napi_value write_into(napi_env env, napi_callback_info info) {
  char *data, *buf;
  size_t len, cap;
  engine* e = bound_data_buf(env, info, &data, &len, &buf, &cap);
  if (e == NULL) return NULL;
  if (!writable(e)) return NULL;
  if (cap > INT32_MAX) cap = INT32_MAX;
  size_t moved = 0;
  /* Usually nothing waits: no call through the BIO to learn that. */
  if (cap > 0 && e->out->end > e->out->start) BIO_read_ex(SSL_get_wbio(e->ssl), buf, cap, &moved);
  tls_queue_sink(e->out, buf + moved, cap - moved);
  int ok = encrypt(e, data, len);
  size_t sunk = tls_queue_unsink(e->out);
  if (!ok) return NULL;
  sync_io(e);
  return num(env, (int64_t)(moved + sunk));
}

/* takeInto(buf) -> bytes moved from the outgoing BIO into buf */
static napi_value take_into(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1] = { NULL };
  engine* e = tls_engine_this(env, info, &argc, argv, 0);
  char* buf;
  size_t cap;
  if (e == NULL || arg_bytes(env, argv[0] ? argv[0] : undef(env), "buf", &buf, &cap)) return NULL;
  size_t n = 0;
  if (cap > 0) BIO_read_ex(SSL_get_wbio(e->ssl), buf, cap > INT32_MAX ? INT32_MAX : cap, &n);
  sync_io(e);
  return num(env, (int64_t)n);
}

/* shutdown() -> true once the peer's close_notify was received too.
 * The first call sends close_notify. Then (this call and later ones) the peer's is
 * looked for in what was fed, reading with SSL_read: SSL_shutdown's own read fails the
 * connection on application data that arrives after our close_notify ("application
 * data after close notify"), while TLS lets the peer finish sending; that data is
 * discarded here (read() before shutdown() to keep it). A failed or unfinished
 * handshake has nothing to close: the call then only reports. */
static napi_value shutdown_(napi_env env, napi_callback_info info) {
  engine* e = tls_engine_this(env, info, NULL, NULL, 1);
  if (e == NULL) return NULL;
  int received = SSL_get_shutdown(e->ssl) & SSL_RECEIVED_SHUTDOWN;
  if (e->established && e->error == NULL) {
    if (!e->shut_sent) {
      e->shut_sent = 1;
      /* During a renegotiation SSL_shutdown fails ("shutdown while in init"), and held writes
       * go first: close_notify follows them once it finished (after_read). */
      if (SSL_in_init(e->ssl) || e->deferred.end > e->deferred.start) {
        e->shut_deferred = 1;
      } else {
        int r = SSL_shutdown(e->ssl);
        if (r < 0 && SSL_get_error(e->ssl, r) != SSL_ERROR_WANT_READ) return ssl_failure(e, "shutdown");
      }
    }
    char sink[4096];
    while (!received && !e->pending_zero) {
      size_t n;
      int r = SSL_read_ex(e->ssl, sink, sizeof sink, &n);
      if (r == 1) continue;
      int err = SSL_get_error(e->ssl, r);
      if (err == SSL_ERROR_WANT_READ) break;
      if (err != SSL_ERROR_ZERO_RETURN) return ssl_failure(e, "shutdown");
      received = 1;
    }
    received = received || e->pending_zero;
    after_read(e);
    if (e->error != NULL) {
      sync_io(e);
      rethrow(e);
      return NULL;
    }
  }
  ERR_clear_error();
  sync_io(e);
  napi_value v;
  napi_get_boolean(env, received != 0, &v);
  return v;
}

/* useContext(context): after want-sni, serve this connection with another SSL_CTX. */
static napi_value use_context(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1] = { NULL };
  engine* e = tls_engine_this(env, info, &argc, argv, 1);
  if (e == NULL) return NULL;
  tls_ctx* c = tls_ctx_unwrap(env, argv[0] ? argv[0] : undef(env), "context");
  if (c == NULL) return NULL;
  if (e->sni_state != 1) {
    napi_throw_error(env, "ERR_INVALID_STATE", "useContext() only after handshake() returned 'want-sni'");
    return NULL;
  }
  if (!c->server) { throw_type(env, "context must be a server context"); return NULL; }
  if (SSL_set_SSL_CTX(e->ssl, c->ctx) == NULL) return fail(e, tls_error(env, "useContext"));
  e->sni_state = 2;
  return NULL;
}

/* close(): free the SSL now; idempotent. */
static napi_value close_(napi_env env, napi_callback_info info) {
  napi_value self;
  void* p = NULL;
  bool ok = false;
  napi_get_cb_info(env, info, NULL, NULL, &self, NULL);
  if (napi_check_object_type_tag(env, self, &engine_tag, &ok) != napi_ok || !ok ||
      napi_unwrap(env, self, &p) != napi_ok || p == NULL) {
    throw_type(env, "method called on an incompatible receiver");
    return NULL;
  }
  free_ssl(p);
  return NULL;
}

/* tlsStats() -> {engines, contexts}: live SSL and SSL_CTX objects of the process. */
static napi_value stats(napi_env env, napi_callback_info info) {
  napi_value obj;
  napi_create_object(env, &obj);
  napi_set_named_property(env, obj, "engines", num(env, __atomic_load_n(&tls_live_engines, __ATOMIC_RELAXED)));
  napi_set_named_property(env, obj, "contexts", num(env, __atomic_load_n(&tls_live_contexts, __ATOMIC_RELAXED)));
  return obj;
}

napi_value tls_init(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
    METHOD("feed", feed), METHOD("feedEof", feed_eof), METHOD("handshake", handshake),
    METHOD("readInto", read_into), METHOD("write", write_), METHOD("takeInto", take_into),
    METHOD("shutdown", shutdown_), METHOD("servername", tls_servername),
    METHOD("useContext", use_context), METHOD("info", tls_info), METHOD("close", close_),
  };
  napi_value cls;
  napi_define_class(env, "TLSEngine", NAPI_AUTO_LENGTH, ctor, NULL,
                    sizeof methods / sizeof methods[0], methods, &cls);
  napi_set_named_property(env, exports, "TLSEngine", cls);
  napi_property_descriptor fns[] = { METHOD("tlsStats", stats) };
  napi_define_properties(env, exports, 1, fns);
  tls_ctx_init(env, exports);
  return exports;
}
