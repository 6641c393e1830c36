/* Shared declarations of the TLS engine (tls_err.c, tls_ctx.c, tls.c).
 *
 * OpenSSL comes from the process, not from us: the node binary exports its
 * symbols and node-gyp puts its headers (include/node/openssl) first on the
 * include path, so the addon links no libssl of its own and always speaks to
 * the very OpenSSL that Node's own `tls` module uses (same version, same
 * providers, same thread error queues). */
#ifndef LOOPKIT_TLS_H
#define LOOPKIT_TLS_H

#include "common.h"
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* An SSL_CTX and what the engines made from it need to know about it.
 * Owned by its JS wrap: the finalizer drops this struct's reference on the
 * SSL_CTX; every SSL made from it holds its own (SSL_new / SSL_set_SSL_CTX up-ref),
 * so a context may be collected while its connections live on. */
typedef struct tls_ctx {
  SSL_CTX* ctx;
  int server;
  int sni_hook;            /* engines stop at the ClientHello for 'want-sni' */
  int reject;              /* a peer certificate that does not verify fails the handshake */
  unsigned char* alpn;     /* server: protocols we accept, in wire format */
  unsigned int alpn_len;
} tls_ctx;

/* SSL_CTX callbacks that read the engine (tls_session.c): the SNI pause, ALPN selection,
 * and verification of the peer's chain. */
int tls_verify_chain(X509_STORE_CTX* x, void* arg);
int tls_client_hello_cb(SSL* s, int* al, void* arg);
int tls_alpn_select(SSL* s, const unsigned char** out, unsigned char* outlen,
                    const unsigned char* in, unsigned int inlen, void* arg);

/* The tls_ctx behind a TLSContext JS object, or NULL with a TypeError pending. */
tls_ctx* tls_ctx_unwrap(napi_env env, napi_value v, const char* name);

/* The error OpenSSL's thread queue describes (see tls_err.c); the queue is cleared.
 * `what` names the operation when the queue is empty. */
napi_value tls_error(napi_env env, const char* what);
/* The certificate error for verify result `vcode` (sslKind 'cert'). */
napi_value tls_verify_error(napi_env env, long vcode, const char* host);
/* An SSL-library error OpenSSL did not queue: `code`, library 'SSL routines', `reason`. */
napi_value tls_plain_error(napi_env env, const char* code, const char* reason);
/* napi_throw(tls_error(...)); returns NULL for `return tls_throw(...)`. */
napi_value tls_throw(napi_env env, const char* what);
/* Node's name for a verify result: 'DEPTH_ZERO_SELF_SIGNED_CERT', 'ERR_TLS_CERT_ALTNAME_INVALID', ... */
const char* tls_verify_code(long vcode);

/* ---- the engine's BIOs (tls_bio.c): a byte queue per direction */

/* A queue that grew past this gives its memory back once emptied. */
#define TLS_QUEUE_KEEP (1 << 20)

typedef struct tls_queue {
  char* data;
  size_t start, end, cap; /* unread bytes: data[start, end) */
  int eof;                /* empty now reads as end of file, not want-read */
  /* Within one engine call only (tls_queue_lend .. tls_queue_keep_lent): the caller's bytes,
   * read after the queued ones where they lie, so whole records are never copied in. */
  const char* lent;
  size_t lent_len;
  /* Within one engine call only (tls_queue_sink .. tls_queue_unsink): the caller's buffer,
   * filled first while the queue is empty, so records go out without a copy through it. */
  char* sink;
  size_t sink_cap, sink_len;
} tls_queue;

/* A new queue BIO (freed with the SSL that owns it), and its queue in *queue; NULL on failure. */
BIO* tls_queue_new(tls_queue** queue);
/* Bytes readable: queued and lent. */
size_t tls_queue_size(const tls_queue* q);
/* Append to the queue (it grows): 0 when memory ran out. */
int tls_queue_append(tls_queue* q, const char* in, size_t len);
/* Drop the first `n` queued bytes (data[start, start + n)). */
void tls_queue_consume(tls_queue* q, size_t n);
/* Free a queue that belongs to no BIO (its memory, then all zero). */
void tls_queue_free(tls_queue* q);
/* Lend `data` to be read after the queued bytes (until tls_queue_keep_lent). */
void tls_queue_lend(tls_queue* q, const char* data, size_t len);
/* End the loan: copy what was not read into the queue. 0 when memory ran out. */
int tls_queue_keep_lent(tls_queue* q);
/* Writes go to `buf` (up to `cap` bytes) while the queue is empty, the rest to the queue. */
void tls_queue_sink(tls_queue* q, char* buf, size_t cap);
/* End the sink: the bytes written into it. */
size_t tls_queue_unsink(tls_queue* q);

/* ---- the engine (tls.c), shared with tls_session.c */

enum { IO_READABLE = 0, IO_FLAGS = 1, IO_OUTGOING = 2, IO_HELD = 3, IO_OVERHEAD = 4, IO_DEFERRED = 5, IO_LENGTH = 6 };
enum { F_EOF = 1, F_CLOSE_NOTIFY = 2, F_ERROR = 4, F_CLOSED = 8 };
enum { HS_DONE = 0, HS_WANT_READ = 1, HS_WANT_SNI = 2 };

typedef struct tls_engine {
  SSL* ssl;          /* NULL once closed */
  tls_queue* in;     /* network -> SSL: the read BIO's queue (the BIO is owned by ssl) */
  tls_queue* out;    /* SSL -> network: the write BIO's queue (the BIO is owned by ssl) */
  tls_ctx* origin;   /* the context it was made from (one SSL_CTX reference) */
  napi_env env;
  napi_ref io_ref;
  int32_t* io;
  napi_ref error;    /* the sticky fatal error */
  char* sni;         /* client: the name sent; server: the name the ClientHello gave */
  char* host;        /* client: the name or IP checked against the certificate */
  int sni_state;     /* 0: no pause; 1: paused at the ClientHello; 2: resolved */
  int shut_sent;     /* shutdown() was called: no more writes */
  int established;   /* the first handshake finished (a renegotiation may be under way) */
  int renegotiating; /* the peer asked for a renegotiation that has not finished yet */
  /* Plaintext written while a renegotiation is under way (SSL_write wants the peer's next
   * handshake message first): encrypted, in order, once it finishes; then close_notify, if
   * shutdown() came meanwhile (SSL_shutdown refuses to run during a handshake). */
  tls_queue deferred;
  int shut_deferred;
  int pending_zero;  /* close_notify read after data: read() reports it next */
  int starved;       /* the last read wanted input: a record the SSL holds is partial until feed() */
  int holders;       /* the JS object and its bound functions: the last to be collected frees this */
} engine;

/* The open engine behind `this` (else NULL with a TypeError or ERR_TLS_ENGINE_CLOSED
 * thrown); `ssl_call`: clear OpenSSL's queue first, the method is about to call the SSL. */
engine* tls_engine_this(napi_env env, napi_callback_info info, size_t* argc, napi_value* argv,
                        int ssl_call);
/* servername() and info() (tls_session.c). */
napi_value tls_servername(napi_env env, napi_callback_info info);
napi_value tls_info(napi_env env, napi_callback_info info);

/* Live SSL and SSL_CTX objects of the process (a leak shows as growth). */
extern int64_t tls_live_engines;
extern int64_t tls_live_contexts;

napi_value tls_ctx_init(napi_env env, napi_value exports);

#endif
