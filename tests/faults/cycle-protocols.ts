/**
 * The two ends of the connect/close cycle tests (fd-leak, tls-cycles): each counts its
 * connectionMade and connectionLost calls, and a second connectionLost as an error.
 */
import { Protocol, sleep, type AbstractEventLoop, type Transport } from '@loopkit/core';

export interface Counts {
  made: number;
  lost: number;
  twice: number;
}

export const newCounts = (): Counts => ({ made: 0, lost: 0, twice: 0 });

/** Server side: echoes, closes at once, or aborts on data. */
export class ServerSide extends Protocol {
  private transport: Transport | null = null;
  private gone = false;
  constructor(private readonly mode: 'echo' | 'close' | 'abort', private readonly counts: Counts) {
    super();
  }
  override connectionMade(t: Transport): void {
    this.counts.made += 1;
    this.transport = t;
    if (this.mode === 'close') t.close();
  }
  override dataReceived(data: Uint8Array): void {
    if (this.mode === 'abort') this.transport!.abort();
    else this.transport!.write(data);
  }
  override connectionLost(): void {
    if (this.gone) this.counts.twice += 1;
    this.gone = true;
    this.counts.lost += 1;
  }
}

/** Client side: counts the bytes it gets and settles `lost` once. */
export class ClientSide extends Protocol {
  got = 0;
  readonly lost;
  constructor(loop: AbstractEventLoop, private readonly counts: Counts) {
    super();
    this.lost = loop.createFuture<unknown>();
  }
  override connectionMade(): void {
    this.counts.made += 1;
  }
  override dataReceived(data: Uint8Array): void {
    this.got += data.length;
  }
  override connectionLost(exc: unknown): void {
    if (this.lost.done()) this.counts.twice += 1;
    else this.lost.setResult(exc);
    this.counts.lost += 1;
  }
}

/** How a cycle's client ends its connection (the server's own endings need nothing from it). */
export type ClientEnding = 'close' | 'data-close' | 'write-eof' | 'abort' | 'server-close' | 'server-abort';

/** End `t` the `kind` way (sending `payload` where that kind sends data), then wait for connectionLost. */
export async function endConnection(kind: ClientEnding, t: Transport, client: ClientSide, payload: Uint8Array): Promise<void> {
  switch (kind) {
    case 'close':
      t.close();
      break;
    case 'data-close':
      t.write(payload);
      while (client.got < payload.length && !client.lost.done()) await sleep(0.001);
      if (client.got !== payload.length) throw new Error(`echo: got ${client.got} of ${payload.length} bytes`);
      t.close();
      break;
    case 'write-eof':
      t.write(payload);
      t.writeEof(); // the echo server sees EOF and closes after echoing
      break;
    case 'abort':
      t.write(payload);
      t.abort();
      break;
    case 'server-close':
      break; // the server closes (TLS: its close_notify); we see the end and close
    case 'server-abort':
      t.write(payload); // the server aborts on data with our bytes unread: a reset
      break;
  }
  await client.lost;
}
