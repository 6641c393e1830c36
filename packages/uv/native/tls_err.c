/* OpenSSL errors as the plain Errors core's TLS contract asks for (engine.ts).
 *
 * Spelling follows Node, so a user sees the codes Node's own `tls` gives:
 * - code: 'ERR_SSL_' + reason for SSL routines, 'ERR_OSSL_' + library + reason
 *   otherwise ('ERR_OSSL_X509_KEY_VALUES_MISMATCH'), 'ERR_OSSL_' + reason when
 *   Node has no name for the library; the reason upper-cased, spaces to '_';
 * - library, reason: OpenSSL's strings ('SSL routines', 'wrong version number');
 * - message: OpenSSL's one-line form, 'error:0A00010B:SSL routines::wrong version number'.
 * Certificate and host name failures carry sslKind 'cert', verifyCode (X509_V_ERR_*),
 * verifyMessage and Node's authorizationError code.
 *
 * The thread's error queue is shared by every SSL of the thread (and by Node's own
 * `tls`), so every entry point clears it before calling OpenSSL and every throw here
 * clears it after reading: one connection's error never shows up on another. */
#include "tls.h"
#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* Node's library prefixes (its OSSL_ERROR_CODES_MAP); SSL gets no 'OSSL_'. */
static const struct { int lib; const char* name; } libs[] = {
  { ERR_LIB_SYS, "SYS_" }, { ERR_LIB_BN, "BN_" }, { ERR_LIB_RSA, "RSA_" }, { ERR_LIB_DH, "DH_" },
  { ERR_LIB_EVP, "EVP_" }, { ERR_LIB_BUF, "BUF_" }, { ERR_LIB_OBJ, "OBJ_" }, { ERR_LIB_PEM, "PEM_" },
  { ERR_LIB_DSA, "DSA_" }, { ERR_LIB_X509, "X509_" }, { ERR_LIB_ASN1, "ASN1_" },
  { ERR_LIB_CONF, "CONF_" }, { ERR_LIB_CRYPTO, "CRYPTO_" }, { ERR_LIB_EC, "EC_" },
  { ERR_LIB_BIO, "BIO_" }, { ERR_LIB_PKCS7, "PKCS7_" }, { ERR_LIB_X509V3, "X509V3_" },
  { ERR_LIB_PKCS12, "PKCS12_" }, { ERR_LIB_RAND, "RAND_" }, { ERR_LIB_DSO, "DSO_" },
  { ERR_LIB_ENGINE, "ENGINE_" }, { ERR_LIB_OCSP, "OCSP_" }, { ERR_LIB_UI, "UI_" },
  { ERR_LIB_COMP, "COMP_" }, { ERR_LIB_OSSL_STORE, "OSSL_STORE_" }, { ERR_LIB_CMS, "CMS_" },
  { ERR_LIB_TS, "TS_" }, { ERR_LIB_CT, "CT_" }, { ERR_LIB_ASYNC, "ASYNC_" }, { ERR_LIB_KDF, "KDF_" },
  { ERR_LIB_USER, "USER_" },
};

static void set_str(napi_env env, napi_value obj, const char* key, const char* s) {
  napi_value v;
  if (s == NULL) return;
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, key, v);
}

static napi_value make_error(napi_env env, const char* code, const char* msg);

napi_value tls_plain_error(napi_env env, const char* code, const char* reason) {
  napi_value err = make_error(env, code, reason);
  set_str(env, err, "library", "SSL routines");
  set_str(env, err, "reason", reason);
  return err;
}

static napi_value make_error(napi_env env, const char* code, const char* msg) {
  napi_value c, m, err;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &c);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
  napi_create_error(env, c, m, &err);
  return err;
}

napi_value tls_error(napi_env env, const char* what) {
  /* The last error is the one closest to the call that failed (CPython reads it too);
   * the earlier ones are the decoder attempts and wrappers that led there. */
  unsigned long e = ERR_peek_last_error();
  if (e == 0) {
    /* SSL_ERROR_SYSCALL with an empty queue: over memory BIOs only the end of input
     * can cause it, which OpenSSL 3 otherwise reports as this very reason. */
    char msg[160];
    snprintf(msg, sizeof msg, "%s: unexpected eof while reading", what);
    napi_value err = make_error(env, "ERR_SSL_UNEXPECTED_EOF_WHILE_READING", msg);
    set_str(env, err, "library", "SSL routines");
    set_str(env, err, "reason", "unexpected eof while reading");
    return err;
  }
  char msg[256], code[160];
  ERR_error_string_n(e, msg, sizeof msg);
  const char* lib = ERR_lib_error_string(e);
  const char* reason = ERR_reason_error_string(e);
  const char* prefix = "";
  int l = ERR_GET_LIB(e);
  for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++)
    if (libs[i].lib == l) prefix = libs[i].name;
  int n = snprintf(code, sizeof code, "ERR_%s%s", l == ERR_LIB_SSL ? "SSL_" : "OSSL_", prefix);
  for (const char* r = reason ? reason : "unknown error"; *r && n < (int)sizeof code - 1; r++)
    code[n++] = *r == ' ' ? '_' : (char)toupper((unsigned char)*r);
  code[n] = 0;
  napi_value err = make_error(env, code, msg);
  set_str(env, err, "library", lib);
  set_str(env, err, "reason", reason);
  ERR_clear_error();
  return err;
}

napi_value tls_throw(napi_env env, const char* what) {
  napi_throw(env, tls_error(env, what));
  return NULL;
}

const char* tls_verify_code(long v) {
  switch (v) {
#define C(x) case X509_V_ERR_##x: return #x;
    C(UNABLE_TO_GET_ISSUER_CERT) C(UNABLE_TO_GET_CRL) C(UNABLE_TO_DECRYPT_CERT_SIGNATURE)
    C(UNABLE_TO_DECRYPT_CRL_SIGNATURE) C(UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY)
    C(CERT_SIGNATURE_FAILURE) C(CRL_SIGNATURE_FAILURE) C(CERT_NOT_YET_VALID) C(CERT_HAS_EXPIRED)
    C(CRL_NOT_YET_VALID) C(CRL_HAS_EXPIRED) C(ERROR_IN_CERT_NOT_BEFORE_FIELD)
    C(ERROR_IN_CERT_NOT_AFTER_FIELD) C(ERROR_IN_CRL_LAST_UPDATE_FIELD)
    C(ERROR_IN_CRL_NEXT_UPDATE_FIELD) C(OUT_OF_MEM) C(DEPTH_ZERO_SELF_SIGNED_CERT)
    C(SELF_SIGNED_CERT_IN_CHAIN) C(UNABLE_TO_GET_ISSUER_CERT_LOCALLY)
    C(UNABLE_TO_VERIFY_LEAF_SIGNATURE) C(CERT_CHAIN_TOO_LONG) C(CERT_REVOKED) C(INVALID_CA)
    C(PATH_LENGTH_EXCEEDED) C(INVALID_PURPOSE) C(CERT_UNTRUSTED) C(CERT_REJECTED)
#undef C
    /* Node checks the host name in JS (checkServerIdentity) and names it so. */
    case X509_V_ERR_HOSTNAME_MISMATCH: case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return "ERR_TLS_CERT_ALTNAME_INVALID";
    default: return "UNSPECIFIED";
  }
}

napi_value tls_verify_error(napi_env env, long vcode, const char* host) {
  const char* vmsg = X509_verify_cert_error_string(vcode);
  char mismatch[320], msg[512];
  /* A name mismatch in Python's words (its verify_message, which tests match), then Node's. */
  if (vcode == X509_V_ERR_HOSTNAME_MISMATCH || vcode == X509_V_ERR_IP_ADDRESS_MISMATCH) {
    snprintf(mismatch, sizeof mismatch, "%s mismatch, certificate is not valid for '%s'.",
             vcode == X509_V_ERR_IP_ADDRESS_MISMATCH ? "IP address" : "Hostname", host ? host : "");
    vmsg = mismatch;
    snprintf(msg, sizeof msg,
             "certificate verify failed: %s (Hostname/IP does not match certificate's altnames: Host: %s.)",
             mismatch, host ? host : "");
  } else {
    snprintf(msg, sizeof msg, "certificate verify failed: %s", vmsg);
  }
  napi_value err = make_error(env, tls_verify_code(vcode), msg), v;
  set_str(env, err, "sslKind", "cert");
  napi_create_int32(env, (int32_t)vcode, &v);
  napi_set_named_property(env, err, "verifyCode", v);
  set_str(env, err, "verifyMessage", vmsg);
  set_str(env, err, "library", "SSL routines");
  /* Python's reason, which ported asyncio tests check; Node's verify errors have none. */
  set_str(env, err, "reason", "CERTIFICATE_VERIFY_FAILED");
  ERR_clear_error();
  return err;
}
