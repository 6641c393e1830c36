/** Shared by the TLS layer's unit tests: a loop with the fake engine, apps that record, and TLS over in-memory transports. */
import {
  BufferedProtocol,
  Protocol,
  SSLProtocol,
  TestLoop,
  memoryTransportPair,
  sleep,
  type AbstractEventLoop,
  type Future,
  type MemoryTransport,
  type MemoryTransportOptions,
  type TLSContext,
  type TLSProvider,
  type Transport,
} from '@loopkit/core';
import { FakeProvider, type FakeOptions } from './fake-tls.js';

/** TestLoop (virtual time: timeouts are exact and instant) whose TLS engine is the fake one. */
export class FakeTLSLoop extends TestLoop {
  readonly fake = new FakeProvider();
  override _tlsProvider(): TLSProvider | null {
    return this.fake;
  }
}

/** Run `body` on a fresh FakeTLSLoop, collecting exception-handler reports. */
export async function withTLSLoop(body: (loop: FakeTLSLoop, reports: Array<Record<string, unknown>>) => Promise<void>): Promise<void> {
  const loop = new FakeTLSLoop();
  const reports: Array<Record<string, unknown>> = [];
  loop.setExceptionHandler((_l, ctx) => {
    reports.push(ctx as Record<string, unknown>);
  });
  try {
    await loop.runUntilComplete(() => body(loop, reports));
  } finally {
    loop.close();
  }
}

/** The rejection of `p` (fails the test if it resolves). */
export async function failure(p: PromiseLike<unknown>): Promise<unknown> {
  return p.then(
    (v) => {
      throw new Error(`expected a rejection, got ${String(v)}`);
    },
    (e: unknown) => e,
  );
}

/** An app protocol that records everything. */
export class App extends Protocol {
  transport: Transport | null = null;
  chunks: Buffer[] = [];
  events: string[] = [];
  lostWith: unknown[] = [];
  readonly lost: Future<unknown>;
  readonly made: Future<Transport>;
  constructor(loop: AbstractEventLoop) {
    super();
    this.lost = loop.createFuture();
    this.made = loop.createFuture();
  }
  override connectionMade(transport: Transport): void {
    this.transport = transport;
    this.events.push('made');
    this.made.setResult(transport);
  }
  override dataReceived(data: Uint8Array): void {
    this.chunks.push(Buffer.from(data));
  }
  override eofReceived(): boolean {
    this.events.push('eof');
    return false;
  }
  override connectionLost(exc: unknown): void {
    this.events.push('lost');
    this.lostWith.push(exc);
    if (!this.lost.done()) this.lost.setResult(exc);
  }
  override pauseWriting(): void {
    this.events.push('pause');
  }
  override resumeWriting(): void {
    this.events.push('resume');
  }
  get received(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** A BufferedProtocol app with a small buffer, so one record spans several bufferUpdated calls. */
export class BufferedApp extends BufferedProtocol {
  private readonly buf = Buffer.alloc(1000);
  chunks: Buffer[] = [];
  events: string[] = [];
  transport: Transport | null = null;
  override connectionMade(transport: Transport): void {
    this.transport = transport;
  }
  override getBuffer(): Uint8Array {
    return this.buf;
  }
  override bufferUpdated(n: number): void {
    this.chunks.push(Buffer.from(this.buf.subarray(0, n)));
  }
  override eofReceived(): boolean {
    this.events.push('eof');
    return false;
  }
  override connectionLost(): void {
    this.events.push('lost');
  }
  get received(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

export interface TLSPair {
  client: SSLProtocol;
  server: SSLProtocol;
  rawClient: MemoryTransport;
  rawServer: MemoryTransport;
  /** Resolves when the client's handshake is done. */
  handshake: Future<void>;
  serverContext: TLSContext;
}

/** A client and a server SSLProtocol over an in-memory connection. */
export function tlsPair(
  loop: FakeTLSLoop,
  clientApp: Protocol | BufferedProtocol,
  serverApp: Protocol | BufferedProtocol,
  opts: {
    client?: FakeOptions;
    server?: FakeOptions;
    memory?: MemoryTransportOptions;
    handshakeTimeout?: number;
    shutdownTimeout?: number;
    serverWaiter?: Future<void>;
    /** The server end speaks no TLS: serverApp is its raw protocol. */
    rawPeer?: boolean;
  } = {},
): TLSPair {
  const clientContext = loop.fake.createContext(opts.client ?? {}, false);
  const serverContext = loop.fake.createContext(opts.server ?? {}, true);
  const handshake = loop.createFuture<void>();
  const timeouts = { handshakeTimeout: opts.handshakeTimeout, shutdownTimeout: opts.shutdownTimeout };
  const client = new SSLProtocol(loop, clientApp, clientContext, { serverHostname: 'example.test', waiter: handshake, ...timeouts });
  const server = new SSLProtocol(loop, serverApp, serverContext, {
    serverSide: true,
    waiter: opts.serverWaiter ?? null,
    sniContext: (value) => loop.fake.createContext(value as FakeOptions, true),
    ...timeouts,
  });
  const [rawClient, rawServer] = memoryTransportPair(loop, client, opts.rawPeer ? serverApp : server, {
    extraA: { peername: { address: '127.0.0.1', family: 'IPv4', port: 443 } },
    ...opts.memory,
  });
  return { client, server, rawClient, rawServer, handshake, serverContext };
}

/** Loop iterations until `cond` holds (in-memory transports deliver one hop per iteration). */
export async function until(cond: () => boolean, what = 'condition', max = 10_000): Promise<void> {
  for (let i = 0; i < max; i++) {
    if (cond()) return;
    await sleep(0);
  }
  throw new Error(`${what} not met after ${max} iterations`);
}

export function pattern(n: number, seed = 0): Buffer {
  const buf = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) buf[i] = (i * 31 + (i >> 8) + seed) & 0xff;
  return buf;
}
