/** Scenarios of CPython's test_asyncio/test_streams.py (3.13), on the loops users get, over real TCP. */
import { expect, it } from 'vitest';
import {
  CancelledError,
  ConnectionError,
  IncompleteReadError,
  LimitOverrunError,
  RuntimeError,
  StreamReader,
  createTask,
  openConnection,
  sleep,
  startServer,
  type StreamWriter,
} from 'loopkit';
import { onEachLoop, portOf, rejection, runIn } from './loops.js';

const b = (s: string): Buffer => Buffer.from(s);
const DATA = b('line1\nline2\nline3\n');

/** A reader fed `chunks` then EOF (asyncio's test pattern: feed_data then feed_eof). */
function fedReader(chunks: string[], limit?: number, eof = true): StreamReader {
  const reader = new StreamReader(limit === undefined ? {} : { limit });
  for (const c of chunks) reader.feedData(b(c));
  if (eof) reader.feedEof();
  return reader;
}

onEachLoop('test_streams', (make) => {
  it('test_open_connection / test_start_server: echo over TCP, readline and read', () =>
    runIn(make, async () => {
      const server = await startServer(async (reader, writer) => {
        const line = await reader.readline();
        writer.write(line);
        await writer.drain();
        writer.close();
        await writer.waitClosed();
      }, '127.0.0.1', 0);
      const port = portOf(server);
      const [reader, writer] = await openConnection('127.0.0.1', port);
      writer.write(b('GET / HTTP/1.0\r\n\r\n'));
      expect((await reader.readline()).toString()).toBe('GET / HTTP/1.0\r\n');
      expect((await reader.read()).length).toBe(0);
      expect(reader.atEof()).toBe(true);
      writer.close();
      await writer.waitClosed();
      server.close();
      await server.waitClosed();
    }));

  it('test_read / test_read_zero / test_read_eof / test_read_until_eof', () =>
    runIn(make, async (loop) => {
      const stream = new StreamReader();
      expect((await stream.read(0)).length).toBe(0);
      const readTask = createTask(() => stream.read(30));
      loop.callSoon(() => stream.feedData(DATA));
      expect((await readTask).equals(DATA)).toBe(true);

      const eofStream = new StreamReader();
      const eofRead = createTask(() => eofStream.read(1024));
      loop.callSoon(() => eofStream.feedEof());
      expect((await eofRead).length).toBe(0);
      expect(eofStream.atEof()).toBe(true);

      const all = new StreamReader();
      const allRead = createTask(() => all.read(-1));
      loop.callSoon(() => {
        all.feedData(b('chunk1\n'));
        all.feedData(b('chunk2'));
        all.feedEof();
      });
      expect((await allRead).toString()).toBe('chunk1\nchunk2');
      expect((await all.read()).length).toBe(0);
    }));

  it('test_read_limit / test_read_exception / test_invalid_limit', () =>
    runIn(make, async () => {
      const stream = fedReader(['chunk'], 3, false);
      expect((await stream.read(5)).toString()).toBe('chunk');
      const failing = fedReader(['line\n'], undefined, false);
      expect((await failing.read(2)).toString()).toBe('li');
      failing.setException(new TypeError('boom'));
      expect(await rejection(failing.read(2))).toBeInstanceOf(TypeError);
      expect(() => new StreamReader({ limit: 0 })).toThrow(RangeError);
      expect(() => new StreamReader({ limit: -1 })).toThrow(RangeError);
    }));

  it('test_readline / test_readline_limit_with_existing_data / test_at_eof', () =>
    runIn(make, async (loop) => {
      const stream = new StreamReader();
      stream.feedData(b('chunk1 '));
      const readTask = createTask(() => stream.readline());
      loop.callSoon(() => {
        stream.feedData(b('chunk2 '));
        stream.feedData(b('chunk3 '));
        stream.feedData(b('\n chunk4'));
      });
      expect((await readTask).toString()).toBe('chunk1 chunk2 chunk3 \n');
      expect((await stream.read(7)).toString()).toBe(' chunk4');

      const limited = new StreamReader({ limit: 3 });
      limited.feedData(b('li'));
      limited.feedData(b('ne1\nline2\n'));
      const error = await rejection(limited.readline());
      expect(error).toBeInstanceOf(RangeError);
      expect(error).not.toBeInstanceOf(LimitOverrunError);
      // The overlong line was dropped with its newline; the next one stays.
      expect((await limited.read(6)).toString()).toBe('line2\n');

      const limited2 = new StreamReader({ limit: 3 });
      limited2.feedData(b('li'));
      limited2.feedData(b('ne1'));
      limited2.feedData(b('li'));
      expect(await rejection(limited2.readline())).toBeInstanceOf(RangeError);
      // No newline in sight: the whole buffer was dropped.
      expect(limited2.toString()).toBe('<StreamReader limit=3>');

      const eofTest = new StreamReader();
      expect(eofTest.atEof()).toBe(false);
      eofTest.feedData(b('some data\n'));
      expect(eofTest.atEof()).toBe(false);
      await eofTest.readline();
      expect(eofTest.atEof()).toBe(false);
      eofTest.feedData(b('some data\n'));
      eofTest.feedEof();
      await eofTest.readline();
      expect(eofTest.atEof()).toBe(true);
    }));

  it('test_readline_nolimit_nowait / test_readline_eof / test_readline_empty_eof / test_readline_read_byte_count', () =>
    runIn(make, async () => {
      const s1 = fedReader([DATA.subarray(0, 6).toString(), DATA.subarray(6).toString()], undefined, false);
      expect((await s1.readline()).toString()).toBe('line1\n');
      expect((await s1.read(-1 + 13)).toString()).toBe('line2\nline3\n');

      const s2 = fedReader(['some data']);
      expect((await s2.readline()).toString()).toBe('some data');
      const s3 = fedReader([]);
      expect((await s3.readline()).length).toBe(0);

      const s4 = fedReader([DATA.toString()]);
      await s4.readline();
      expect((await s4.read(7)).toString()).toBe('line2\nl');
      expect((await s4.read(7)).toString()).toBe('ine3\n');
    }));

  it('test_readline_exception / test_readuntil_separator / test_readuntil_multi_chunks', () =>
    runIn(make, async () => {
      const s = fedReader(['line\n'], undefined, false);
      expect((await s.readline()).toString()).toBe('line\n');
      s.setException(new TypeError());
      expect(await rejection(s.readline())).toBeInstanceOf(TypeError);
      expect((await rejection(s.read(1)))).toBeInstanceOf(TypeError);

      const empty = new StreamReader();
      expect(await rejection(empty.readuntil(b('')))).toBeInstanceOf(RangeError);
      expect(await rejection(empty.readuntil([]))).toBeInstanceOf(RangeError);

      const m = new StreamReader();
      m.feedData(b('lineAAA'));
      expect((await m.readuntil(b('AAA'))).toString()).toBe('lineAAA');
      m.feedData(b('lineAAA'));
      expect((await m.readuntil(b('AAA'))).toString()).toBe('lineAAA');
      m.feedData(b('lineAAAxxx'));
      expect((await m.readuntil(b('AAA'))).toString()).toBe('lineAAA');
      expect(m.toString()).toMatch(/^<StreamReader 3 bytes/);
    }));

  it('test_readuntil_multi_chunks_1 / test_readuntil_eof / test_readuntil_limit_found_sep', () =>
    runIn(make, async () => {
      const s = new StreamReader();
      s.feedData(b('QWEaa'));
      s.feedData(b('XYaa'));
      s.feedData(b('a'));
      expect((await s.readuntil(b('aaa'))).toString()).toBe('QWEaaXYaaa');
      s.feedData(b('XYa'));
      s.feedData(b('aa'));
      expect((await s.readuntil(b('aaa'))).toString()).toBe('XYaaa');
      s.feedData(b('aaa'));
      expect((await s.readuntil(b('aaa'))).toString()).toBe('aaa');
      s.feedData(b('Xaaa'));
      expect((await s.readuntil(b('aaa'))).toString()).toBe('Xaaa');

      const e = fedReader(['some dataAA']);
      const err = (await rejection(e.readuntil(b('AAA')))) as IncompleteReadError;
      expect(err).toBeInstanceOf(IncompleteReadError);
      expect(Buffer.from(err.partial).toString()).toBe('some dataAA');
      expect(err.expected).toBeNull();
      expect(e.toString()).toBe('<StreamReader eof>');

      const l = new StreamReader({ limit: 3 });
      l.feedData(b('some dataAA'));
      const over = (await rejection(l.readuntil(b('AAA')))) as LimitOverrunError;
      expect(over).toBeInstanceOf(LimitOverrunError);
      expect(over.message).toMatch(/not found/);
      l.feedData(b('A'));
      const found = (await rejection(l.readuntil(b('AAA')))) as LimitOverrunError;
      expect(found).toBeInstanceOf(LimitOverrunError);
      expect(found.message).toMatch(/is found/);
      expect(l.toString()).toMatch(/^<StreamReader 12 bytes/);
    }));

  it('test_readuntil_multiple_separators / test_readuntil_bytearray', () =>
    runIn(make, async () => {
      const s = new StreamReader();
      s.feedData(b('line 1\nline 2\r\nline 3\r'));
      expect((await s.readuntil([b('\n'), b('\r\n')])).toString()).toBe('line 1\n');
      expect((await s.readuntil([b('\r\n'), b('\n')])).toString()).toBe('line 2\r\n');
      s.feedData(b('\n'));
      expect((await s.readuntil([b('\r'), b('\r\n')])).toString()).toBe('line 3\r');
      const u = new StreamReader();
      u.feedData(b('some data\r\n'));
      expect((await u.readuntil(new Uint8Array([13, 10]))).toString()).toBe('some data\r\n');
    }));

  it('test_readexactly_zero_or_less / test_readexactly / test_readexactly_eof / test_readexactly_exception', () =>
    runIn(make, async (loop) => {
      const z = fedReader([DATA.toString()], undefined, false);
      expect((await z.readexactly(0)).length).toBe(0);
      expect(await rejection(z.readexactly(-1))).toBeInstanceOf(RangeError);
      expect(z.toString()).toMatch(new RegExp(`^<StreamReader ${DATA.length} bytes`));

      const s = new StreamReader();
      const n = 2 * DATA.length;
      const readTask = createTask(() => s.readexactly(n));
      loop.callSoon(() => {
        s.feedData(DATA);
        s.feedData(DATA);
        s.feedData(DATA);
      });
      expect((await readTask).equals(Buffer.concat([DATA, DATA]))).toBe(true);
      expect((await s.read(DATA.length)).equals(DATA)).toBe(true);

      const e = new StreamReader();
      const eofTask = createTask(() => e.readexactly(2 * DATA.length));
      loop.callSoon(() => {
        e.feedData(DATA);
        e.feedEof();
      });
      const err = (await rejection(eofTask)) as IncompleteReadError;
      expect(err).toBeInstanceOf(IncompleteReadError);
      expect(Buffer.from(err.partial).equals(DATA)).toBe(true);
      expect(err.expected).toBe(2 * DATA.length);
      expect(err.message).toBe(`18 bytes read on a total of 36 expected bytes`);

      const x = fedReader(['line\n'], undefined, false);
      expect((await x.readexactly(2)).toString()).toBe('li');
      x.setException(new TypeError());
      expect(await rejection(x.readexactly(2))).toBeInstanceOf(TypeError);
    }));

  it('test_readexactly_limit: reads past the limit without deadlock', () =>
    runIn(make, async () => {
      const server = await startServer(async (_reader, writer) => {
        writer.write(Buffer.alloc(200_000, 0x61));
        await writer.drain();
        writer.close();
      }, '127.0.0.1', 0);
      const [reader, writer] = await openConnection('127.0.0.1', portOf(server), { limit: 1024 });
      expect((await reader.readexactly(200_000)).length).toBe(200_000);
      writer.close();
      await writer.waitClosed();
      server.close();
      await server.waitClosed();
    }));

  it('test_exception_waiter / test_exception_cancel / test_two_readers', () =>
    runIn(make, async (loop) => {
      const stream = new StreamReader();
      const setErr = async () => stream.setException(new TypeError());
      const t1 = createTask(() => stream.readline());
      const t2 = createTask(setErr);
      await Promise.allSettled([t1, t2]);
      expect(t1.exception()).toBeInstanceOf(TypeError);

      const s2 = new StreamReader();
      const t = createTask(() => s2.readline());
      await sleep(0);
      t.cancel();
      await sleep(0);
      // The cancelled read's waiter is gone: an error set now reaches nobody, and a new read sees it.
      s2.setException(new RangeError());
      expect(await rejection(t)).toBeInstanceOf(CancelledError);
      expect(await rejection(s2.read(1))).toBeInstanceOf(RangeError);

      const s3 = new StreamReader();
      const first = createTask(() => s3.read(1));
      await sleep(0);
      const second = await rejection(s3.read(1));
      expect(second).toBeInstanceOf(RuntimeError);
      expect((second as Error).message).toMatch(/already waiting for incoming data/);
      s3.feedData(b('x'));
      expect((await first).toString()).toBe('x');
      void loop;
    }));

  it('test_wait_closed_on_close / with_unread_data / test_async_writer_api', () =>
    runIn(make, async () => {
      const server = await startServer(async (reader, writer) => {
        const data = await reader.read();
        writer.write(data);
        await writer.drain();
        writer.close();
        await writer.waitClosed();
      }, '127.0.0.1', 0);
      const port = portOf(server);
      const [reader, writer] = await openConnection('127.0.0.1', port);
      writer.write(b('GET / HTTP/1.0\r\n\r\n'));
      writer.writeEof();
      const f = reader.readline();
      expect((await f).toString()).toBe('GET / HTTP/1.0\r\n');
      expect(writer.isClosing()).toBe(false);
      writer.close();
      expect(writer.isClosing()).toBe(true);
      await writer.waitClosed();
      expect(writer.isClosing()).toBe(true);

      // closing with data still unread by us
      const [, writer2] = await openConnection('127.0.0.1', port);
      writer2.write(b('hello'));
      writer2.writeEof();
      await sleep(0.01);
      writer2.close();
      await writer2.waitClosed();
      server.close();
      await server.waitClosed();
    }));

  it('test_eof_feed_when_closing_writer: the reader sees EOF after close', () =>
    runIn(make, async () => {
      const server = await startServer(async (reader, writer) => {
        await reader.read();
        writer.close();
      }, '127.0.0.1', 0);
      const [reader, writer] = await openConnection('127.0.0.1', portOf(server));
      writer.close();
      await writer.waitClosed();
      expect(reader.atEof()).toBe(true);
      server.close();
      await server.waitClosed();
    }));

  it('test_drain_raises: drain() throws a ConnectionError once the peer is gone', () =>
    runIn(make, async () => {
      let serverWriter!: StreamWriter;
      const connected = new Promise<void>((resolve) => {
        void startServer(async (_r, w) => {
          serverWriter = w;
          resolve();
        }, '127.0.0.1', 0).then((srv) => ((server = srv), resolveServer()));
      });
      let server!: Awaited<ReturnType<typeof startServer>>;
      let resolveServer!: () => void;
      const serverUp = new Promise<void>((r) => (resolveServer = r));
      await serverUp;
      const [, writer] = await openConnection('127.0.0.1', portOf(server));
      await connected;
      writer.transport.abort();
      await sleep(0.05);
      let error: unknown = null;
      for (let i = 0; i < 50 && error === null; i++) {
        try {
          serverWriter.write(Buffer.alloc(65536));
          await serverWriter.drain();
          await sleep(0.005);
        } catch (e) {
          error = e;
        }
      }
      expect(error).toBeInstanceOf(Error);
      // asyncio 3.13 raises ConnectionResetError('Connection lost') here too (no errno): the peer's EOF came first.
      expect(error).toBeInstanceOf(ConnectionError);
      server.close();
      await server.waitClosed();
    }));

  it('test___repr__ / test___repr__eof / test___repr__data / test___repr__exception', () =>
    runIn(make, async () => {
      const s = new StreamReader();
      expect(String(s)).toBe('<StreamReader>');
      s.feedEof();
      expect(String(s)).toBe('<StreamReader eof>');
      const d = new StreamReader();
      d.feedData(b('data'));
      expect(String(d)).toBe('<StreamReader 4 bytes>');
      const l = new StreamReader({ limit: 123 });
      expect(String(l)).toBe('<StreamReader limit=123>');
    }));

  it.skip('test_IncompleteReadError_pickleable / test_LimitOverrunError_pickleable: Python pickling', () => {});
});
