/** Protocols and helpers of the network, TLS and subprocess suites. */
import * as fs from 'node:fs';
import { Protocol, type AbstractEventLoop, type Future, type Transport } from '@loopkit/core';

/** Records every protocol callback; `made` settles at connectionMade, `lost` at connectionLost. */
export class Recorder extends Protocol {
  transport: Transport | null = null;
  chunks: Buffer[] = [];
  events: string[] = [];
  lostWith: unknown[] = [];
  keepOpenOnEof = false;
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
    return this.keepOpenOnEof;
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
  get lostCount(): number {
    return this.events.filter((e) => e === 'lost').length;
  }
}

/** Writes back whatever it receives. */
export class Echo extends Protocol {
  private transport: Transport | null = null;
  override connectionMade(transport: Transport): void {
    this.transport = transport;
  }
  override dataReceived(data: Uint8Array): void {
    this.transport!.write(data);
  }
}

/** What portOf needs of a server: asyncio's Server shape. */
export interface ServerLike {
  close(): void;
  waitClosed(): Promise<void>;
  isServing(): boolean;
  sockets: readonly { getsockname(): { port?: number } }[];
}

/** The port of a server's first listening socket. */
export function portOf(server: ServerLike): number {
  return server.sockets[0]!.getsockname().port!;
}

/** Deterministic bytes, so a reordered or dropped chunk shows. */
export function pattern(n: number, seed = 0): Buffer {
  const buf = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) buf[i] = (i * 31 + (i >> 8) + seed) & 0xff;
  return buf;
}

/** Whether open fds can be counted here. Linux only: under Wine, Windows' Node would find the Linux host's /proc through drive Z:. */
export const hasProcFd = process.platform === 'linux' && fs.existsSync('/proc/self/fd');
/** The skip reason of the tests that count open fds. */
export const noProcFd = 'skipped: no /proc/self/fd to count open file descriptors (Linux only)';

/** How many fds this process has open now (Linux: /proc/self/fd). */
export function openFds(): number {
  return fs.readdirSync('/proc/self/fd').length;
}
