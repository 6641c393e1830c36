/**
 * Streams: StreamReader parsing, StreamWriter flow control and closing, over the in-memory
 * transport pair; openConnection/startServer through the running loop (a fake network on
 * loops without I/O, real TCP on loops with it).
 */
import { expect } from './expect.js';
import { describe, it } from './kit.js';
import { rule } from './rules.js';
import {
  IncompleteReadError,
  LimitOverrunError,
  RuntimeError,
  StreamReader,
  StreamReaderProtocol,
  StreamWriter,
  currentTask,
  memoryTransportPair,
  openConnection,
  sleep,
  startServer,
  type AbstractEventLoop,
  type MemoryTransportOptions,
} from '@loopkit/core';
import { lacks, withLoop, type LoopUnderTest } from './context.js';
import { until } from './transports.js';

const b = (s: string): Buffer => Buffer.from(s);

/** Two stream ends connected by a memory transport pair, both past connectionMade. */
export async function streamPair(
  loop: AbstractEventLoop,
  options: MemoryTransportOptions & { limit?: number } = {},
): Promise<[[StreamReader, StreamWriter], [StreamReader, StreamWriter]]> {
  const ends = [0, 1].map(() => {
    const reader = new StreamReader({ limit: options.limit, loop });
    return { reader, protocol: new StreamReaderProtocol(reader, null, loop) };
  });
  const transports = memoryTransportPair(loop, ends[0]!.protocol, ends[1]!.protocol, options);
  await sleep(0);
  const [x, y] = ends.map(({ reader, protocol }, i) => [reader, new StreamWriter(transports[i]!, protocol, reader, loop)] as [StreamReader, StreamWriter]);
  return [x!, y!];
}

async function rejection(promise: PromiseLike<unknown>): Promise<any> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

export function streamSuite(subject: LoopUnderTest): void {
  describe('streams', () => {
    it('readline: lines, the partial last line at EOF, then empty', () =>
      withLoop(subject, async (loop) => {
        const reader = new StreamReader({ loop });
        reader.feedData(b('line1\nline2\nre'));
        expect(String(await reader.readline())).toBe('line1\n');
        expect(String(await reader.readline())).toBe('line2\n');
        const pending = loop.createTask(() => reader.readline());
        await sleep(0);
        expect(pending.done()).toBe(false);
        reader.feedData(b('st'));
        reader.feedEof();
        expect(String(await pending)).toBe('rest');
        expect(reader.atEof()).toBe(true);
        expect((await reader.readline()).length).toBe(0);
        expect(() => reader.feedData(b('x'))).toThrow(RuntimeError);
        expect(() => reader.feedData('x' as never)).toThrow(TypeError);
      }));

    it('read(n), read() until EOF, read(0)', () =>
      withLoop(subject, async (loop) => {
        const reader = new StreamReader({ loop });
        expect((await reader.read(0)).length).toBe(0);
        reader.feedData(b('abcdef'));
        expect(String(await reader.read(2))).toBe('ab');
        const all = loop.createTask(() => reader.read());
        await sleep(0);
        reader.feedData(b('gh'));
        await sleep(0);
        expect(all.done()).toBe(false);
        reader.feedEof();
        expect(String(await all)).toBe('cdefgh');
        expect((await reader.read(5)).length).toBe(0);
        await expect(reader.read(1.5)).rejects.toThrow(TypeError);
      }));

    it('readexactly: exact bytes, IncompleteReadError with partial and expected at EOF', rule('readexactly(n) gives exactly n bytes, or IncompleteReadError with what arrived when EOF comes first', () =>
      withLoop(subject, async (loop) => {
        const reader = new StreamReader({ loop });
        const task = loop.createTask(() => reader.readexactly(5));
        reader.feedData(b('12'));
        await sleep(0);
        reader.feedData(b('3456'));
        expect(String(await task)).toBe('12345');
        expect((await reader.readexactly(0)).length).toBe(0);
        await expect(reader.readexactly(-1)).rejects.toThrow(RangeError);
        reader.feedEof();
        const error = await rejection(reader.readexactly(4));
        expect(error).toBeInstanceOf(IncompleteReadError);
        expect(String(Buffer.from(error.partial))).toBe('6');
        expect(error.expected).toBe(4);
        expect(error.message).toBe('1 bytes read on a total of 4 expected bytes');
        expect(reader.atEof()).toBe(true);
      })));

    it('readuntil: one separator, several (the earliest end wins), EOF without a match', () =>
      withLoop(subject, async (loop) => {
        const reader = new StreamReader({ loop });
        reader.feedData(b('a\r\nb--c==d'));
        expect(String(await reader.readuntil(b('\r\n')))).toBe('a\r\n');
        expect(String(await reader.readuntil([b('=='), b('--')]))).toBe('b--');
        expect(String(await reader.readuntil([b('=='), b('-')]))).toBe('c==');
        await expect(reader.readuntil(b(''))).rejects.toThrow(RangeError);
        await expect(reader.readuntil([])).rejects.toThrow(RangeError);
        await expect(reader.readuntil('\n' as never)).rejects.toThrow(TypeError);
        reader.feedEof();
        const error = await rejection(reader.readuntil(b('!')));
        expect(error).toBeInstanceOf(IncompleteReadError);
        expect(String(Buffer.from(error.partial))).toBe('d');
        expect(error.expected).toBeNull();
        expect(error.message).toBe('1 bytes read on a total of undefined expected bytes');
        expect(reader.atEof()).toBe(true);
      }));

    it('limit: LimitOverrunError keeps data for readuntil; readline drops the line, RangeError as asyncio', () =>
      withLoop(subject, async (loop) => {
        expect(() => new StreamReader({ limit: 0, loop })).toThrow(RangeError);
        const reader = new StreamReader({ limit: 4, loop });
        reader.feedData(b('abcdefg'));
        const notFound = await rejection(reader.readuntil(b('\n')));
        expect(notFound).toBeInstanceOf(LimitOverrunError);
        expect(notFound.message).toMatch(/not found/);
        expect(String(await reader.read(3))).toBe('abc');
        reader.feedData(b('h\n'));
        const tooLong = await rejection(reader.readuntil(b('\n')));
        expect(tooLong).toBeInstanceOf(LimitOverrunError);
        expect(tooLong.message).toMatch(/is found/);
        expect(tooLong.consumed).toBe(5);
        expect(String(await reader.readexactly(6))).toBe('defgh\n');
        reader.feedData(b('toolong\nok\n'));
        // asyncio's readline raises ValueError (loopkit: RangeError) with LimitOverrunError's message.
        const overLimit = await rejection(reader.readline());
        expect(overLimit.constructor).toBe(RangeError);
        expect(overLimit.message).toBe('Separator is found, but chunk is longer than limit');
        expect(overLimit.cause).toBeInstanceOf(LimitOverrunError);
        expect(String(await reader.readline())).toBe('ok\n');
      }));

    it('setException fails the pending and later reads; two readers at once is an error', () =>
      withLoop(subject, async (loop) => {
        const reader = new StreamReader({ loop });
        const first = loop.createTask(() => reader.read(1));
        await sleep(0);
        await expect(reader.readline()).rejects.toThrow(RuntimeError);
        const boom = new Error('boom');
        reader.setException(boom);
        await expect(first).rejects.toBe(boom);
        await expect(reader.readexactly(1)).rejects.toBe(boom);
        expect(reader.exception()).toBe(boom);
      }));

    it('async iteration yields lines until EOF', () =>
      withLoop(subject, async (loop) => {
        const reader = new StreamReader({ loop });
        reader.feedData(b('x\ny\nz'));
        reader.feedEof();
        const lines: string[] = [];
        for await (const line of reader) lines.push(String(line));
        expect(lines).toEqual(['x\n', 'y\n', 'z']);
      }));

    it('the reader pauses its transport over 2*limit and resumes at the limit', () =>
      withLoop(subject, async (loop) => {
        const [[, writer], [reader, peerWriter]] = await streamPair(loop, { limit: 10 });
        const transport = peerWriter.transport;
        writer.write(Buffer.alloc(21, 97));
        await until(() => !transport.isReading());
        expect(String(await reader.read(10))).toBe('a'.repeat(10));
        expect(transport.isReading()).toBe(false); // 11 left: over the limit
        await reader.read(1);
        expect(transport.isReading()).toBe(true);
      }));

    it('drain() waits while writing is paused and resumes at the low mark', rule('StreamWriter.drain() waits while the transport has paused writing, and returns once it resumes', () =>
      withLoop(subject, async (loop) => {
        const [[, writer], [reader]] = await streamPair(loop, { maxWrite: 10 });
        await writer.drain(); // nothing buffered: no wait
        const transport = writer.transport;
        transport.setWriteBufferLimits({ high: 50, low: 10 });
        writer.write(Buffer.alloc(200, 120));
        expect(transport.getWriteBufferSize()).toBe(190);
        const drained = loop.createTask(() => writer.drain());
        await sleep(0);
        expect(drained.done()).toBe(false);
        await drained;
        expect(transport.getWriteBufferSize()).toBeLessThanOrEqual(10);
        expect((await reader.readexactly(200)).every((x) => x === 120)).toBe(true);
      })));

    it('drain() throws the connection error when the connection is lost while paused', () =>
      withLoop(subject, async (loop) => {
        const [[reader, writer], [, peerWriter]] = await streamPair(loop, { maxWrite: 10, capacity: 10 });
        writer.transport.setWriteBufferLimits({ high: 20 });
        peerWriter.transport.pauseReading();
        writer.write(Buffer.alloc(100));
        const drained = loop.createTask(() => writer.drain());
        await sleep(0);
        peerWriter.transport.abort();
        const error = await rejection(drained);
        expect(error.name).toBe('ConnectionResetError');
        await expect(reader.read()).rejects.toBe(error);
        await expect(writer.waitClosed()).rejects.toBe(error);
      }));

    it('close() then waitClosed(); drain() after close throws ConnectionResetError', () =>
      withLoop(subject, async (loop) => {
        const [[, writer], [peerReader]] = await streamPair(loop);
        writer.write(b('bye'));
        writer.close();
        expect(writer.isClosing()).toBe(true);
        await writer.waitClosed();
        expect(String(await peerReader.read())).toBe('bye');
        expect(peerReader.atEof()).toBe(true);
        const error = await rejection(writer.drain());
        expect(error.name).toBe('ConnectionResetError');
        await writer.waitClosed();
      }));

    it('writeEof half-closes: the peer reads to EOF and can still answer', () =>
      withLoop(subject, async (loop) => {
        const [[reader, writer], [peerReader, peerWriter]] = await streamPair(loop, { maxWrite: 3 });
        expect(writer.canWriteEof()).toBe(true);
        writer.write(b('ping'));
        writer.writeEof();
        expect(String(await peerReader.read())).toBe('ping');
        expect(peerWriter.isClosing()).toBe(false);
        peerWriter.write(b('pong'));
        await peerWriter.drain();
        peerWriter.close();
        expect(String(await reader.read())).toBe('pong');
        expect(writer.isClosing()).toBe(false); // eofReceived kept it open
        writer.close();
        await writer.waitClosed();
        await peerWriter.waitClosed();
        expect(writer.getExtraInfo('peername', 'n/a')).toBe('n/a');
      }));

    it('openConnection/startServer delegate to the running loop (sync and async callbacks)', () =>
      withLoop(subject, async (loop, reports) => {
        // A fake network: createServer remembers the factory, createConnection pairs with it.
        const factories = new Map<number, () => unknown>();
        const seen: unknown[] = [];
        const fakeServer = { close() {} };
        const patched = loop as unknown as Record<string, unknown>;
        patched.createServer = async (factory: () => unknown, host: unknown, port: number, opts: unknown) => {
          seen.push(['server', host, port, opts]);
          factories.set(port, factory);
          return fakeServer;
        };
        patched.createConnection = async (factory: () => any, host: unknown, port: number, opts: unknown) => {
          seen.push(['connect', host, port, opts]);
          const client = factory();
          const [transport] = memoryTransportPair(loop, client, factories.get(port)!() as never);
          await sleep(0);
          return [transport, client];
        };
        let insideTask = false;
        const server = await startServer(
          async (reader, writer) => {
            insideTask = currentTask() !== null;
            const line = await reader.readline();
            writer.write(b(String(line).toUpperCase()));
            await writer.drain();
            writer.close();
          },
          'here',
          1,
          { limit: 100, backlog: 5 },
        );
        expect(server).toBe(fakeServer);
        let plainInsideTask = false;
        await startServer((_reader, writer) => {
          plainInsideTask = currentTask() !== null;
          writer.write(b('sync hello'));
          writer.close();
        }, 'here', 2);
        await startServer(async () => {
          throw new Error('handler failed');
        }, 'here', 3);

        const [reader, writer] = await openConnection('here', 1, { limit: 100, family: 4 });
        writer.write(b('hello\n'));
        expect(String(await reader.read())).toBe('HELLO\n');
        expect(insideTask).toBe(true);
        writer.close();
        await writer.waitClosed();

        const [reader2] = await openConnection('here', 2);
        expect(String(await reader2.read())).toBe('sync hello');
        expect(plainInsideTask).toBe(true); // any function is a coroutine function here

        const [reader3] = await openConnection('here', 3);
        expect((await reader3.read()).length).toBe(0);
        expect(reports).toHaveLength(1);
        expect((reports[0] as { exception: Error }).exception.message).toBe('handler failed');
        expect(seen[0]).toEqual(['server', 'here', 1, { backlog: 5 }]);
        expect(seen).toContainEqual(['connect', 'here', 1, { family: 4 }]);
        await expect(startServer(null as never, 'here', 4)).rejects.toThrow(TypeError);
      }));

    it.skipIf(lacks(subject, 'network'))('openConnection/startServer over TCP: echo', () =>
      withLoop(subject, async () => {
        const server = await startServer(async (reader, writer) => {
          const data = await reader.read();
          writer.write(data);
          await writer.drain();
          writer.close();
          await writer.waitClosed();
        }, '127.0.0.1', 0);
        const socket = server.sockets[0] as { getsockname(): { port: number } };
        const [reader, writer] = await openConnection('127.0.0.1', socket.getsockname().port);
        expect(writer.getExtraInfo<{ port: number }>('peername')!.port).toBe(socket.getsockname().port);
        const payload = Buffer.alloc(256 * 1024, 7);
        writer.write(payload);
        await writer.drain();
        writer.writeEof();
        expect((await reader.read()).equals(payload)).toBe(true);
        writer.close();
        await writer.waitClosed();
        server.close();
        await server.waitClosed();
      }));
  });
}
