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
  unsigned char* alpn;     /* server: protocols we accept, in wire format */
  unsigned int alpn_len;
} tls_ctx;

/* SSL_CTX callbacks that read the engine (tls.c): the SNI pause and ALPN selection. */
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

/* Live SSL and SSL_CTX objects of the process (a leak shows as growth). */
extern int64_t tls_live_engines;
extern int64_t tls_live_contexts;

napi_value tls_ctx_init(napi_env env, napi_value exports);

#endif
