/**
 * Pieces of the TLS fault tests: a Node `tls` peer whose ciphertext goes through a tap we
 * control, so a test can hold back the next TLS record and send only part of it (or a
 * tampered copy) on the raw TCP socket before a reset or a FIN; and a loopkit TLS echo
 * server that records each server-side protocol.
 */
import * as net from 'node:net';
import { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { getTLSProvider, type AbstractEventLoop } from '@loopkit/core';
import '@loopkit/selector'; // registers @loopkit/uv's TLS engine when the addon loaded
import { hasOpenssl, testCerts, type TestCerts } from '@loopkit/conformance/support';
import { Recorder, portOf, type ServerLike } from './helpers.js';

/** null when TLS can be tested here, else why not (shown in the skipped title). */
export const tlsMissing: string | null =
  getTLSProvider() === null ? 'no TLS provider is registered' : hasOpenssl() ? null : 'no openssl command to make certificates';

export function certs(): TestCerts {
  return testCerts();
}

/**
 * The Duplex a Node TLSSocket runs over: ciphertext goes to `raw` unless `hold` is set, in
 * which case it is kept in `held` (one `write()` of the TLSSocket is one record for small
 * data). Bytes from `raw` go to the TLSSocket. Its end never ends `raw`: the test decides.
 */
export class Tap extends Duplex {
  held: Buffer[] | null = null;
  constructor(readonly raw: net.Socket) {
    super();
    raw.on('data', (d: Buffer) => this.push(d));
    raw.on('end', () => this.push(null));
    raw.on('error', () => {});
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    if (this.held !== null) this.held.push(chunk);
    else this.raw.write(chunk);
    cb();
  }
  override _read(): void {}
  override _final(cb: (e?: Error | null) => void): void {
    cb();
  }
  /** The ciphertext of `write(data)` on `socket`, captured instead of sent: whole records. */
  async capture(socket: tls.TLSSocket, data: Buffer): Promise<Buffer> {
    this.held = [];
    await new Promise<void>((resolve, reject) => socket.write(data, (e) => (e ? reject(e) : resolve())));
    // The TLSSocket hands its ciphertext to us on a later tick.
    for (let i = 0; i < 100 && this.held.length === 0; i++) await new Promise((r) => setImmediate(r));
    const out = Buffer.concat(this.held);
    this.held = null;
    return out;
  }
}

/** A Node TLS client over a tap to a loopkit TLS server; resolves after its handshake. */
export async function tappedClient(port: number, options: tls.ConnectionOptions = {}): Promise<{ socket: tls.TLSSocket; tap: Tap; raw: net.Socket }> {
  const raw = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    raw.once('connect', () => resolve());
    raw.once('error', reject);
  });
  const tap = new Tap(raw);
  const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
    const s = tls.connect({ socket: tap, ca: certs().ca, servername: 'localhost', ...options }, () => resolve(s));
    s.once('error', reject);
  });
  socket.on('error', () => {});
  return { socket, tap, raw };
}

/** A Node TLS server whose accepted connections run over taps; `peers` fills as they complete handshakes. */
export async function tappedServer(options: tls.TlsOptions = {}): Promise<{
  port: number;
  peers: Array<{ socket: tls.TLSSocket; tap: Tap; raw: net.Socket }>;
  close: () => Promise<void>;
}> {
  const peers: Array<{ socket: tls.TLSSocket; tap: Tap; raw: net.Socket }> = [];
  const raws = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (raw) => {
    raws.add(raw);
    raw.on('close', () => raws.delete(raw));
    const tap = new Tap(raw);
    const socket = new tls.TLSSocket(tap, { isServer: true, key: certs().serverKey, cert: certs().serverCert, ...options });
    socket.on('error', () => {});
    socket.once('secure', () => peers.push({ socket, tap, raw }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = () =>
    new Promise<void>((resolve) => {
      for (const r of raws) r.destroy();
      server.close(() => resolve());
    });
  return { port: (server.address() as net.AddressInfo).port, peers, close };
}

/** A loopkit TLS server of Recorders (echoing when `echo`); `sides` holds each server-side protocol. */
export async function recordingServer(
  loop: AbstractEventLoop,
  options: Record<string, unknown> = {},
  echo = false,
): Promise<{ server: ServerLike; port: number; sides: Recorder[] }> {
  const sides: Recorder[] = [];
  const server = (await loop.createServer(
    () => {
      const r = echo ? new EchoRecorder(loop) : new Recorder(loop);
      sides.push(r);
      return r;
    },
    '127.0.0.1',
    0,
    { ssl: { key: certs().serverKey, cert: certs().serverCert }, ...options },
  )) as unknown as ServerLike;
  return { server, port: portOf(server), sides };
}

/** A Recorder that also echoes. */
class EchoRecorder extends Recorder {
  override dataReceived(data: Uint8Array): void {
    super.dataReceived(data);
    this.transport!.write(data);
  }
}

/** Resolves when the raw socket is closed by the other end (its 'close'), or rejects after `seconds`. */
export function closedWithin(raw: net.Socket, seconds: number): Promise<void> {
  if (raw.destroyed) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the peer socket was not closed within ${seconds} s`)), seconds * 1000);
    raw.resume();
    raw.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    raw.once('end', () => raw.destroy());
  });
}
