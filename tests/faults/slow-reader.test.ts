/**
 * A slow reader against a well-behaved writer, on every network loop: the writer writes
 * only while not paused (pauseWriting/resumeWriting), so its buffered bytes never exceed
 * the high water mark plus one write, whatever the limits and write size, and every byte
 * arrives in order. Readers: a loopkit transport toggling pauseReading/resumeReading, and
 * a node:net socket toggling pause/resume.
 */
import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import { Protocol, sleep, type AbstractEventLoop, type Transport } from '@loopkit/core';
import { NET_LOOPS, Recorder, pattern, portOf, title, waitUntil, withLoop, type ServerLike } from './helpers.js';

/**
 * Kernels take different amounts before a writer must pause: under Wine a socket took 3.7-4.2 MiB
 * at once (the 4 MiB case paused at its very last write, or never: "the writer paused" timed
 * out). So the amount is counted from the first pause: the pump writes from `data` (room for
 * any kernel) until then, and `afterPause` bytes more.
 */
const KERNEL_ROOM = 24 << 20;

/** Writes `data` in `size`-byte writes, only while the transport has not paused it, and stops `afterPause` bytes past the first pause. */
class Pump extends Protocol {
  transport: Transport | null = null;
  paused = false;
  sent = 0;
  end: number;
  maxBuffered = 0;
  flow: string[] = [];
  readonly lost: ReturnType<AbstractEventLoop['createFuture']>;

  constructor(
    loop: AbstractEventLoop,
    private readonly data: Buffer,
    private readonly size: number,
    private readonly limits: { high?: number; low?: number } | null,
    private readonly afterPause: number,
  ) {
    super();
    this.lost = loop.createFuture();
    this.end = data.length;
  }
  override connectionMade(t: Transport): void {
    this.transport = t;
    if (this.limits !== null) t.setWriteBufferLimits(this.limits);
    this.pump();
  }
  private pump(): void {
    const t = this.transport!;
    while (!this.paused && this.sent < this.end) {
      const end = Math.min(this.sent + this.size, this.end);
      t.write(this.data.subarray(this.sent, end));
      this.sent = end;
      this.maxBuffered = Math.max(this.maxBuffered, t.getWriteBufferSize());
    }
    if (this.sent >= this.end && !t.isClosing()) t.close(); // flushes, then connectionLost
  }
  /** What the reader must receive: the bytes written. */
  written(): Buffer {
    return this.data.subarray(0, this.end);
  }
  override pauseWriting(): void {
    if (!this.flow.includes('pause')) this.end = Math.min(this.sent + this.afterPause, this.data.length);
    this.flow.push('pause');
    this.paused = true;
  }
  override resumeWriting(): void {
    this.flow.push('resume');
    this.paused = false;
    this.pump();
  }
  override connectionLost(exc: unknown): void {
    this.flow.push('lost');
    this.lost.setResult(exc);
  }
}

/** Starts with reading paused; counts what it received. */
class PausedRecorder extends Recorder {
  bytes = 0;
  override connectionMade(t: Transport): void {
    super.connectionMade(t);
    t.pauseReading();
  }
  override dataReceived(data: Uint8Array): void {
    super.dataReceived(data);
    this.bytes += data.length;
  }
}

const CASES: Array<{ name: string; limits: { high?: number; low?: number } | null; size: number; total: number }> = [
  { name: 'default limits (64 KiB / 16 KiB), 16 KiB writes', limits: null, size: 16 << 10, total: 6 << 20 },
  { name: 'high 256 KiB / low 64 KiB, 100 KiB writes', limits: { high: 256 << 10, low: 64 << 10 }, size: 100 << 10, total: 8 << 20 },
  { name: 'writes larger than the high mark (8 KiB / 2 KiB, 64 KiB writes)', limits: { high: 8 << 10, low: 2 << 10 }, size: 64 << 10, total: 4 << 20 },
  { name: 'high 0 (pause as soon as anything is buffered), 32 KiB writes', limits: { high: 0 }, size: 32 << 10, total: 6 << 20 },
];

function checkFlow(pump: Pump): void {
  const flow = pump.flow.filter((e) => e !== 'lost');
  flow.forEach((e, i) => expect(e).toBe(i % 2 === 0 ? 'pause' : 'resume'));
  expect(flow.length % 2).toBe(0); // every pause was followed by its resume
}

describe('slow reader against a writer that respects pauseWriting', () => {
  for (const subject of NET_LOOPS) {
    describe.skipIf(subject.make === null)(subject.name, () => {
      for (const c of CASES) {
        it(title(subject, `loopkit reader: ${c.name}`), () =>
          withLoop(subject.make!, async (loop, reports) => {
            let reader: PausedRecorder | null = null;
            const server = (await loop.createServer(() => {
              reader = new PausedRecorder(loop);
              return reader;
            }, '127.0.0.1', 0)) as unknown as ServerLike;
            const data = pattern(KERNEL_ROOM + c.total, c.size);
            const [, pump] = (await loop.createConnection(() => new Pump(loop, data, c.size, c.limits, c.total), '127.0.0.1', portOf(server))) as [Transport, Pump];
            await waitUntil(() => reader?.transport != null);
            const r = reader!;
            // Not reading at first (paused in connectionMade), so the kernel buffers fill and the writer has to pause.
            await waitUntil(() => pump.flow.includes('pause'), 15, 'the writer paused');
            const deadline = Date.now() + 30_000;
            while (r.bytes < pump.end && Date.now() < deadline) {
              r.transport!.pauseReading();
              await sleep(0.003);
              r.transport!.resumeReading();
              await sleep(0.001);
            }
            expect(await pump.lost).toBe(null);
            await r.lost;
            expect(r.received.length).toBe(pump.end);
            expect(r.received.equals(pump.written())).toBe(true);
            const [, high] = pump.transport!.getWriteBufferLimits();
            expect(pump.flow).toContain('pause');
            expect(pump.maxBuffered).toBeLessThanOrEqual(high + c.size);
            checkFlow(pump);
            server.close();
            await server.waitClosed();
            expect(reports).toEqual([]);
          }), 60_000);
      }

      it(title(subject, 'node:net reader that pauses and resumes: default limits, 48 KiB writes'), () =>
        withLoop(subject.make!, async (loop, reports) => {
          const got: Buffer[] = [];
          let gotBytes = 0;
          let ended = false;
          let peer: net.Socket | null = null;
          const nodeServer = net.createServer((s) => {
            peer = s;
            s.on('data', (d: Buffer) => {
              got.push(d);
              gotBytes += d.length;
            });
            s.on('end', () => (ended = true));
          });
          await new Promise<void>((resolve) => nodeServer.listen(0, '127.0.0.1', resolve));
          try {
            const data = pattern(KERNEL_ROOM + (6 << 20), 99);
            const size = 48 << 10;
            const port = (nodeServer.address() as net.AddressInfo).port;
            const [, pump] = (await loop.createConnection(() => new Pump(loop, data, size, null, 6 << 20), '127.0.0.1', port)) as [Transport, Pump];
            await waitUntil(() => peer !== null);
            peer!.pause();
            await waitUntil(() => pump.flow.includes('pause'), 15, 'the writer paused');
            const deadline = Date.now() + 30_000;
            while (!ended && Date.now() < deadline) {
              peer!.pause();
              await sleep(0.004);
              peer!.resume();
              await sleep(0.001);
            }
            expect(await pump.lost).toBe(null);
            expect(ended).toBe(true);
            expect(gotBytes).toBe(pump.end);
            expect(Buffer.concat(got).equals(pump.written())).toBe(true);
            expect(pump.flow).toContain('pause');
            expect(pump.maxBuffered).toBeLessThanOrEqual(pump.transport!.getWriteBufferLimits()[1] + size);
            checkFlow(pump);
            expect(reports).toEqual([]);
          } finally {
            nodeServer.close();
          }
        }), 60_000);
    });
  }
});
