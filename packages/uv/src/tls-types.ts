/**
 * The TLS engine contract, declared here shape for shape: it is @loopkit/core's
 * (packages/core/src/tls/engine.ts, where each member is documented), but this package
 * imports nothing of loopkit, so it states the same types structurally. A test checks
 * that each type here equals core's, member for member (packages/uv/test/tls.test.ts):
 * change both files together.
 */
export type TLSOptions = Record<string, unknown>;

/** What the engine knows of a finished handshake: protocol, cipher, ALPN, SNI, peer certificates, verify result. */
export interface TLSSessionInfo {
  protocol: string | null;
  cipher: { name: string; standardName: string; version: string } | null;
  alpnProtocol: string | false;
  servername: string | null;
  peerCertificate: Uint8Array | null;
  peerChain: Uint8Array[];
  verifyError: string | null;
}

/** Where a handshake stands after `handshake()`: finished, needs peer bytes, or (server) awaits an SNI context choice. */
export type HandshakeState = 'done' | 'want-read' | 'want-sni';

/** One TLS connection's state machine over memory buffers (an SSL object with BIOs); it never touches a socket. */
export interface TLSEngine {
  /** Bytes received from the peer (appended to the incoming buffer). */
  feed(data: Uint8Array): void;
  /** The peer's TCP stream ended: reads that need more bytes now fail instead of waiting. */
  feedEof(): void;
  /** Advance the handshake; throws an Error carrying `code` (and `sslKind: 'cert'` for a failed verification). */
  handshake(): HandshakeState;
  /** Decrypted application bytes, at most `max` (default 256 KiB): null when none is ready, empty after close_notify. */
  read(max?: number): Uint8Array | null;
  /** As read(), into `buf`: the byte count, -1 when none is ready, 0 after close_notify. */
  readInto(buf: Uint8Array): number;
  /** Optional: feed(data) then read(max), in one call (`data` may be reused once it returns). */
  feedAndRead?(data: Uint8Array, max?: number): Uint8Array | null;
  /** Encrypt all of `data` into records waiting in the outgoing buffer. */
  write(data: Uint8Array): void;
  /** Optional: write(data) then takeInto(buf), in one call. */
  writeInto?(data: Uint8Array, buf: Uint8Array): number;
  /** Everything waiting in the outgoing buffer, or null when it is empty. */
  takeOutgoing(): Uint8Array | null;
  /** As takeOutgoing(), into `buf`: bytes moved from the start of the outgoing buffer (0 when it is empty). */
  takeInto(buf: Uint8Array): number;
  /** Bytes waiting to go out: records in the outgoing buffer, and plaintext written during a renegotiation (encrypted once it finishes). */
  outgoingSize(): number;
  /** Send close_notify (once); true once the peer's close_notify has been received too. */
  shutdown(): boolean;
  /** The SNI name the client sent (server) or sends (client), or null. */
  servername(): string | null;
  /** After 'want-sni': serve this connection with `context` (from the same provider). */
  useContext(context: TLSContext): void;
  /** What the handshake settled; call after 'done'. */
  info(): TLSSessionInfo;
  /** Free the engine; any later call but close() throws. Idempotent. */
  close(): void;
}

/** A configured TLS context that makes one engine per connection. */
export interface TLSContext {
  readonly serverSide: boolean;
  readonly options: TLSOptions;
  /** One engine per connection; `serverHostname`: SNI and the host name checked (client only). */
  newEngine(serverHostname: string | null): TLSEngine;
}

/** A TLS implementation (this package's `tlsProvider`): makes contexts from Node-style options. */
export interface TLSProvider {
  readonly name: string;
  /** Compile Node-style tls options into a client or server (`serverSide`) context. */
  createContext(options: TLSOptions, serverSide: boolean): TLSContext;
}
