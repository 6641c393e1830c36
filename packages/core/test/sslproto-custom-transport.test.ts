/**
 * TLS over a custom backend's transport: records reach it through write(), and such a
 * transport may keep what it is given (as Node's streams do), so the layer never hands it
 * a buffer it reuses. core's own stream transports copy, and get the layer's shared buffer.
 */
import { expect, it } from 'vitest';
import { BufferedProtocol, SSLProtocol, Transport, memoryTransportPair, type BytesLike, type WriteBufferLimits } from '@loopkit/core';
import { App, pattern, until, withTLSLoop } from './tls-helpers.js';

/** A custom transport that keeps every written chunk by reference, over an in-memory one. */
class KeepingTransport extends Transport {
  readonly kept: Uint8Array[] = [];
  readonly copies: Buffer[] = [];
  constructor(private readonly inner: Transport) {
    super();
  }
  override write(data: BytesLike): void {
    const bytes = data as Uint8Array;
    this.kept.push(bytes);
    this.copies.push(Buffer.from(bytes));
    this.inner.write(bytes);
  }
  override isClosing(): boolean {
    return this.inner.isClosing();
  }
  override close(): void {
    this.inner.close();
  }
  override abort(): void {
    this.inner.abort();
  }
  override pauseReading(): void {
    this.inner.pauseReading();
  }
  override resumeReading(): void {
    this.inner.resumeReading();
  }
  override setWriteBufferLimits(limits?: WriteBufferLimits | number | null, low?: number | null): void {
    this.inner.setWriteBufferLimits(limits, low);
  }
  override getWriteBufferLimits(): [low: number, high: number] {
    return this.inner.getWriteBufferLimits();
  }
  override getWriteBufferSize(): number {
    return this.inner.getWriteBufferSize();
  }
  override getExtraInfo<T = any>(name: string, defaultValue: T | null = null): T | null {
    return this.inner.getExtraInfo(name, defaultValue);
  }
}

/** Puts a KeepingTransport between the in-memory transport and the client's SSLProtocol. */
class Interposer extends BufferedProtocol {
  keeping: KeepingTransport | null = null;
  constructor(private readonly tls: SSLProtocol) {
    super();
  }
  override connectionMade(transport: Transport): void {
    this.keeping = new KeepingTransport(transport);
    this.tls.connectionMade(this.keeping);
  }
  override getBuffer(sizeHint: number): Uint8Array {
    return this.tls.getBuffer(sizeHint);
  }
  override bufferUpdated(nbytes: number): void {
    this.tls.bufferUpdated(nbytes);
  }
  override eofReceived(): boolean | void {
    return this.tls.eofReceived();
  }
  override connectionLost(exc: unknown): void {
    this.tls.connectionLost(exc);
  }
}

it('a custom transport that keeps what write() gave it finds every record intact', () =>
  withTLSLoop(async (loop) => {
    const capp = new App(loop);
    const sapp = new App(loop);
    const handshake = loop.createFuture<void>();
    const client = new SSLProtocol(loop, capp, loop.fake.createContext({}, false), { serverHostname: 'example.test', waiter: handshake });
    const server = new SSLProtocol(loop, sapp, loop.fake.createContext({}, true), { serverSide: true });
    const interposer = new Interposer(client);
    memoryTransportPair(loop, interposer, server);
    await handshake;
    const messages = [pattern(3000, 1), pattern(40_000, 2), pattern(5000, 3)];
    for (const message of messages) {
      capp.transport!.write(message);
      await until(() => sapp.received.length >= messages.slice(0, messages.indexOf(message) + 1).reduce((n, m) => n + m.length, 0));
    }
    expect(sapp.received).toEqual(Buffer.concat(messages));
    const keeping = interposer.keeping!;
    expect(keeping.kept.length).toBeGreaterThan(2);
    keeping.kept.forEach((chunk, i) => expect(Buffer.from(chunk)).toEqual(keeping.copies[i]));
  }));
