/**
 * Engine errors into core's classes. An engine cannot import core (engine.ts), so it throws
 * plain Errors carrying OpenSSL's fields; the layer turns them into SSLError, or
 * SSLCertVerificationError when the engine marked a certificate or host name failure.
 */
import { ConnectionError, SSLCertVerificationError, SSLError } from '../errors.js';

interface EngineErrorFields {
  message?: string;
  code?: unknown;
  library?: unknown;
  reason?: unknown;
  sslKind?: unknown;
  verifyCode?: unknown;
  verifyMessage?: unknown;
  stack?: string;
}

/**
 * OpenSSL's reason text in Python's spelling, as ssl.SSLError.reason has it ('tlsv13 alert
 * certificate required' -> 'TLSV13_ALERT_CERTIFICATE_REQUIRED'): OpenSSL makes the text from
 * that very name, so code ported from asyncio compares the same strings.
 */
function pythonReason(text: string): string {
  return text.toUpperCase().replace(/\W+/g, '_');
}

/**
 * OpenSSL's library names (ERR_lib_error_string, as Node's errors carry them) and the
 * mnemonics Python's ssl.SSLError.library gives for them ('SSL routines' -> 'SSL'), keyed in
 * lower case (OpenSSL's own case varies by version); a name not listed stays as OpenSSL gave it.
 */
const PYTHON_LIBRARY: ReadonlyMap<string, string> = new Map([
  ['ssl routines', 'SSL'],
  ['x509 certificate routines', 'X509'],
  ['x509 v3 routines', 'X509V3'],
  ['pem routines', 'PEM'],
  ['asn1 encoding routines', 'ASN1'],
  ['digital envelope routines', 'EVP'],
  ['system library', 'SYS'],
  ['bio routines', 'BIO'],
  ['bignum routines', 'BN'],
  ['rsa routines', 'RSA'],
  ['elliptic curve routines', 'EC'],
  ['diffie-hellman routines', 'DH'],
  ['dsa routines', 'DSA'],
  ['pkcs12 routines', 'PKCS12'],
  ['pkcs7 routines', 'PKCS7'],
  ['common libcrypto routines', 'CRYPTO'],
  ['configuration file routines', 'CONF'],
  ['random number generator', 'RAND'],
  ['ocsp routines', 'OCSP'],
  ['store routines', 'OSSL_STORE'],
  ['decoder routines', 'OSSL_DECODER'],
  ['encoder routines', 'OSSL_ENCODER'],
  ['provider routines', 'PROV'],
]);

/**
 * `err` as SSLError/SSLCertVerificationError keeping code, library and reason (in Python's
 * spelling), verifyCode and verifyMessage. A ConnectionError passes as it is (it already says
 * what happened), and so do TypeError and RangeError: those are a caller's bad argument, not a
 * TLS failure.
 */
export function toSSLError(err: unknown): unknown {
  if (err instanceof ConnectionError || err instanceof TypeError || err instanceof RangeError) return err;
  const e = (typeof err === 'object' && err !== null ? err : { message: String(err) }) as EngineErrorFields;
  const message = typeof e.message === 'string' && e.message !== '' ? e.message : 'TLS error';
  let out: SSLError;
  if (e.sslKind === 'cert') {
    const cert = new SSLCertVerificationError(message, { cause: err });
    if (typeof e.verifyCode === 'number') cert.verifyCode = e.verifyCode;
    if (typeof e.verifyMessage === 'string') cert.verifyMessage = e.verifyMessage;
    out = cert;
  } else {
    out = new SSLError(message, { cause: err });
  }
  if (typeof e.code === 'string') out.code = e.code;
  if (typeof e.library === 'string') out.library = PYTHON_LIBRARY.get(e.library.toLowerCase()) ?? e.library;
  if (typeof e.reason === 'string') out.reason = pythonReason(e.reason);
  if (typeof e.stack === 'string') out.stack = e.stack;
  return out;
}
