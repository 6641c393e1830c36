/**
 * Scenarios of CPython's test_streams.py (3.13) left by streams and streams-left: a Unix stream
 * server with a coroutine handler and with a plain callback that makes its own task (the
 * socket file removed on close, nothing reported), and a writer closed with the peer's data
 * unread. Every loop, the io_uring one included.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import {
  StreamReader,
  createTask,
  openConnection,
  openUnixConnection,
  startServer,
  startUnixServer,
  waitFor,
  type Socket,
  type StreamWriter,
} from 'loopkit';
import { onEachLoop, runIn } from '../contract/loops.js';

async function echoLine(reader: StreamReader, writer: StreamWriter): Promise<void> {
  const line = await reader.readline();
  writer.write(line);
  await writer.drain();
  writer.close();
  await writer.waitClosed();
}

onEachLoop('test_streams (left, 2)', (make) => {
  it('test_start_unix_server: a coroutine handler, then a callback that makes its own task; the socket file goes on close', () =>
    runIn(make, async (_loop, reports) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loopkit-unix-streams-'));
      try {
        const handlers = [echoLine, (reader: StreamReader, writer: StreamWriter) => void createTask(() => echoLine(reader, writer))];
        for (const [i, handler] of handlers.entries()) {
          const file = path.join(dir, `server-${i}.sock`);
          const server = await startUnixServer(handler, file);
          const [reader, writer] = await openUnixConnection(file);
          writer.write(Buffer.from('hello world!\n'));
          const echoed = await reader.readline();
          writer.close();
          await writer.waitClosed();
          server.close();
          await server.waitClosed();
          expect(Buffer.from(echoed).toString()).toBe('hello world!\n');
          expect(fs.existsSync(file)).toBe(false);
        }
        expect(reports).toEqual([]);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }));

  it('test_wait_closed_on_close_with_unread_data: close() and waitClosed() with the rest of the response unread', () =>
    runIn(make, async () => {
      const server = await startServer(async (reader, writer) => {
        await reader.readline();
        writer.write(Buffer.from('HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nTest message'));
        await writer.drain();
        await reader.read();
        writer.close();
      }, '127.0.0.1', 0);
      const port = ((server.sockets[0] as Socket).getsockname() as { port: number }).port;
      const [reader, writer] = await openConnection('127.0.0.1', port);
      writer.write(Buffer.from('GET / HTTP/1.0\r\n\r\n'));
      expect(Buffer.from(await reader.readline()).toString()).toBe('HTTP/1.0 200 OK\r\n');
      writer.close();
      await waitFor(writer.waitClosed(), 5);
      server.close();
      await server.waitClosed();
    }));

  it('test_feed_empty_data: feeding b"" leaves the buffer empty', () =>
    runIn(make, async () => {
      const reader = new StreamReader();
      reader.feedData(Buffer.alloc(0));
      expect(String(reader)).toBe('<StreamReader>');
      reader.feedData(Buffer.from('x'));
      reader.feedEof();
      expect(Buffer.from(await reader.read()).toString()).toBe('x');
    }));
});
