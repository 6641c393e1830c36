/**
 * A reader that pauses exerts backpressure on the completion loops, as on the selector and in
 * asyncio: a server that pauses a fast client stops taking its bytes (they wait in the kernel
 * socket buffers, which fill, and the writer pauses or blocks), so it holds bounded memory
 * however much the client has to send. Plain and TLS, the writer on the same loop or in
 * another process (plain Node), on each way a uring transport reads (direct reads; the ring's
 * multishot pooled receive) and on NetProactor. On resume every byte arrives in order.
 *
 * The reader's socket gets a fixed 64 KiB SO_RCVBUF where the loop gives a socket that sets it
 * (uring), so the kernel's share is known: what left the writer is then its own send buffer
 * (at most tcp_wmem's maximum), the reader's, and what the reader's loop took and holds. A
 * uring receive that kept taking while paused took everything the writer had (the ring's
 * 16 MiB pool). NetProactor's node:net socket has no SO_RCVBUF (the kernel grows it up to
 * tcp_rmem's maximum, 32 MiB here), so there the check is what its NetSocket keeps unread:
 * Node's handle stops reading at 256 KiB.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Protocol, sleep, type AbstractEventLoop, type Transport } from '@loopkit/core';
import { NetSocket, ProactorEventLoop, UringEventLoop, UringProactor } from '@loopkit/proactor';
import { SO_RCVBUF, SO_SNDBUF, SOL_SOCKET, type Socket as UvSocket } from '@loopkit/uv';
import { Child, pattern, portOf, waitUntil, withLoop, type ServerLike } from './helpers.js';
import { certs, tlsMissing } from './tls-helpers.js';

/** The reader's kernel receive buffer (Linux doubles what is asked for its bookkeeping). */
const READER_RCVBUF = 64 * 1024;
/** More than any kernel buffers here take: a reader that kept taking while paused takes it all. */
const TOTAL = 24 * 1024 * 1024;
/** What the reader takes before it pauses (its receive is armed and busy then). */
const READ_BEFORE_PAUSE = 256 * 1024;
const CHUNK = 64 * 1024;

/** tcp_wmem's maximum: the most a writer's kernel send buffer grows to. */
function sendBufferMax(): number {
  const fields = fs.readFileSync('/proc/sys/net/ipv4/tcp_wmem', 'utf8').trim().split(/\s+/);
  return Number(fields[2]);
}

/**
 * What may leave a writer whose reader paused: its send buffer, the reader's 64 KiB receive
 * buffer (doubled), what the reader read before pausing, and 1 MiB for what the reader's
 * loop may take in flight (uring's multishot takes at most 256 KiB; NetProactor's node:net
 * handle stops at 256 KiB unread) and TLS framing.
 */
const bound = (): number => sendBufferMax() + 2 * READER_RCVBUF + READ_BEFORE_PAUSE + 1024 * 1024;

interface Subject {
  name: string;
  make: (() => AbstractEventLoop) | null;
  /** The loop's sockets take setsockopt (the bound on what leaves the writer holds). */
  fixedBuffers: boolean;
}

/** The most a paused NetProactor reader's NetSocket keeps unread: 256 KiB, plus one read of Node's. */
const NET_UNREAD_BOUND = 512 * 1024;

const uringProblem = UringProactor.problem();
function uringLoop(pooledFromStart: boolean): () => AbstractEventLoop {
  return () => {
    const proactor = new UringProactor();
    if (pooledFromStart) {
      proactor._startDirect = false;
      proactor._poolFromReads = 1; // stays on the pool with one busy socket
    }
    return new UringEventLoop(proactor);
  };
}

const SUBJECTS: Subject[] = [
  { name: 'uring, direct reads', make: uringProblem === null ? uringLoop(false) : null, fixedBuffers: true },
  { name: 'uring, multishot pooled receive', make: uringProblem === null ? uringLoop(true) : null, fixedBuffers: true },
  { name: 'NetProactor', make: () => new ProactorEventLoop(), fixedBuffers: false },
];

/** Sets a stream socket's buffer option where its loop gives a socket that takes it. */
function setBuffer(transport: Transport, option: number, size: number): void {
  const socket = transport.getExtraInfo('socket') as { raw?: UvSocket } | null;
  socket?.raw?.setsockopt(SOL_SOCKET, option, size);
}

/** Keeps what it gets; pauses reading once it got READ_BEFORE_PAUSE bytes, and counts what came after. */
class PausingReader extends Protocol {
  transport: Transport | null = null;
  chunks: Buffer[] = [];
  bytes = 0;
  pausedAt = -1;
  afterPause = 0;
  lost: unknown = undefined;
  constructor(private readonly fixedBuffers: boolean) {
    super();
  }
  override connectionMade(transport: Transport): void {
    this.transport = transport;
    if (this.fixedBuffers) setBuffer(transport, SO_RCVBUF, READER_RCVBUF);
  }
  override dataReceived(data: Uint8Array): void {
    this.chunks.push(Buffer.from(data));
    this.bytes += data.length;
    if (this.pausedAt >= 0) this.afterPause += data.length;
    else if (this.bytes >= READ_BEFORE_PAUSE) {
      this.pausedAt = this.bytes;
      this.transport!.pauseReading();
    }
  }
  override eofReceived(): boolean {
    return false;
  }
  override connectionLost(exc: unknown): void {
    this.lost = exc;
  }
  resume(): void {
    this.pausedAt = Number.MAX_SAFE_INTEGER; // no second pause
    this.transport!.resumeReading();
  }
}

/** Writes `data` in CHUNK writes whenever its transport is not paused; counts what left it. */
class FastWriter extends Protocol {
  transport: Transport | null = null;
  paused = false;
  written = 0;
  constructor(
    private readonly data: Buffer,
    private readonly fixedBuffers: boolean,
  ) {
    super();
  }
  override connectionMade(transport: Transport): void {
    this.transport = transport;
    if (this.fixedBuffers) setBuffer(transport, SO_SNDBUF, READER_RCVBUF);
  }
  /** Writes until paused or everything is written; yields to the loop between writes. */
  async pump(): Promise<void> {
    while (!this.paused && this.written < this.data.length && !this.transport!.isClosing()) {
      this.transport!.write(this.data.subarray(this.written, this.written + CHUNK));
      this.written = Math.min(this.written + CHUNK, this.data.length);
      await sleep(0);
    }
  }
  get leftWriter(): number {
    return this.written - this.transport!.getWriteBufferSize();
  }
  override pauseWriting(): void {
    this.paused = true;
  }
  override resumeWriting(): void {
    this.paused = false;
  }
}

/** A server of PausingReaders (TLS with `tls`) on `loop`. */
async function pausingServer(loop: AbstractEventLoop, subject: Subject, tls: boolean): Promise<{ server: ServerLike; readers: PausingReader[] }> {
  const readers: PausingReader[] = [];
  const ssl = tls ? { ssl: { key: certs().serverKey, cert: certs().serverCert } } : {};
  const server = (await loop.createServer(
    () => {
      const reader = new PausingReader(subject.fixedBuffers);
      readers.push(reader);
      return reader;
    },
    '127.0.0.1',
    0,
    ssl,
  )) as unknown as ServerLike;
  return { server, readers };
}

/** The reader paused and then got nothing more; a NetSocket under it keeps little unread. */
function expectPausedReader(reader: PausingReader): void {
  expect(reader.pausedAt).toBeGreaterThanOrEqual(READ_BEFORE_PAUSE);
  expect(reader.afterPause).toBe(0);
  const socket = reader.transport!.getExtraInfo('socket') as { _buffered?: number };
  if (socket instanceof NetSocket) expect(socket._buffered).toBeLessThanOrEqual(NET_UNREAD_BOUND);
}

const TRANSPORTS = [
  { name: 'plain', tls: false, missing: null as string | null },
  { name: 'TLS', tls: true, missing: tlsMissing },
];

describe('a paused reader exerts backpressure on the completion loops', () => {
  for (const subject of SUBJECTS) {
    const skip = subject.make === null ? `(skipped: ${uringProblem}) ` : '';
    for (const kind of TRANSPORTS) {
      describe.skipIf(subject.make === null || kind.missing !== null)(`${skip}${subject.name}, ${kind.name}${kind.missing !== null ? ` (skipped: ${kind.missing})` : ''}`, () => {
        it('writer on the same loop: it pauses writing with a bounded amount gone, and on resume every byte arrives in order', () =>
          withLoop(subject.make!, async (loop, reports) => {
            const { server, readers } = await pausingServer(loop, subject, kind.tls);
            const data = pattern(TOTAL, 17);
            const writer = new FastWriter(data, subject.fixedBuffers);
            const tlsOptions = kind.tls ? { ssl: { ca: certs().ca }, serverHostname: 'localhost' } : {};
            await loop.createConnection(() => writer, '127.0.0.1', portOf(server), tlsOptions);
            // Until the reader paused and the writer stays paused for 100 ms (the kernel took what
            // it will), or everything went. The reader's pause is waited for too: under load the
            // process may not run for those 100 ms, and the timer then comes due before the
            // reads that would have paused the reader are polled (session 20: pausedAt -1 with
            // 253 KiB read, ~1 run in 60 beside two CPU hogs).
            const deadline = Date.now() + 30_000;
            do {
              await writer.pump();
              await sleep(0.1);
            } while (!(writer.paused && (readers[0]?.pausedAt ?? -1) >= 0) && writer.written < data.length && Date.now() < deadline);
            const reader = readers[0]!;
            expect(writer.written).toBeLessThan(data.length);
            expectPausedReader(reader);
            if (subject.fixedBuffers) expect(writer.leftWriter).toBeLessThanOrEqual(bound());
            reader.resume();
            while (writer.written < data.length) {
              await writer.pump();
              await sleep(0.002);
            }
            writer.transport!.close();
            await waitUntil(() => reader.lost !== undefined, 30, 'the reader lost its connection');
            expect(Buffer.concat(reader.chunks).equals(data)).toBe(true);
            server.close();
            await server.waitClosed();
            expect(reports).toEqual([]);
          }), 60_000);

        it('writer in another process (plain Node): its writes stall with a bounded amount taken, and on resume every byte arrives in order', () =>
          withLoop(subject.make!, async (loop, reports) => {
            const { server, readers } = await pausingServer(loop, subject, kind.tls);
            const caFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'paused-reader-')), 'ca.pem');
            fs.writeFileSync(caFile, certs().ca);
            const child = new Child('fast-writer.mjs', [String(portOf(server)), kind.tls ? 'tls' : 'plain', String(TOTAL), caFile]);
            try {
              await waitUntil(() => readers[0]?.pausedAt !== undefined && readers[0].pausedAt >= 0, 30, 'the reader paused');
              // The writer's kernel took what it will: two reports 100 ms apart agree.
              let accepted = -1;
              for (;;) {
                child.send({ cmd: 'report' });
                const now = (await child.next<{ accepted: number }>()).accepted;
                if (now === accepted) break;
                accepted = now;
                await sleep(0.1);
              }
              const reader = readers[0]!;
              expectPausedReader(reader);
              expect(accepted).toBeLessThan(TOTAL);
              if (subject.fixedBuffers) expect(accepted).toBeLessThanOrEqual(bound());
              reader.resume();
              child.send({ cmd: 'end' });
              await waitUntil(() => reader.lost !== undefined, 30, 'the reader lost its connection');
              expect(await child.exit()).toBe(0);
              expect(Buffer.concat(reader.chunks).equals(pattern(TOTAL, 41))).toBe(true);
            } finally {
              child.kill();
              fs.rmSync(path.dirname(caFile), { recursive: true, force: true });
            }
            server.close();
            await server.waitClosed();
            expect(reports).toEqual([]);
          }), 60_000);
      });
    }
  }
});
