/**
 * Transports and protocols on the shared BaseStreamTransport, exercised through the
 * in-memory transport pair: write flow control, close/abort, EOF, protocol failures.
 */
import { expect } from './expect.js';
import { describe, it } from './kit.js';
import { rule } from './rules.js';
import {
  BaseStreamTransport,
  BufferedProtocol,
  Protocol,
  RuntimeError,
  Transport,
  WriteTransport,
  memoryTransportPair,
  sleep,
  type MemoryTransportOptions,
} from '@loopkit/core';
import type { AbstractEventLoop } from '@loopkit/core';
import { withLoop, type LoopUnderTest } from './context.js';

/** Records every callback; `received` concatenates the data. */
export class Recorder extends Protocol {
  events: string[] = [];
  chunks: Buffer[] = [];
  lost: unknown[] = [];
  transport: Transport | null = null;
  keepOpen: boolean | undefined = undefined;

  override connectionMade(transport: Transport): void {
    this.transport = transport;
    this.events.push('made');
  }
  override dataReceived(data: Uint8Array): void {
    this.events.push('data');
    this.chunks.push(Buffer.from(data));
  }
  override eofReceived(): boolean | undefined {
    this.events.push('eof');
    return this.keepOpen;
  }
  override connectionLost(exc: unknown): void {
    this.events.push('lost');
    this.lost.push(exc);
  }
  override pauseWriting(): void {
    this.events.push('pause');
  }
  override resumeWriting(): void {
    this.events.push('resume');
  }
  get received(): string {
    return Buffer.concat(this.chunks).toString();
  }
  count(event: string): number {
    return this.events.filter((e) => e === event).length;
  }
}

/** Run loop iterations until `cond()` holds; fails after `max` iterations. */
export async function until(cond: () => boolean, max = 2000): Promise<void> {
  for (let i = 0; i < max; i++) {
    if (cond()) return;
    await sleep(0);
  }
  throw new Error(`condition not met after ${max} iterations: ${cond}`);
}

/** Wait (sleeping 2 ms at a time on the loop) until `cond` holds; fail after `timeout` seconds. */
export async function waitUntil(cond: () => boolean, timeout = 10): Promise<void> {
  const end = Date.now() + timeout * 1000;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`condition not met within ${timeout}s: ${cond}`);
    await sleep(0.002);
  }
}

/** A connected pair of recorders, after both saw connectionMade. */
async function connectedPair(
  loop: AbstractEventLoop,
  options: MemoryTransportOptions = {},
): Promise<[Recorder, Recorder]> {
  const a = new Recorder();
  const b = new Recorder();
  memoryTransportPair(loop, a, b, options);
  await until(() => a.transport !== null && b.transport !== null);
  return [a, b];
}

const bytes = (n: number, fill = 120): Buffer => Buffer.alloc(n, fill);

/**
 * A completion-style backend, shaped like a proactor's: nothing is sent synchronously; each
 * posted send completes an iteration later with at most 8 bytes, and received data is
 * pushed in by "recv completions", even while reading is paused.
 */
class PostedSendTransport extends BaseStreamTransport {
  sent: Buffer[] = [];
  posts = 0;
  readingOn = false;
  shutdown = false;
  released = 0;

  constructor(loop: AbstractEventLoop, protocol: Protocol) {
    super(loop, protocol, { peername: { address: '10.0.0.1', family: 'IPv4', port: 9 } });
    this._start();
  }
  protected _writeNow(): number {
    return 0;
  }
  protected _startWriting(): void {
    this.post();
  }
  protected _stopWriting(): void {}
  protected _startReading(): void {
    this.readingOn = true;
  }
  protected _stopReading(): void {
    this.readingOn = false;
  }
  protected _shutdownWrite(): void {
    this.shutdown = true;
  }
  protected _closeResources(): void {
    this.released += 1;
  }
  private post(): void {
    const data = Buffer.concat(this._writeBufferChunks());
    this.posts += 1;
    this._loop.callSoon(() => {
      const n = Math.min(data.length, 8);
      this.sent.push(data.subarray(0, n));
      if (this._bytesSent(n) > 0) this.post();
    });
  }
  recv(data: string | null): void {
    if (data === null) this._eofReceived();
    else this._dataReceived(Buffer.from(data));
  }
}

export function transportSuite(subject: LoopUnderTest): void {
  describe('transports', () => {
    it('transport classes: instanceof, NotImplementedError defaults, writelines joins', () => {
      class Sink extends Transport {
        written: Buffer[] = [];
        override write(data: Uint8Array): void {
          this.written.push(Buffer.from(data));
        }
      }
      const t = new Sink({ peername: 'p' });
      expect(t).toBeInstanceOf(WriteTransport);
      expect(new WriteTransport()).toBeInstanceOf(WriteTransport);
      expect(t.getExtraInfo('peername')).toBe('p');
      expect(t.getExtraInfo('nope')).toBeNull();
      expect(t.getExtraInfo('nope', 7)).toBe(7);
      t.writelines([Buffer.from('a'), new Uint8Array([98]), Buffer.from('c')]);
      expect(t.written.map(String)).toEqual(['abc']);
      expect(() => t.writelines(['a' as never])).toThrow(TypeError);
      expect(() => t.close()).toThrow(/does not implement close/);
    });

    it('connectionMade first, data arrives in order, getExtraInfo from options', rule('a protocol hears connectionMade before any data, and data in the order it was sent', () =>
      withLoop(subject, async (loop) => {
        const a = new Recorder();
        const b = new Recorder();
        const [ta] = memoryTransportPair(loop, a, b, { extraA: { sockname: { path: '/a' } } });
        expect(a.events).toEqual([]);
        expect(ta.getExtraInfo('sockname')).toEqual({ path: '/a' });
        expect(ta.getExtraInfo('peername', 'none')).toBe('none');
        expect(ta.getProtocol()).toBe(a);
        ta.write(Buffer.from('hello '));
        ta.writelines([Buffer.from('wor'), Buffer.from('ld')]);
        await until(() => b.received === 'hello world');
        expect(a.events[0]).toBe('made');
        expect(b.events[0]).toBe('made');
      })));

    it('write() takes bytes only; an empty write is a no-op', () =>
      withLoop(subject, async (loop) => {
        const [a, b] = await connectedPair(loop);
        const t = a.transport!;
        expect(() => t.write('text' as never)).toThrow(TypeError);
        expect(() => t.write('text' as never)).toThrow(/data/);
        expect(() => t.write(42 as never)).toThrow(TypeError);
        expect(() => t.write(null as never)).toThrow(TypeError);
        t.write(new Uint8Array(0));
        t.write(new Uint16Array([0x6968]));
        await until(() => b.chunks.length > 0);
        expect(b.received).toBe('hi');
        expect(b.count('data')).toBe(1);
      }));

    it('a write the OS takes at once never pauses, even with high = 0', () =>
      withLoop(subject, async (loop) => {
        const [a] = await connectedPair(loop);
        const t = a.transport!;
        t.setWriteBufferLimits({ high: 0 });
        t.write(bytes(100_000));
        expect(t.getWriteBufferSize()).toBe(0);
        expect(a.count('pause')).toBe(0);
      }));

    it('pauseWriting/resumeWriting once per crossing; getWriteBufferSize counts unsent bytes', rule('write flow control calls pauseWriting once when the buffer crosses the high mark and resumeWriting once when it drains to the low mark', () =>
      withLoop(subject, async (loop) => {
        const [a, b] = await connectedPair(loop, { maxWrite: 10 });
        const t = a.transport!;
        t.setWriteBufferLimits({ high: 100, low: 20 });
        expect(t.getWriteBufferLimits()).toEqual([20, 100]);
        t.write(bytes(50, 97)); // the OS takes 10
        expect(t.getWriteBufferSize()).toBe(40);
        t.write(bytes(60, 98)); // 100: not over high yet
        expect(a.count('pause')).toBe(0);
        t.write(bytes(1, 99)); // 101: over
        expect(t.getWriteBufferSize()).toBe(101);
        expect(a.count('pause')).toBe(1);
        t.write(bytes(9, 100)); // still over: no second pause
        expect(a.count('pause')).toBe(1);
        const sizesAtResume: number[] = [];
        a.resumeWriting = () => {
          a.events.push('resume');
          sizesAtResume.push(t.getWriteBufferSize());
        };
        await until(() => t.getWriteBufferSize() === 0);
        expect(a.events.filter((e) => e === 'pause' || e === 'resume')).toEqual(['pause', 'resume']);
        expect(sizesAtResume).toEqual([20]);
        await until(() => b.received.length === 120);
        expect(b.received).toBe('a'.repeat(50) + 'b'.repeat(60) + 'c' + 'd'.repeat(9));
        // A second crossing pauses and resumes again.
        t.write(bytes(200));
        expect(a.count('pause')).toBe(2);
        await until(() => t.getWriteBufferSize() === 0);
        expect(a.count('resume')).toBe(2);
      })));

    it('write buffer limits: defaults, derived marks, validation, lowering high pauses', () =>
      withLoop(subject, async (loop) => {
        const [a] = await connectedPair(loop, { maxWrite: 1 });
        const t = a.transport!;
        expect(t.getWriteBufferLimits()).toEqual([16 * 1024, 64 * 1024]);
        t.setWriteBufferLimits({ high: 100 });
        expect(t.getWriteBufferLimits()).toEqual([25, 100]);
        t.setWriteBufferLimits({ low: 10 });
        expect(t.getWriteBufferLimits()).toEqual([10, 40]);
        t.setWriteBufferLimits(300, 30);
        expect(t.getWriteBufferLimits()).toEqual([30, 300]);
        t.setWriteBufferLimits();
        expect(t.getWriteBufferLimits()).toEqual([16 * 1024, 64 * 1024]);
        expect(() => t.setWriteBufferLimits({ high: 0, low: 1 })).toThrow(RangeError);
        expect(() => t.setWriteBufferLimits({ high: 0, low: 1 })).toThrow(/high.*must be >= low/);
        expect(() => t.setWriteBufferLimits({ low: -1 })).toThrow(/low/);
        expect(() => t.setWriteBufferLimits({ high: 'big' as never })).toThrow(TypeError);
        expect(t.getWriteBufferLimits()).toEqual([16 * 1024, 64 * 1024]);
        t.write(bytes(300)); // 299 buffered, under 64 KiB
        expect(a.count('pause')).toBe(0);
        t.setWriteBufferLimits({ high: 256, low: 128 });
        expect(a.count('pause')).toBe(1);
      }));

    it('close() stops reading, flushes the buffer, then connectionLost(null) once', rule('close() stops reading, flushes what was written, then calls connectionLost(null) exactly once', () =>
      withLoop(subject, async (loop) => {
        const [a, b] = await connectedPair(loop, { maxWrite: 10 });
        const t = a.transport!;
        t.write(bytes(50));
        let bufferedAtLost = -1;
        a.connectionLost = (exc) => {
          a.events.push('lost');
          a.lost.push(exc);
          bufferedAtLost = t.getWriteBufferSize();
        };
        t.close();
        t.close();
        expect(t.isClosing()).toBe(true);
        expect(t.isReading()).toBe(false);
        await sleep(0);
        expect(a.count('lost')).toBe(0); // still flushing
        await until(() => b.count('lost') === 1);
        expect(a.lost).toEqual([null]);
        expect(bufferedAtLost).toBe(0);
        expect(b.received.length).toBe(50);
        expect(b.events.slice(-2)).toEqual(['eof', 'lost']);
        expect(b.lost).toEqual([null]);
        t.abort();
        t.write(bytes(5)); // after connectionLost: dropped, no error
        for (let i = 0; i < 5; i++) await sleep(0);
        expect(a.count('lost')).toBe(1);
      })));

    it('abort() drops the buffer and calls connectionLost(null) once', () =>
      withLoop(subject, async (loop) => {
        const [a, b] = await connectedPair(loop, { maxWrite: 10 });
        const t = a.transport!;
        t.write(bytes(50));
        t.abort();
        expect(t.getWriteBufferSize()).toBe(0);
        expect(t.isClosing()).toBe(true);
        t.close();
        t.abort();
        await until(() => b.count('lost') === 1);
        expect(a.lost).toEqual([null]);
        expect(b.received.length).toBe(10);
        for (let i = 0; i < 5; i++) await sleep(0);
        expect(a.count('lost')).toBe(1);
      }));

    it('writeEof flushes, then the peer sees EOF; eofReceived true keeps it open for writing', () =>
      withLoop(subject, async (loop) => {
        const [a, b] = await connectedPair(loop, { maxWrite: 4 });
        b.keepOpen = true;
        const ta = a.transport!;
        expect(ta.canWriteEof()).toBe(true);
        ta.write(Buffer.from('request'));
        ta.writeEof();
        ta.writeEof();
        expect(() => ta.write(Buffer.from('late'))).toThrow(RuntimeError);
        await until(() => b.count('eof') === 1);
        expect(b.received).toBe('request');
        const tb = b.transport!;
        expect(tb.isClosing()).toBe(false);
        tb.write(Buffer.from('response'));
        tb.close();
        await until(() => a.count('lost') === 1 && b.count('lost') === 1);
        expect(a.received).toBe('response');
        expect(a.events.slice(-2)).toEqual(['eof', 'lost']);
        expect([a.lost, b.lost]).toEqual([[null], [null]]);
      }));

    it('eofReceived falsy closes the transport', () =>
      withLoop(subject, async (loop) => {
        const [a, b] = await connectedPair(loop);
        a.transport!.writeEof();
        await until(() => b.count('lost') === 1);
        expect(b.events).toEqual(['made', 'eof', 'lost']);
        expect(b.transport!.isClosing()).toBe(true);
        await until(() => a.count('eof') === 1);
      }));

    it('a throwing dataReceived is reported once and closes the connection; the loop runs on', rule('an error thrown by a protocol callback is reported once and closes that connection; the loop runs on', () =>
      withLoop(subject, async (loop, reports) => {
        const [a, b] = await connectedPair(loop);
        const boom = new Error('boom');
        let calls = 0;
        b.dataReceived = () => {
          calls += 1;
          throw boom;
        };
        a.transport!.write(Buffer.from('one'));
        await until(() => b.count('lost') === 1);
        a.transport!.write(Buffer.from('two'));
        await until(() => a.count('lost') === 1);
        expect(calls).toBe(1);
        expect(reports).toHaveLength(1);
        const report = reports[0] as { message: string; exception: unknown; transport: unknown; protocol: unknown };
        expect(report.exception).toBe(boom);
        expect(report.message).toMatch(/dataReceived/);
        expect(report.transport).toBe(b.transport);
        expect(report.protocol).toBe(b);
        expect(b.lost).toEqual([boom]);
        expect(await loop.createTask(async () => 'still running')).toBe('still running');
      })));

    it('a throwing connectionLost is reported and the transport still releases', () =>
      withLoop(subject, async (loop, reports) => {
        const [a, b] = await connectedPair(loop);
        const boom = new Error('lost failed');
        a.connectionLost = () => {
          throw boom;
        };
        a.transport!.close();
        await until(() => b.count('lost') === 1);
        expect(reports.map((r) => (r as { exception: unknown }).exception)).toEqual([boom]);
      }));

    it('pauseReading/resumeReading are idempotent and hold data back', () =>
      withLoop(subject, async (loop) => {
        const [a, b] = await connectedPair(loop);
        const tb = b.transport!;
        tb.pauseReading();
        tb.pauseReading();
        expect(tb.isReading()).toBe(false);
        a.transport!.write(Buffer.from('held'));
        a.transport!.writeEof();
        for (let i = 0; i < 10; i++) await sleep(0);
        expect(b.events).toEqual(['made']);
        tb.resumeReading();
        tb.resumeReading();
        expect(tb.isReading()).toBe(true);
        await until(() => b.count('lost') === 1);
        expect(b.received).toBe('held');
        expect(b.events).toEqual(['made', 'data', 'eof', 'lost']);
      }));

    it('a BufferedProtocol receives through getBuffer/bufferUpdated', () =>
      withLoop(subject, async (loop) => {
        const got: number[] = [];
        let eof = false;
        class Small extends BufferedProtocol {
          buf = new Uint8Array(4);
          override getBuffer(): Uint8Array {
            return this.buf;
          }
          override bufferUpdated(n: number): void {
            got.push(...this.buf.subarray(0, n));
          }
          override eofReceived(): boolean {
            eof = true;
            return false;
          }
        }
        const a = new Recorder();
        const [ta] = memoryTransportPair(loop, a, new Small());
        ta.write(Buffer.from('0123456789'));
        ta.close();
        await until(() => eof);
        expect(Buffer.from(got).toString()).toBe('0123456789');
      }));

    it('a BufferedProtocol whose getBuffer returns an empty buffer fails the connection', () =>
      withLoop(subject, async (loop, reports) => {
        class Empty extends BufferedProtocol {
          lost: unknown[] = [];
          override getBuffer(): Uint8Array {
            return new Uint8Array(0);
          }
          override connectionLost(exc: unknown): void {
            this.lost.push(exc);
          }
        }
        const p = new Empty();
        const [ta] = memoryTransportPair(loop, new Recorder(), p);
        ta.write(Buffer.from('x'));
        await until(() => p.lost.length === 1);
        expect(reports).toHaveLength(1);
        expect(p.lost[0]).toBe((reports[0] as { exception: unknown }).exception);
      }));

    it('writing to a closed peer fails with ConnectionResetError, reported only as connectionLost', () =>
      withLoop(subject, async (loop, reports) => {
        const [a, b] = await connectedPair(loop);
        a.keepOpen = true;
        b.transport!.abort();
        await until(() => a.count('eof') === 1);
        a.transport!.write(Buffer.from('anyone?'));
        await until(() => a.count('lost') === 1);
        expect((a.lost[0] as Error).name).toBe('ConnectionResetError');
        expect((a.lost[0] as { code?: string }).code).toBe('ECONNRESET');
        expect(reports).toEqual([]);
      }));

    it('a completion-style backend: in-flight bytes count as buffered, sends chain until empty', () =>
      withLoop(subject, async (loop) => {
        const p = new Recorder();
        const t = new PostedSendTransport(loop, p);
        await until(() => p.transport !== null);
        expect(t.readingOn).toBe(true);
        t.setWriteBufferLimits({ high: 10, low: 4 });
        t.write(bytes(12, 97));
        expect(t.getWriteBufferSize()).toBe(12);
        expect(p.events).toEqual(['made', 'pause']);
        t.write(bytes(6, 98)); // joins the buffer while a send is in flight
        t.writeEof();
        expect(t.shutdown).toBe(false);
        await until(() => t.getWriteBufferSize() === 0);
        expect(Buffer.concat(t.sent).toString()).toBe('a'.repeat(12) + 'b'.repeat(6));
        expect(t.posts).toBe(3);
        expect(p.events).toEqual(['made', 'pause', 'resume']);
        expect(t.shutdown).toBe(true);
        t.close();
        await until(() => p.count('lost') === 1);
        expect(t.released).toBe(1);
      }));

    it('data a completion backend receives while paused is held, then delivered in order', () =>
      withLoop(subject, async (loop) => {
        const p = new Recorder();
        const t = new PostedSendTransport(loop, p);
        await until(() => p.transport !== null);
        t.pauseReading();
        expect(t.readingOn).toBe(false);
        t.recv('one ');
        t.recv('two');
        await sleep(0);
        expect(p.events).toEqual(['made']);
        t.resumeReading();
        expect(t.readingOn).toBe(true);
        t.recv(' three'); // arrives before the held data went out: delivered after it
        t.recv(null);
        await until(() => p.count('lost') === 1);
        expect(p.received).toBe('one two three');
        expect(p.events).toEqual(['made', 'data', 'data', 'data', 'eof', 'lost']);
      }));

    it('_closeNow() (loop teardown) calls connectionLost synchronously, once', () =>
      withLoop(subject, async (loop) => {
        const p = new Recorder();
        const t = new PostedSendTransport(loop, p);
        await until(() => p.transport !== null);
        t.write(bytes(100));
        t.close(); // still flushing
        t._closeNow();
        expect(p.lost).toEqual([null]);
        expect(t.released).toBe(1);
        expect(t.getWriteBufferSize()).toBe(0);
        for (let i = 0; i < 5; i++) await sleep(0);
        expect(p.count('lost')).toBe(1);
        expect(t.released).toBe(1);
      }));

    it('fatal errors: reported with transport and protocol unless a ConnectionError; connectionLost(exc)', () =>
      withLoop(subject, async (loop, reports) => {
        const p = new Recorder();
        const t = new PostedSendTransport(loop, p);
        await until(() => p.transport !== null);
        const error = new Error('EIO');
        t._fatalError(error, 'Fatal read error on socket transport');
        t._fatalError(new Error('second'), 'a second error');
        await until(() => p.count('lost') === 1);
        expect(p.lost).toEqual([error]);
        expect(reports).toEqual([
          { message: 'Fatal read error on socket transport', exception: error, transport: t, protocol: p },
          { message: 'a second error', exception: expect.any(Error), transport: t, protocol: p },
        ]);
        expect(t.getExtraInfo('peername')).toEqual({ address: '10.0.0.1', family: 'IPv4', port: 9 });
      }));

    it('a throwing connectionMade is reported once and closes the connection', () =>
      withLoop(subject, async (loop, reports) => {
        const p = new Recorder();
        const boom = new Error('made failed');
        p.connectionMade = () => {
          throw boom;
        };
        const t = new PostedSendTransport(loop, p);
        await until(() => p.count('lost') === 1);
        expect(p.lost).toEqual([boom]);
        expect(t.isClosing()).toBe(true);
        expect(reports.map((r) => (r as { exception: unknown }).exception)).toEqual([boom]);
      }));

    it('memoryTransportPair validates its options', () =>
      withLoop(subject, async (loop) => {
        expect(() => memoryTransportPair(loop, new Recorder(), new Recorder(), { maxWrite: 0 })).toThrow(RangeError);
        expect(() => memoryTransportPair(loop, new Recorder(), new Recorder(), { capacity: 'x' as never })).toThrow(
          /capacity/,
        );
        expect(() => memoryTransportPair(loop, null as never, new Recorder())).toThrow(/protocol/);
      }));
  });
}
