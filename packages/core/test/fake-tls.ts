/**
 * A fake TLS engine (engine.ts's contract, no OpenSSL) for the layer's unit tests. Records
 * are framed `[type u8][length u32be][payload]`; application payloads are XORed with a key,
 * so plaintext never shows on the wire and a wrong key garbles. The handshake is one
 * round trip: the client's HELLO (SNI name, ALPN list), the server's ACCEPT (ALPN choice,
 * cipher name, certificate) or ALERT. Options (the context's) steer failures exactly.
 */
import type { HandshakeState, TLSContext, TLSEngine, TLSOptions, TLSProvider, TLSSessionInfo } from '@loopkit/core';

export const HELLO = 1;
export const ACCEPT = 2;
export const DATA = 3;
export const CLOSE = 4;
export const ALERT = 5;
const MAX_RECORD = 16 * 1024;

/** One framed record, as the engine writes it (tests inject raw ones). */
export function record(type: number, payload: Uint8Array = new Uint8Array(0)): Buffer {
  const head = Buffer.alloc(5);
  head[0] = type;
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

function xor(data: Uint8Array, key: number): Buffer {
  const out = Buffer.allocUnsafe(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i]! ^ key;
  return out;
}

function engineError(message: string, code: string, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(message), { code, library: 'fake', reason: code.toLowerCase() }, extra);
}

export interface FakeOptions extends TLSOptions {
  /** XOR key of application records (both sides must agree). */
  key?: number;
  ALPNProtocols?: string[];
  /** Client: the server's certificate "does not verify". */
  failCert?: boolean;
  /** Server: refuse every handshake with this code (an ALERT goes to the client). */
  reject?: string;
  /** Server: the cipher name the client is told (to see which context served it). */
  cipherName?: string;
  /** DER of the certificate this side presents. */
  cert?: Uint8Array;
  SNICallback?: (name: string, cb: (err: Error | null, ctx?: unknown) => void) => void;
}

export class FakeProvider implements TLSProvider {
  readonly name = 'fake';
  contextsMade = 0;
  engines: FakeEngine[] = [];
  createContext(options: TLSOptions, serverSide: boolean): TLSContext {
    this.contextsMade += 1;
    return new FakeContext(this, options as FakeOptions, serverSide);
  }
}

export class FakeContext implements TLSContext {
  constructor(
    readonly provider: FakeProvider,
    readonly options: FakeOptions,
    readonly serverSide: boolean,
  ) {}
  newEngine(serverHostname: string | null): TLSEngine {
    const engine = new FakeEngine(this, serverHostname);
    this.provider.engines.push(engine);
    return engine;
  }
}

export class FakeEngine implements TLSEngine {
  private context: FakeContext;
  private inq: Buffer = Buffer.alloc(0);
  private out: Buffer[] = [];
  private outSize = 0;
  private plain: Buffer[] = [];
  private stage: 'start' | 'wait' | 'sni' | 'done' = 'start';
  private sni: string | null;
  private alpn: string | false = false;
  private cipherName = 'FAKE-XOR';
  private peerCert: Uint8Array | null = null;
  private sniAsked = false;
  private eof = false;
  sentClose = false;
  gotClose = false;
  closed = false;

  constructor(context: FakeContext, serverHostname: string | null) {
    this.context = context;
    this.sni = serverHostname;
  }

  private get opts(): FakeOptions {
    return this.context.options;
  }

  private live(): void {
    if (this.closed) throw new Error('engine used after close()');
  }

  private emit(type: number, payload?: Uint8Array): void {
    const rec = record(type, payload);
    this.out.push(rec);
    this.outSize += rec.length;
  }

  /** The next whole record, or null. */
  private next(): { type: number; payload: Buffer } | null {
    if (this.inq.length >= 1 && (this.inq[0]! < HELLO || this.inq[0]! > ALERT)) {
      throw engineError('wrong version number', 'ERR_SSL_WRONG_VERSION_NUMBER');
    }
    if (this.inq.length < 5) return null;
    const len = this.inq.readUInt32BE(1);
    if (this.inq.length < 5 + len) return null;
    const rec = { type: this.inq[0]!, payload: this.inq.subarray(5, 5 + len) };
    this.inq = this.inq.subarray(5 + len);
    return rec;
  }

  feed(data: Uint8Array): void {
    this.live();
    this.inq = Buffer.concat([this.inq, data]); // a copy: the caller reuses its buffer
  }

  feedEof(): void {
    this.eof = true;
  }

  handshake(): HandshakeState {
    this.live();
    const server = this.context.serverSide;
    if (!server && this.stage === 'start') {
      this.emit(HELLO, Buffer.from(JSON.stringify({ sni: this.sni, alpn: this.opts.ALPNProtocols ?? [] })));
      this.stage = 'wait';
    }
    if (this.stage === 'done') return 'done';
    if (server && this.stage === 'sni') return this.accept();
    const rec = this.next();
    if (rec === null) return 'want-read';
    if (rec.type === ALERT) throw engineError(`alert from the peer: ${rec.payload.toString()}`, rec.payload.toString());
    if (server) {
      if (rec.type !== HELLO) throw engineError('unexpected message', 'ERR_SSL_UNEXPECTED_MESSAGE');
      const hello = JSON.parse(rec.payload.toString()) as { sni: string | null; alpn: string[] };
      this.sni = hello.sni;
      const mine = this.opts.ALPNProtocols ?? [];
      this.alpn = hello.alpn.find((p) => mine.includes(p)) ?? false;
      if (typeof this.opts.SNICallback === 'function' && this.sni !== null && !this.sniAsked) {
        this.sniAsked = true;
        this.stage = 'sni';
        return 'want-sni';
      }
      return this.accept();
    }
    if (rec.type !== ACCEPT) throw engineError('unexpected message', 'ERR_SSL_UNEXPECTED_MESSAGE');
    const accept = JSON.parse(rec.payload.toString()) as { alpn: string | false; cipher: string; cert: string | null };
    this.alpn = accept.alpn;
    this.cipherName = accept.cipher;
    this.peerCert = accept.cert === null ? null : Buffer.from(accept.cert, 'base64');
    if (this.opts.failCert) {
      this.emit(ALERT, Buffer.from('ERR_SSL_TLSV1_ALERT_BAD_CERTIFICATE'));
      throw engineError('certificate verify failed: self-signed certificate', 'ERR_SSL_CERTIFICATE_VERIFY_FAILED', {
        sslKind: 'cert',
        verifyCode: 18,
        verifyMessage: 'self-signed certificate',
      });
    }
    this.stage = 'done';
    return 'done';
  }

  private accept(): HandshakeState {
    const opts = this.opts;
    if (opts.reject !== undefined) {
      this.emit(ALERT, Buffer.from(opts.reject));
      throw engineError('handshake refused', opts.reject);
    }
    this.cipherName = opts.cipherName ?? 'FAKE-XOR';
    const cert = opts.cert === undefined ? null : Buffer.from(opts.cert).toString('base64');
    this.emit(ACCEPT, Buffer.from(JSON.stringify({ alpn: this.alpn, cipher: this.cipherName, cert })));
    this.stage = 'done';
    return 'done';
  }

  /** Decrypt every whole record into `plain`, up to close_notify. */
  private pump(): void {
    while (!this.gotClose) {
      const rec = this.next();
      if (rec === null) break;
      if (rec.type === CLOSE) this.gotClose = true;
      else if (rec.type === DATA) this.plain.push(xor(rec.payload, this.opts.key ?? 0x5a));
      else if (rec.type === ALERT) throw engineError(`alert: ${rec.payload.toString()}`, rec.payload.toString());
      else throw engineError('unexpected message', 'ERR_SSL_UNEXPECTED_MESSAGE');
    }
    if (!this.gotClose && this.eof && this.inq.length > 0) throw engineError('unexpected eof while reading', 'ERR_SSL_UNEXPECTED_EOF_WHILE_READING');
  }

  read(max = 256 * 1024): Uint8Array | null {
    this.live();
    this.pump();
    if (this.plain.length === 0) return this.gotClose ? new Uint8Array(0) : null;
    const all = Buffer.concat(this.plain);
    this.plain = all.length > max ? [all.subarray(max)] : [];
    return Uint8Array.prototype.slice.call(all.subarray(0, max));
  }

  readInto(buf: Uint8Array): number {
    const chunk = this.read(buf.length);
    if (chunk === null) return -1;
    buf.set(chunk);
    return chunk.length;
  }

  write(data: Uint8Array): void {
    this.live();
    if (this.stage !== 'done') throw engineError('write before the handshake', 'ERR_SSL_HANDSHAKE_NOT_DONE');
    if (this.sentClose) throw engineError('protocol is shutdown', 'ERR_SSL_PROTOCOL_IS_SHUTDOWN');
    for (let at = 0; at < data.length; at += MAX_RECORD) {
      this.emit(DATA, xor(data.subarray(at, at + MAX_RECORD), this.opts.key ?? 0x5a));
    }
  }

  takeOutgoing(): Uint8Array | null {
    if (this.outSize === 0) return null;
    const all = Buffer.concat(this.out);
    this.out = [];
    this.outSize = 0;
    return all;
  }

  takeInto(buf: Uint8Array): number {
    const all = this.takeOutgoing();
    if (all === null) return 0;
    const n = Math.min(all.length, buf.length);
    buf.set(all.subarray(0, n));
    if (n < all.length) {
      this.out = [Buffer.from(all.subarray(n))];
      this.outSize = all.length - n;
    }
    return n;
  }

  outgoingSize(): number {
    return this.outSize;
  }

  shutdown(): boolean {
    this.live();
    if (!this.sentClose) {
      this.sentClose = true;
      this.emit(CLOSE);
    }
    return this.gotClose;
  }

  servername(): string | null {
    return this.sni;
  }

  useContext(context: TLSContext): void {
    if (!(context instanceof FakeContext)) throw new TypeError('useContext: not a fake context');
    this.context = context;
  }

  info(): TLSSessionInfo {
    return {
      protocol: 'FAKEv1',
      cipher: { name: this.cipherName, standardName: `TLS_${this.cipherName}`, version: 'FAKEv1' },
      alpnProtocol: this.alpn,
      servername: this.sni,
      peerCertificate: this.peerCert,
      peerChain: this.peerCert === null ? [] : [this.peerCert],
      verifyError: this.peerCert === null ? null : 'DEPTH_ZERO_SELF_SIGNED_CERT',
    };
  }

  close(): void {
    this.closed = true;
  }
}
