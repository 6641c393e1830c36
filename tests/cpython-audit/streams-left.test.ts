/**
 * Scenarios of CPython's test_asyncio/test_streams.py (3.13) the first audit left: several
 * separators against the limit, many drains at once, a read pipe with a tiny limit, the
 * writer after close, unhandled errors of a client callback, StreamWriter state and extra
 * info, readline limits over a real socket.
 */
import * as net from 'node:net';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { expect, it } from 'vitest';
import {
  ConnectionResetError,
  LimitOverrunError,
  StreamReader,
  StreamReaderProtocol,
  createTask,
  currentTask,
  gather,
  openConnection,
  sleep,
  socketpair,
  startServer,
  type Transport,
} from 'loopkit';
import { onEachLoop, pausedWriting, portOf, rejection, runIn } from './loops.js';

v8.setFlagsFromString('--expose-gc');
/** A full collection (asyncio's tests call gc.collect()). */
const collectGarbage = vm.runInNewContext('gc') as () => void;

onEachLoop('test_streams (left by the first audit)', (make) => {
  it('test_readuntil_multi_separator_limit: found beyond the limit, the data stays', () =>
    runIn(make, async () => {
      const stream = new StreamReader({ limit: 3 });
      stream.feedData(Buffer.from('some dataA'));
      const error = await rejection(stream.readuntil([Buffer.from('A'), Buffer.from('ome dataA')]));
      expect(error).toBeInstanceOf(LimitOverrunError);
      expect(String(error)).toMatch(/is found/);
      expect((await stream.readexactly(10)).toString()).toBe('some dataA');
    }));

  it('test_readuntil_multi_separator_negative_offset: a short buffer and a long separator', () =>
    runIn(make, async (loop) => {
      const stream = new StreamReader();
      stream.feedData(Buffer.from('data'));
      const task = createTask(() => stream.readuntil([Buffer.from('A'), Buffer.from('long sep')]));
      loop.callSoon(() => stream.feedData(Buffer.from('Z')));
      loop.callSoon(() => stream.feedData(Buffer.from('Aaaa')));
      expect((await task).toString()).toBe('dataZA');
      expect((await stream.readexactly(3)).toString()).toBe('aaa');
    }));

  it('test_read_line_breaks: read(5) stops mid-buffer; read(-1) joins chunks until EOF', () =>
    runIn(make, async (loop) => {
      const a = new StreamReader();
      a.feedData(Buffer.from('line1'));
      a.feedData(Buffer.from('line2'));
      expect((await a.read(5)).toString()).toBe('line1');
      expect((await a.read(5)).toString()).toBe('line2');
      const b = new StreamReader();
      const all = createTask(() => b.read(-1));
      loop.callSoon(() => {
        b.feedData(Buffer.from('chunk1\n'));
        b.feedData(Buffer.from('chunk2'));
        b.feedEof();
      });
      expect((await all).toString()).toBe('chunk1\nchunk2');
    }));

  it('test_multiple_drain: ten drains waiting on paused writing all finish once it resumes', () =>
    runIn(make, async () => {
      const { writer, resumeReading, close } = await pausedWriting();
      let drained = 0;
      const drains = gather(...Array.from({ length: 10 }, () => async () => {
        await writer.drain();
        drained += 1;
      }));
      await sleep(0.02);
      expect(drained).toBe(0);
      resumeReading();
      await drains;
      expect(drained).toBe(10);
      await close();
    }));

  it('test_read_all_from_pipe_reader: a read pipe with limit 1 still delivers everything', () =>
    runIn(make, async (loop) => {
      const [rsock, wsock] = socketpair();
      const reader = new StreamReader({ limit: 1 });
      // detach(): the pipe transport owns the fd now (a collected Socket would close it again).
      await loop.connectReadPipe(() => new StreamReaderProtocol(reader), rsock.detach());
      wsock.send(Buffer.from('data'));
      wsock.close();
      expect((await reader.read()).toString()).toBe('data');
    }));

  it('test_open_connection_error: connectionLost(error) makes read() throw it; nothing reported', () =>
    runIn(make, async (_loop, reports) => {
      const server = await startServer(async (reader, writer) => {
        await reader.read();
        writer.close();
      }, '127.0.0.1', 0);
      const [reader, writer] = await openConnection('127.0.0.1', portOf(server));
      const failure = new RangeError('zero division');
      (writer.transport as Transport).getProtocol().connectionLost(failure);
      expect(await rejection(reader.read())).toBe(failure);
      writer.close();
      await sleep(0.01);
      expect(reports).toEqual([]);
      server.close();
    }));

  it('test_async_writer_api_exception_after_close: write + drain after close throw ConnectionResetError', () =>
    runIn(make, async (_loop, reports) => {
      const server = await startServer(async (reader, writer) => {
        writer.write(Buffer.from('HTTP/1.0 200 OK\r\n\r\nTest message'));
        await writer.drain();
        writer.close();
        await reader.read();
      }, '127.0.0.1', 0);
      const [reader, writer] = await openConnection('127.0.0.1', portOf(server));
      expect((await reader.readline()).toString()).toBe('HTTP/1.0 200 OK\r\n');
      expect((await reader.read()).toString()).toBe('\r\nTest message');
      writer.close();
      expect(writer.isClosing()).toBe(true);
      const error = await rejection((async () => {
        writer.write(Buffer.from('data'));
        await writer.drain();
      })());
      expect(error).toBeInstanceOf(ConnectionResetError);
      await writer.waitClosed();
      expect(reports).toEqual([]);
      server.close();
    }));

  it('test_unhandled_exception / test_unhandled_cancel: a failing callback is reported once, a cancelled one not', () =>
    runIn(make, async (_loop, reports) => {
      const client = async (port: number) => {
        const [, writer] = await openConnection('127.0.0.1', port);
        writer.write(Buffer.from('test msg'));
        await writer.drain();
        writer.close();
        await writer.waitClosed();
      };
      const failing = await startServer(async () => {
        throw new Error('test');
      }, '127.0.0.1', 0);
      await client(portOf(failing));
      for (let i = 0; i < 100 && reports.length === 0; i++) await sleep(0.005);
      failing.close();
      await failing.waitClosed();
      expect(reports.length).toBe(1);
      expect(reports[0]!.message).toMatch(/^Unhandled exception in client/);
      expect(String(reports[0]!.exception)).toMatch(/test/);

      reports.length = 0;
      const cancelling = await startServer(async (_reader, writer) => {
        writer.close();
        currentTask()!.cancel();
        await sleep(1);
      }, '127.0.0.1', 0);
      await client(portOf(cancelling));
      cancelling.close();
      await cancelling.waitClosed();
      await sleep(0.01);
      expect(reports).toEqual([]);
    }));

  it('StreamWriter: isClosing, canWriteEof, getExtraInfo (peername, sockname, socket), waitClosed twice', () =>
    runIn(make, async () => {
      const server = await startServer(async (reader, writer) => {
        await reader.read();
        writer.close();
      }, '127.0.0.1', 0);
      const port = portOf(server);
      const [reader, writer] = await openConnection('127.0.0.1', port);
      expect(writer.isClosing()).toBe(false);
      expect(writer.canWriteEof()).toBe(true);
      expect(writer.getExtraInfo('peername')).toMatchObject({ address: '127.0.0.1', port });
      expect(writer.getExtraInfo('sockname')).toMatchObject({ address: '127.0.0.1' });
      expect(writer.getExtraInfo('socket')).not.toBeNull();
      expect(writer.getExtraInfo('nonexistent')).toBeNull();
      expect(writer.getExtraInfo('nonexistent', 'fallback')).toBe('fallback');
      writer.writeEof();
      expect((await reader.read()).length).toBe(0);
      writer.close();
      expect(writer.isClosing()).toBe(true);
      await writer.waitClosed();
      await writer.waitClosed();
      server.close();
      await server.waitClosed();
    }));

  it('readline over a real socket: a line over the limit throws RangeError and is dropped; the next line reads', () =>
    runIn(make, async () => {
      const server = await startServer(async (_reader, writer) => {
        writer.write(Buffer.from(`${'x'.repeat(200)}\nshort\n`));
        await writer.drain();
        writer.close();
      }, '127.0.0.1', 0);
      const [reader, writer] = await openConnection('127.0.0.1', portOf(server), { limit: 64 });
      const error = await rejection(reader.readline());
      expect(error).toBeInstanceOf(RangeError);
      expect(String(error)).toMatch(/Separator is (not found, and chunk exceed the limit|found, but chunk is longer than limit)/);
      expect((await reader.readline()).toString()).toBe('short\n');
      expect((await reader.readline()).length).toBe(0);
      writer.close();
      server.close();
      await server.waitClosed();
    }));

  it('readuntil over a real socket: LimitOverrunError leaves the data; readexactly then takes it', () =>
    runIn(make, async () => {
      const server = await startServer(async (_reader, writer) => {
        writer.write(Buffer.from(`${'y'.repeat(100)}END`));
        await writer.drain();
        writer.close();
      }, '127.0.0.1', 0);
      const [reader, writer] = await openConnection('127.0.0.1', portOf(server), { limit: 16 });
      const error = await rejection(reader.readuntil(Buffer.from('END')));
      expect(error).toBeInstanceOf(LimitOverrunError);
      const consumed = (error as LimitOverrunError).consumed;
      expect(consumed).toBeGreaterThan(16);
      expect((await reader.readexactly(consumed)).toString()).toBe('y'.repeat(consumed));
      writer.close();
      server.close();
    }));

  it('test_unclosed_resource_warnings: an openConnection writer dropped unclosed closes its connection once collected', () =>
    runIn(make, async () => {
      let ended = false;
      const peer = net.createServer();
      const peerSaw = new Promise<string>((resolve) =>
        peer.on('connection', (sock) => {
          const got: Buffer[] = [];
          sock.on('data', (chunk) => got.push(chunk));
          sock.on('end', () => {
            ended = true;
            resolve(Buffer.concat(got).toString());
          });
        }),
      );
      await new Promise<void>((resolve) => peer.listen(0, '127.0.0.1', resolve));
      try {
        // The writer lives only in this function's frame, as asyncio's `del wr`.
        const reader = await (async () => {
          const [reader, writer] = await openConnection('127.0.0.1', (peer.address() as net.AddressInfo).port);
          writer.write(Buffer.from('last words'));
          return reader;
        })();
        for (let i = 0; i < 200 && !ended; i++) {
          collectGarbage();
          await sleep(0.01);
        }
        expect(ended).toBe(true);
        expect(await peerSaw).toBe('last words');
        expect(reader).toBeDefined();
      } finally {
        peer.close();
      }
    }));
});
