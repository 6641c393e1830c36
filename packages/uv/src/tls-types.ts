/**
 * The TLS engine contract, declared here shape for shape: it is @loopkit/core's
 * (packages/core/src/tls/engine.ts, where each member is documented), but this package
 * imports nothing of loopkit, so it states the same types structurally. A test checks
 * that core's `TLSProvider` accepts `tlsProvider` (packages/uv/test/tls.test.ts); change
 * both files together.
 */
export type TLSOptions = Record<string, unknown>;

export interface TLSSessionInfo {
  protocol: string | null;
  cipher: { name: string; standardName: string; version: string } | null;
  alpnProtocol: string | false;
  servername: string | null;
  peerCertificate: Uint8Array | null;
  peerChain: Uint8Array[];
  verifyError: string | null;
}

export type HandshakeState = 'done' | 'want-read' | 'want-sni';

export interface TLSEngine {
  feed(data: Uint8Array): void;
  feedEof(): void;
  handshake(): HandshakeState;
  read(max?: number): Uint8Array | null;
  readInto(buf: Uint8Array): number;
  write(data: Uint8Array): void;
  takeOutgoing(): Uint8Array | null;
  outgoingSize(): number;
  shutdown(): boolean;
  servername(): string | null;
  useContext(context: TLSContext): void;
  info(): TLSSessionInfo;
  close(): void;
}

export interface TLSContext {
  readonly serverSide: boolean;
  readonly options: TLSOptions;
  newEngine(serverHostname: string | null): TLSEngine;
}

export interface TLSProvider {
  readonly name: string;
  createContext(options: TLSOptions, serverSide: boolean): TLSContext;
}
