/**
 * The TLS engine contract: what core's TLS layer (sslproto.ts) asks of one TLS connection.
 * As CPython's ssl.SSLObject over two ssl.MemoryBIOs: the engine never touches a socket; the
 * layer feeds it the bytes that came from the network and sends the bytes it produces.
 * Every method is synchronous and returns at once.
 *
 * Core imports no engine (it imports nothing of loopkit): a package that has one registers
 * it with `registerTLSProvider()` (the selector and proactor packages register @loopkit/uv's
 * OpenSSL engine when the addon loaded), and a loop may override `_tlsProvider()`.
 *
 * Errors: an engine cannot import core's error classes, so it throws plain Errors carrying
 * `code` (OpenSSL's reason in Node's spelling, e.g. 'ERR_SSL_WRONG_VERSION_NUMBER'),
 * `library` and `reason` when OpenSSL gave them, and for a certificate or host name that did
 * not verify `sslKind: 'cert'` with `verifyCode` (X509_V_ERR_*) and `verifyMessage`; the
 * layer turns them into SSLError / SSLCertVerificationError keeping those fields.
 */
/** Node's tls options, as `tls.connect()` (client) and `tls.createServer()` (server) take them. */
export type TLSOptions = Record<string, unknown>;

/** What the engine knows of a finished handshake (the layer turns it into extra info). */
export interface TLSSessionInfo {
  /** 'TLSv1.3', 'TLSv1.2', ... */
  protocol: string | null;
  /** As Node's `getCipher()`: OpenSSL's name, the IANA name, the protocol version. */
  cipher: { name: string; standardName: string; version: string } | null;
  /** The protocol ALPN settled on, or false (Node's `alpnProtocol`). */
  alpnProtocol: string | false;
  /** The SNI name: the one sent (client) or received (server), or null. */
  servername: string | null;
  /** The peer's certificate (DER), or null when it sent none. */
  peerCertificate: Uint8Array | null;
  /** The peer's chain as it sent it (DER each; the leaf first), empty when none. */
  peerChain: Uint8Array[];
  /** Null when the peer's certificate verified; else why not (Node's `authorizationError` codes, e.g. 'DEPTH_ZERO_SELF_SIGNED_CERT'). */
  verifyError: string | null;
}

/** Where a handshake stands after `handshake()`. */
export type HandshakeState =
  /** Finished: application data may flow. */
  | 'done'
  /** Needs more bytes from the peer (send what `takeOutgoing()` holds first). */
  | 'want-read'
  /**
   * Server with an SNI hook: the ClientHello named `servername()`; choose a context with
   * `useContext()` (or none, to keep this one), then call `handshake()` again.
   */
  | 'want-sni';

/** One TLS connection's state machine over memory buffers (an SSL object with BIOs): core's TLS layer drives it. */
export interface TLSEngine {
  /** Bytes received from the peer (appended to the incoming buffer). */
  feed(data: Uint8Array): void;
  /** The peer's TCP stream ended: reads that need more bytes now fail instead of waiting. */
  feedEof(): void;
  /**
   * Advance the handshake. Throws SSLCertVerificationError when the peer's certificate or
   * host name does not verify (and the options asked for it), SSLError for anything else.
   */
  handshake(): HandshakeState;
  /**
   * Application bytes decrypted so far, at most `max` (default 256 KiB), in a new buffer the
   * caller owns; null when none is ready without more input; an empty array once the peer's
   * close_notify was read. Throws SSLError (a truncated stream after feedEof() included).
   * May produce outgoing bytes (TLS 1.3 key updates, post-handshake messages): take them after.
   */
  read(max?: number): Uint8Array | null;
  /** As read(), into `buf`: the byte count, -1 when none is ready, 0 after close_notify. */
  readInto(buf: Uint8Array): number;
  /**
   * Optional: feed(data) then read(max), in one call, with their results and errors. The
   * layer uses it for each socket read while wrapped; an engine may decrypt `data` where it
   * lies instead of copying it in first. The caller may reuse `data` once it returns.
   */
  feedAndRead?(data: Uint8Array, max?: number): Uint8Array | null;
  /**
   * Encrypt all of `data` into records waiting in the outgoing buffer (during a renegotiation
   * the peer asked for: held, and encrypted in order once a read finishes it). Throws SSLError.
   */
  write(data: Uint8Array): void;
  /**
   * Optional: write(data) then takeInto(buf), in one call, with their results and errors.
   * The layer uses it for the app's writes; an engine may encrypt straight into `buf`.
   */
  writeInto?(data: Uint8Array, buf: Uint8Array): number;
  /** Everything waiting in the outgoing buffer, or null when it is empty. */
  takeOutgoing(): Uint8Array | null;
  /** As takeOutgoing(), into `buf`: bytes moved from the start of the outgoing buffer (0 when it is empty). */
  takeInto(buf: Uint8Array): number;
  /**
   * Bytes waiting to go out: records in the outgoing buffer, and plaintext `write()` had to
   * hold while a renegotiation the peer asked for is under way (encrypted, in order, once a
   * read finishes it). The layer counts them in the app's write buffer.
   */
  outgoingSize(): number;
  /**
   * Send close_notify (the first call; later calls send nothing more; during a renegotiation
   * it follows the held writes once a read finished it). True once the peer's close_notify has
   * been received too (the TLS session is over both ways).
   */
  shutdown(): boolean;
  /** The SNI name the client sent (server) or sends (client), or null. */
  servername(): string | null;
  /** After 'want-sni': serve this connection with `context` (it must be from the same provider). */
  useContext(context: TLSContext): void;
  /** What the handshake settled; call after 'done'. */
  info(): TLSSessionInfo;
  /** Free the engine; any later call but close() throws. Idempotent. */
  close(): void;
}

/** A configured TLS context that makes one engine per connection. */
export interface TLSContext {
  /** True for a context made for servers (`createContext(options, true)`). */
  readonly serverSide: boolean;
  /** The options it was made from. */
  readonly options: TLSOptions;
  /** One engine per connection. `serverHostname`: SNI and the host name checked (client only). */
  newEngine(serverHostname: string | null): TLSEngine;
}

/** A TLS implementation a package registers (registerTLSProvider): makes contexts from options. */
export interface TLSProvider {
  /** A short name for messages ('openssl'). */
  readonly name: string;
  /**
   * Compile Node-style options into a context (certificates parsed, trust store loaded):
   * throw TypeError naming a bad option, SSLError when OpenSSL rejects a key or certificate.
   */
  createContext(options: TLSOptions, serverSide: boolean): TLSContext;
}
