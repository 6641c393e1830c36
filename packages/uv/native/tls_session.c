/* What a TLS connection settled, and the two SSL_CTX callbacks that consult the engine
 * during a handshake: the ClientHello pause behind 'want-sni' and ALPN selection.
 * Lifecycle: nothing here owns anything; the callbacks find their engine through the
 * SSL's app data, which lives exactly as long as the SSL (tls.c). */
#include "tls.h"
#include <stdlib.h>
#include <string.h>

static napi_value str_or_null(napi_env env, const char* s) {
  napi_value v;
  if (s == NULL) napi_get_null(env, &v);
  else napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v);
  return v;
}

/* servername() -> the SNI name sent (client) or received (server), or null */
napi_value tls_servername(napi_env env, napi_callback_info info) {
  engine* e = tls_engine_this(env, info, NULL, NULL, 0);
  if (e == NULL) return NULL;
  const char* s = e->sni;
  if (s == NULL && SSL_is_server(e->ssl)) s = SSL_get_servername(e->ssl, TLSEXT_NAMETYPE_host_name);
  return str_or_null(env, s);
}

int tls_client_hello_cb(SSL* s, int* al, void* arg) {
  engine* e = SSL_get_app_data(s);
  const unsigned char* p;
  size_t len;
  if (e == NULL || e->sni_state != 0) return SSL_CLIENT_HELLO_SUCCESS;
  if (!SSL_client_hello_get0_ext(s, TLSEXT_TYPE_server_name, &p, &len) || len < 2)
    return SSL_CLIENT_HELLO_SUCCESS; /* no name: nothing to choose by, as Node */
  /* ServerNameList (RFC 6066 3): u16 length, then (u8 type, u16 length, name) entries. */
  size_t list = ((size_t)p[0] << 8) | p[1], i = 2;
  if (list + 2 != len) return SSL_CLIENT_HELLO_SUCCESS; /* OpenSSL rejects it next */
  while (i + 3 <= len) {
    size_t n = ((size_t)p[i + 1] << 8) | p[i + 2];
    if (i + 3 + n > len) break;
    if (p[i] == TLSEXT_NAMETYPE_host_name && n > 0 && n < 256 &&
        memchr(p + i + 3, 0, n) == NULL) {
      e->sni = strndup((const char*)p + i + 3, n);
      if (e->sni == NULL) { *al = SSL_AD_INTERNAL_ERROR; return SSL_CLIENT_HELLO_ERROR; }
      e->sni_state = 1;
      return SSL_CLIENT_HELLO_RETRY; /* handshake() returns want-sni */
    }
    i += 3 + n;
  }
  return SSL_CLIENT_HELLO_SUCCESS;
}

/* Runs the whole verification with every error let through, so the result SSL keeps
 * (SSL_get_verify_result) is the one Node reports as authorizationError: Node verifies
 * that way and rejects afterwards. Stopping at the first error, OpenSSL's default, names
 * another error for the same chain (a missing intermediate: "unable to get local issuer"
 * instead of Node's UNABLE_TO_VERIFY_LEAF_SIGNATURE). Rejection still happens inside the
 * handshake, so the peer gets an alert: returning 0 fails it when the context rejects
 * (the context the engine was made from: an SNI switch changes the certificate, not the
 * server's verification policy, as in Node). */
static int let_through(int preverify, X509_STORE_CTX* x) { return 1; }

int tls_verify_chain(X509_STORE_CTX* x, void* arg) {
  SSL* s = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
  engine* e = s ? SSL_get_app_data(s) : NULL;
  X509_STORE_CTX_set_verify_cb(x, let_through);
  int ok = X509_verify_cert(x);
  if (ok <= 0) return ok; /* could not run at all (no memory, no certificate) */
  return X509_STORE_CTX_get_error(x) == X509_V_OK || (e != NULL && !e->origin->reject);
}

int tls_alpn_select(SSL* s, const unsigned char** out, unsigned char* outlen,
                    const unsigned char* in, unsigned int inlen, void* arg) {
  engine* e = SSL_get_app_data(s);
  if (e == NULL || e->origin->alpn == NULL) return SSL_TLSEXT_ERR_NOACK;
  if (SSL_select_next_proto((unsigned char**)out, outlen, e->origin->alpn, e->origin->alpn_len,
                            in, inlen) == OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_OK;
  /* RFC 7301 3.2: no protocol in common is a fatal no_application_protocol alert. */
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static napi_value der(napi_env env, X509* x) {
  napi_value v;
  int n = i2d_X509(x, NULL);
  void* p;
  if (n <= 0 || napi_create_buffer(env, (size_t)n, &p, &v) != napi_ok) {
    napi_get_null(env, &v);
    return v;
  }
  unsigned char* q = p;
  i2d_X509(x, &q);
  return v;
}

static void set(napi_env env, napi_value o, const char* k, napi_value v) {
  napi_set_named_property(env, o, k, v);
}

/* info() -> TLSSessionInfo (engine.ts) */
napi_value tls_info(napi_env env, napi_callback_info info) {
  engine* e = tls_engine_this(env, info, NULL, NULL, 1);
  if (e == NULL) return NULL;
  napi_value o, v, arr;
  napi_create_object(env, &o);
  set(env, o, "protocol", str_or_null(env, e->established ? SSL_get_version(e->ssl) : NULL));
  const SSL_CIPHER* ci = SSL_get_current_cipher(e->ssl);
  if (ci == NULL) {
    napi_get_null(env, &v);
  } else {
    napi_create_object(env, &v);
    set(env, v, "name", str_or_null(env, SSL_CIPHER_get_name(ci)));
    set(env, v, "standardName", str_or_null(env, SSL_CIPHER_standard_name(ci)));
    set(env, v, "version", str_or_null(env, SSL_CIPHER_get_version(ci)));
  }
  set(env, o, "cipher", v);
  const unsigned char* alpn;
  unsigned int alen = 0;
  SSL_get0_alpn_selected(e->ssl, &alpn, &alen);
  if (alen > 0) napi_create_string_latin1(env, (const char*)alpn, alen, &v);
  else napi_get_boolean(env, false, &v);
  set(env, o, "alpnProtocol", v);
  const char* sn = e->sni;
  if (sn == NULL && SSL_is_server(e->ssl)) sn = SSL_get_servername(e->ssl, TLSEXT_NAMETYPE_host_name);
  set(env, o, "servername", str_or_null(env, sn));
  X509* peer = SSL_get0_peer_certificate(e->ssl);
  napi_get_null(env, &v);
  set(env, o, "peerCertificate", peer ? der(env, peer) : v);
  napi_create_array(env, &arr);
  uint32_t k = 0;
  if (peer) napi_set_element(env, arr, k++, der(env, peer));
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(e->ssl); /* a client's holds the leaf */
  for (int i = 0; chain != NULL && i < sk_X509_num(chain); i++) {
    X509* x = sk_X509_value(chain, i);
    if (peer == NULL || X509_cmp(x, peer) != 0) napi_set_element(env, arr, k++, der(env, x));
  }
  set(env, o, "peerChain", arr);
  long vr = SSL_get_verify_result(e->ssl);
  set(env, o, "verifyError", str_or_null(env, peer && vr != X509_V_OK ? tls_verify_code(vr) : NULL));
  ERR_clear_error();
  return o;
}

