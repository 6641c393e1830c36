/* TLSContext: one SSL_CTX compiled from Node-style options (src/tls-options.ts
 * parses them; each method here is one OpenSSL setting), and CertStore: a parsed
 * trust store (X509_STORE) that many contexts share.
 *
 * Lifecycle:
 * - The SSL_CTX is reference-counted by OpenSSL. The JS wrap holds one reference,
 *   dropped by its finalizer; every SSL made from it holds another (SSL_new,
 *   SSL_set_SSL_CTX). So a context object may be collected while connections made
 *   from it are still open: they keep the SSL_CTX alive, and it is freed with the
 *   last of them.
 * - The tls_ctx struct (ALPN list, flags) is what OpenSSL's callbacks read while a
 *   handshake runs, so it must live exactly as long as the SSL_CTX, not as long as
 *   the JS object: it hangs off the SSL_CTX's ex_data and is freed by OpenSSL's
 *   ex_data free callback when the SSL_CTX goes.
 * - An X509_STORE is reference-counted too: SSL_CTX_set1_cert_store takes its own
 *   reference, so the cached default store (tls.rootCertificates, parsed once per
 *   thread by the JS side) is shared by every context without copying it.
 * - Nothing here owns an fd or a uv handle, so the env cleanup hook has nothing to
 *   do: Node-API runs the wrap finalizers of what is left at env teardown. */
#include "tls.h"
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

int64_t tls_live_contexts;

static int ex_index = -1;
static pthread_once_t ex_once = PTHREAD_ONCE_INIT;

static void ex_free(void* parent, void* ptr, CRYPTO_EX_DATA* ad, int idx, long argl, void* argp) {
  tls_ctx* c = ptr;
  if (c == NULL) return;
  OPENSSL_free(c->alpn);
  free(c);
  __atomic_sub_fetch(&tls_live_contexts, 1, __ATOMIC_RELAXED);
}

static void ex_setup(void) { ex_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, ex_free); }

/* napi_unwrap accepts any wrapped object (a Socket's, an Epoll's): the type tags
 * make sure a pointer is only ever read as the struct it is. */
static const napi_type_tag ctx_tag = { 0x6c6f6f706b697401ULL, 0x746c732d63747801ULL };
static const napi_type_tag store_tag = { 0x6c6f6f706b697401ULL, 0x746c732d73746f72ULL };

static void finalize(napi_env env, void* data, void* hint) {
  SSL_CTX_free(((tls_ctx*)data)->ctx); /* frees the tls_ctx too when it was the last ref */
}

/* new TLSContext(serverSide) */
static napi_value ctor(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], self;
  bool server = false;
  napi_get_cb_info(env, info, &argc, argv, &self, NULL);
  if (argc < 1 || napi_get_value_bool(env, argv[0], &server) != napi_ok) {
    throw_type(env, "serverSide must be a boolean");
    return NULL;
  }
  pthread_once(&ex_once, ex_setup);
  ERR_clear_error();
  tls_ctx* c = calloc(1, sizeof *c);
  if (c == NULL) { napi_throw_error(env, "ENOMEM", "out of memory"); return NULL; }
  c->ctx = SSL_CTX_new(TLS_method());
  if (c->ctx == NULL || ex_index < 0) {
    free(c);
    return tls_throw(env, "SSL_CTX_new");
  }
  c->server = server;
  SSL_CTX_set_ex_data(c->ctx, ex_index, c);
  __atomic_add_fetch(&tls_live_contexts, 1, __ATOMIC_RELAXED);
  /* Renegotiation (TLS 1.2): a client goes along with a server that asks for one (a
   * HelloRequest, e.g. to ask for a client certificate on one path), as Node's and Python's
   * clients do; the engine holds the writes made meanwhile (tls.c). A server refuses a
   * client's (a no_renegotiation alert), as OpenSSL 3 and Python 3.13 do: each costs the
   * server a handshake on the client's say-so (a DoS lever).
   * A server prefers its own cipher order, as Node's createServer (honorCipherOrder). */
  SSL_CTX_set_options(c->ctx, server ? SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE : 0);
  /* No internal session cache: it would hold every session of a long-lived server
   * in memory; TLS 1.3 tickets (stateless) still resume. The id context must be set
   * on a server that asks for client certificates, or resumption fails outright. */
  SSL_CTX_set_session_cache_mode(c->ctx, SSL_SESS_CACHE_OFF);
  if (server) SSL_CTX_set_session_id_context(c->ctx, (const unsigned char*)"loopkit", 7);
  /* Every server context selects ALPN through the engine, which reads the list of the
   * context it was made from: after an SNI switch (useContext) the connection keeps
   * its server's ALPNProtocols, as a Node TLSSocket does. */
  if (server) SSL_CTX_set_alpn_select_cb(c->ctx, tls_alpn_select, NULL);
  if (napi_wrap(env, self, c, finalize, NULL, NULL) != napi_ok) {
    SSL_CTX_free(c->ctx);
    return NULL;
  }
  napi_type_tag_object(env, self, &ctx_tag);
  return self;
}

static void* unwrap_tagged(napi_env env, napi_value v, const napi_type_tag* tag) {
  bool ok = false;
  void* p = NULL;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_object) return NULL;
  if (napi_check_object_type_tag(env, v, tag, &ok) != napi_ok || !ok) return NULL;
  if (napi_unwrap(env, v, &p) != napi_ok) return NULL;
  return p;
}

tls_ctx* tls_ctx_unwrap(napi_env env, napi_value v, const char* name) {
  tls_ctx* c = unwrap_tagged(env, v, &ctx_tag);
  if (c == NULL) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s must be a TLSContext", name);
    throw_type(env, msg);
  }
  return c;
}

/* The context behind `this` (checked by tag, as every method here reads it as a tls_ctx). */
static tls_ctx* this_ctx(napi_env env, napi_callback_info info, size_t* argc, napi_value* argv) {
  napi_value self;
  size_t zero = 0;
  napi_get_cb_info(env, info, argc ? argc : &zero, argv, &self, NULL);
  tls_ctx* c = unwrap_tagged(env, self, &ctx_tag);
  if (c == NULL) throw_type(env, "method called on an incompatible receiver");
  return c;
}

#define THIS0()                                            \
  tls_ctx* c = this_ctx(env, info, NULL, NULL);            \
  if (c == NULL) return NULL;                              \
  ERR_clear_error()

#define THIS(n)                                           \
  size_t argc = n;                                        \
  napi_value argv[n];                                     \
  tls_ctx* c = this_ctx(env, info, &argc, argv);         \
  if (c == NULL) return NULL;                             \
  for (size_t i_ = argc; i_ < (size_t)n; i_++) argv[i_] = undef(env); \
  ERR_clear_error()

/* A setting OpenSSL refused: its queued error, or (some setters queue none) a TypeError
 * naming the option, as the contract asks for a bad option. */
static napi_value refused(napi_env env, const char* what) {
  if (ERR_peek_last_error() != 0) return tls_throw(env, what);
  char msg[128];
  snprintf(msg, sizeof msg, "%s: OpenSSL refused the value", what);
  napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", msg);
  return NULL;
}

/* A JS string argument into buf; 0, or THREW. */
static int arg_str(napi_env env, napi_value v, const char* name, char* buf, size_t cap) {
  size_t n;
  if (napi_get_value_string_utf8(env, v, buf, cap, &n) != napi_ok) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s must be a string", name);
    return throw_type(env, msg);
  }
  if (n >= cap - 1) return throw_range(env, "string argument too long");
  return 0;
}

/* setProtocols(min, max): TLS1_2_VERSION style numbers, 0 for OpenSSL's bound */
static napi_value set_protocols(napi_env env, napi_callback_info info) {
  THIS(2);
  int32_t lo, hi;
  if (arg_int32(env, argv[0], "min", &lo) || arg_int32(env, argv[1], "max", &hi)) return NULL;
  if (!SSL_CTX_set_min_proto_version(c->ctx, lo) || !SSL_CTX_set_max_proto_version(c->ctx, hi))
    return refused(env, "setProtocols");
  return undef(env);
}

/* setCiphers(cipherList, cipherSuites): the TLS 1.2 list and the TLS 1.3 suites,
 * split as Node splits its `ciphers` option. An empty TLS 1.2 list means
 * "TLS 1.3 suites only", as Node (OpenSSL calls it no cipher match). */
static napi_value set_ciphers(napi_env env, napi_callback_info info) {
  THIS(2);
  char list[4096], suites[1024];
  if (arg_str(env, argv[0], "cipherList", list, sizeof list) ||
      arg_str(env, argv[1], "cipherSuites", suites, sizeof suites)) return NULL;
  if (!SSL_CTX_set_ciphersuites(c->ctx, suites)) return refused(env, "ciphers");
  if (!SSL_CTX_set_cipher_list(c->ctx, list)) {
    if (list[0] != 0 || ERR_GET_REASON(ERR_peek_last_error()) != SSL_R_NO_CIPHER_MATCH)
      return refused(env, "ciphers");
    ERR_clear_error();
  }
  return undef(env);
}

/* setGroups(list) (ecdhCurve) and setSigalgs(list) */
static napi_value set_groups(napi_env env, napi_callback_info info) {
  THIS(1);
  char s[1024];
  if (arg_str(env, argv[0], "ecdhCurve", s, sizeof s)) return NULL;
  if (!SSL_CTX_set1_groups_list(c->ctx, s)) return refused(env, "ecdhCurve");
  return undef(env);
}

static napi_value set_sigalgs(napi_env env, napi_callback_info info) {
  THIS(1);
  char s[2048];
  if (arg_str(env, argv[0], "sigalgs", s, sizeof s)) return NULL;
  if (!SSL_CTX_set1_sigalgs_list(c->ctx, s)) return refused(env, "sigalgs");
  return undef(env);
}

/* addCert(pem): a leaf and the chain behind it. Called once per entry of `cert`;
 * OpenSSL files each leaf under its key type, and the chain goes with that leaf. */
static napi_value add_cert(napi_env env, napi_callback_info info) {
  THIS(1);
  char* data;
  size_t len;
  if (arg_bytes(env, argv[0], "cert", &data, &len)) return NULL;
  BIO* b = BIO_new_mem_buf(data, (int)len);
  X509* leaf = b ? PEM_read_bio_X509_AUX(b, NULL, NULL, NULL) : NULL;
  int ok = leaf != NULL && SSL_CTX_use_certificate(c->ctx, leaf);
  X509_free(leaf);
  X509* x;
  while (ok && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
    ok = SSL_CTX_add0_chain_cert(c->ctx, x);
    if (!ok) X509_free(x);
  }
  BIO_free(b);
  if (!ok) return refused(env, "cert");
  ERR_clear_error(); /* the end of the PEM input leaves "no start line" behind */
  return undef(env);
}

static int pass_cb(char* buf, int size, int rwflag, void* u) {
  if (u == NULL) return 0;
  int n = (int)strlen(u);
  if (n > size) n = size;
  memcpy(buf, u, (size_t)n);
  return n;
}

/* addKey(pem, passphrase?): checked against the certificate of its type. */
static napi_value add_key(napi_env env, napi_callback_info info) {
  THIS(2);
  char* data;
  size_t len;
  char pass[1024];
  int has_pass = !is_undefined(env, argv[1]);
  if (arg_bytes(env, argv[0], "key", &data, &len)) return NULL;
  if (has_pass && arg_str(env, argv[1], "passphrase", pass, sizeof pass)) return NULL;
  BIO* b = BIO_new_mem_buf(data, (int)len);
  EVP_PKEY* k = b ? PEM_read_bio_PrivateKey(b, NULL, pass_cb, has_pass ? pass : NULL) : NULL;
  BIO_free(b);
  int ok = k != NULL && SSL_CTX_use_PrivateKey(c->ctx, k);
  EVP_PKEY_free(k);
  OPENSSL_cleanse(pass, sizeof pass);
  if (!ok) return refused(env, "key");
  return undef(env);
}

/* usePfx(der, passphrase?): certificate, key and chain from a PKCS#12 bundle. */
static napi_value use_pfx(napi_env env, napi_callback_info info) {
  THIS(2);
  char* data;
  size_t len;
  char pass[1024];
  int has_pass = !is_undefined(env, argv[1]);
  if (arg_bytes(env, argv[0], "pfx", &data, &len)) return NULL;
  if (has_pass && arg_str(env, argv[1], "passphrase", pass, sizeof pass)) return NULL;
  BIO* b = BIO_new_mem_buf(data, (int)len);
  PKCS12* p12 = b ? d2i_PKCS12_bio(b, NULL) : NULL;
  BIO_free(b);
  EVP_PKEY* k = NULL;
  X509* x = NULL;
  STACK_OF(X509)* chain = NULL;
  int ok = p12 != NULL && PKCS12_parse(p12, has_pass ? pass : "", &k, &x, &chain) &&
           x != NULL && k != NULL && SSL_CTX_use_certificate(c->ctx, x) &&
           SSL_CTX_use_PrivateKey(c->ctx, k);
  for (int i = 0; ok && chain != NULL && i < sk_X509_num(chain); i++)
    ok = SSL_CTX_add1_chain_cert(c->ctx, sk_X509_value(chain, i));
  PKCS12_free(p12);
  EVP_PKEY_free(k);
  X509_free(x);
  sk_X509_pop_free(chain, X509_free);
  OPENSSL_cleanse(pass, sizeof pass);
  if (!ok) return refused(env, "pfx");
  return undef(env);
}

/* checkKey(): every certificate has its private key (createContext fails, not the handshake). */
static napi_value check_key(napi_env env, napi_callback_info info) {
  THIS0();
  if (!SSL_CTX_check_private_key(c->ctx)) return refused(env, "key");
  return undef(env);
}

/* setVerify(verifyPeer, failIfNoCert, reject). The chain itself is verified by
 * tls_verify_chain (tls_session.c), which runs the whole verification as Node does and
 * then fails the handshake (an alert to the peer) only when `reject`. */
static napi_value set_verify(napi_env env, napi_callback_info info) {
  THIS(3);
  bool peer = false, need = false, reject = false;
  napi_get_value_bool(env, argv[0], &peer);
  napi_get_value_bool(env, argv[1], &need);
  napi_get_value_bool(env, argv[2], &reject);
  int mode = peer ? SSL_VERIFY_PEER | (need ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0) : SSL_VERIFY_NONE;
  c->reject = reject;
  SSL_CTX_set_verify(c->ctx, mode, NULL);
  SSL_CTX_set_cert_verify_callback(c->ctx, tls_verify_chain, NULL);
  return undef(env);
}

/* setALPN(wire): client: the protocols offered; server: the ones it accepts, in its order. */
static napi_value set_alpn(napi_env env, napi_callback_info info) {
  THIS(1);
  char* data;
  size_t len;
  if (arg_bytes(env, argv[0], "ALPNProtocols", &data, &len)) return NULL;
  if (!c->server) {
    if (SSL_CTX_set_alpn_protos(c->ctx, (unsigned char*)data, (unsigned int)len) != 0)
      return refused(env, "ALPNProtocols");
    return undef(env);
  }
  unsigned char* copy = OPENSSL_memdup(data, len);
  if (copy == NULL) return refused(env, "ALPNProtocols");
  OPENSSL_free(c->alpn);
  c->alpn = copy;
  c->alpn_len = (unsigned int)len;
  return undef(env);
}

/* setSNIHook(): engines of this server stop at a ClientHello naming a server ('want-sni'). */
static napi_value set_sni_hook(napi_env env, napi_callback_info info) {
  THIS0();
  c->sni_hook = 1;
  SSL_CTX_set_client_hello_cb(c->ctx, tls_client_hello_cb, NULL);
  return undef(env);
}

/* setStore(store, clientCAs): trust `store`; a server also names its CAs to clients
 * (the certificate_authorities a client picks its certificate by), as Node does for `ca`. */
static napi_value set_store(napi_env env, napi_callback_info info) {
  THIS(2);
  X509_STORE* st = unwrap_tagged(env, argv[0], &store_tag);
  bool names = false;
  if (st == NULL) {
    throw_type(env, "store must be a CertStore");
    return NULL;
  }
  napi_get_value_bool(env, argv[1], &names);
  SSL_CTX_set1_cert_store(c->ctx, st);
  if (names && c->server) {
    STACK_OF(X509_OBJECT)* objs = X509_STORE_get0_objects(st);
    for (int i = 0; i < sk_X509_OBJECT_num(objs); i++) {
      X509* x = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));
      if (x != NULL && !SSL_CTX_add_client_CA(c->ctx, x)) return refused(env, "ca");
    }
  }
  return undef(env);
}

/* ---- CertStore: new CertStore(pem) parses every certificate of a PEM text. */

static void store_finalize(napi_env env, void* data, void* hint) { X509_STORE_free(data); }

static napi_value store_ctor(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], self, count;
  char* data;
  size_t len;
  napi_get_cb_info(env, info, &argc, argv, &self, NULL);
  if (argc < 1 || arg_bytes(env, argv[0], "ca", &data, &len)) return NULL;
  ERR_clear_error();
  X509_STORE* st = X509_STORE_new();
  BIO* b = st ? BIO_new_mem_buf(data, (int)len) : NULL;
  if (b == NULL) { X509_STORE_free(st); return refused(env, "ca"); }
  int n = 0;
  X509* x;
  /* _AUX also reads "TRUSTED CERTIFICATE" blocks, as Node accepts them. */
  while ((x = PEM_read_bio_X509_AUX(b, NULL, NULL, NULL)) != NULL) {
    /* The same root twice (a bundle and a chain) is not an error. */
    if (X509_STORE_add_cert(st, x)) n++;
    X509_free(x);
  }
  BIO_free(b);
  ERR_clear_error();
  if (napi_wrap(env, self, st, store_finalize, NULL, NULL) != napi_ok) {
    X509_STORE_free(st);
    return NULL;
  }
  napi_type_tag_object(env, self, &store_tag);
  napi_create_int32(env, n, &count);
  napi_set_named_property(env, self, "count", count);
  return self;
}

napi_value tls_ctx_init(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
    METHOD("setProtocols", set_protocols), METHOD("setCiphers", set_ciphers),
    METHOD("setGroups", set_groups), METHOD("setSigalgs", set_sigalgs),
    METHOD("addCert", add_cert), METHOD("addKey", add_key), METHOD("usePfx", use_pfx),
    METHOD("checkKey", check_key), METHOD("setVerify", set_verify), METHOD("setALPN", set_alpn),
    METHOD("setSNIHook", set_sni_hook), METHOD("setStore", set_store),
  };
  napi_value cls, store;
  napi_define_class(env, "TLSContext", NAPI_AUTO_LENGTH, ctor, NULL,
                    sizeof methods / sizeof methods[0], methods, &cls);
  napi_set_named_property(env, exports, "TLSContext", cls);
  napi_define_class(env, "CertStore", NAPI_AUTO_LENGTH, store_ctor, NULL, 0, NULL, &store);
  napi_set_named_property(env, exports, "CertStore", store);
  return exports;
}
