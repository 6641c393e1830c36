/** Small real programs, as asyncio users write them (test_streams/test_server style), on the loops users get. */
import * as http from 'node:http';
import { expect, it } from 'vitest';
import { ConnectionRefusedError, createTask, gather, openConnection, sleep, startServer, waitFor, type StreamWriter } from 'loopkit';
import { onEachLoop, portOf, rejection, runIn } from './loops.js';

onEachLoop('programs', (make) => {
  it('an upper-casing line server with 20 concurrent clients', () =>
    runIn(make, async () => {
      const server = await startServer(async (reader, writer) => {
        for await (const line of reader) {
          writer.write(Buffer.from(line.toString().toUpperCase()));
          await writer.drain();
        }
        writer.close();
        await writer.waitClosed();
      }, '127.0.0.1', 0);
      const port = portOf(server);
      const client = async (n: number) => {
        const [reader, writer] = await openConnection('127.0.0.1', port);
        const got: string[] = [];
        for (let i = 0; i < 5; i++) {
          writer.write(Buffer.from(`client ${n} line ${i}\n`));
          await writer.drain();
          got.push((await reader.readline()).toString());
        }
        writer.writeEof();
        expect((await reader.read()).length).toBe(0);
        writer.close();
        await writer.waitClosed();
        return got;
      };
      const all = await gather(...Array.from({ length: 20 }, (_, n) => () => client(n)));
      expect(all[7]![3]).toBe('CLIENT 7 LINE 3\n');
      server.close();
      await server.waitClosed();
    }));

  it('server.waitClosed() waits for the open connection; closeClients() ends it (asyncio 3.13)', () =>
    runIn(make, async () => {
      const writers: StreamWriter[] = [];
      const server = await startServer(async (_reader, writer) => void writers.push(writer), '127.0.0.1', 0);
      const [reader, writer] = await openConnection('127.0.0.1', portOf(server));
      for (let i = 0; i < 100 && writers.length === 0; i++) await sleep(0.005);
      server.close();
      const closed = createTask(() => server.waitClosed());
      await sleep(0.02);
      expect(closed.done()).toBe(false);
      server.closeClients();
      await waitFor(closed, 5);
      expect((await reader.read()).length).toBe(0);
      writer.close();
      await writer.waitClosed();
    }));

  it('reads an HTTP response from a Node http server with readuntil and readexactly', () =>
    runIn(make, async () => {
      const nodeServer = http.createServer((_req, res) => {
        res.setHeader('Content-Length', '5');
        res.end('hello');
      });
      await new Promise<void>((resolve) => nodeServer.listen(0, '127.0.0.1', resolve));
      const port = (nodeServer.address() as { port: number }).port;
      try {
        const [reader, writer] = await openConnection('127.0.0.1', port);
        writer.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
        const head = (await reader.readuntil(Buffer.from('\r\n\r\n'))).toString();
        expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
        const length = Number(/content-length: (\d+)/i.exec(head)![1]);
        expect((await reader.readexactly(length)).toString()).toBe('hello');
        writer.close();
        await writer.waitClosed();
      } finally {
        await new Promise((resolve) => nodeServer.close(resolve));
      }
    }));

  it('openConnection to a closed port rejects with ConnectionRefusedError (ECONNREFUSED)', () =>
    runIn(make, async () => {
      const server = await startServer(() => undefined, '127.0.0.1', 0);
      const port = portOf(server);
      server.close();
      await server.waitClosed();
      const error = await rejection(openConnection('127.0.0.1', port));
      expect(error).toBeInstanceOf(ConnectionRefusedError);
      expect((error as { code?: string }).code).toBe('ECONNREFUSED');
    }));

  it('a client callback that throws is reported; the server serves on', () =>
    runIn(make, async (_loop, reports) => {
      let calls = 0;
      const server = await startServer(async (_reader, writer) => {
        calls += 1;
        if (calls === 1) throw new RangeError('handler failed');
        writer.write(Buffer.from('ok\n'));
        await writer.drain();
        writer.close();
      }, '127.0.0.1', 0);
      const port = portOf(server);
      const [r1, w1] = await openConnection('127.0.0.1', port);
      await r1.read();
      w1.close();
      const [r2, w2] = await openConnection('127.0.0.1', port);
      expect((await r2.readline()).toString()).toBe('ok\n');
      w2.close();
      await w2.waitClosed();
      server.close();
      await server.waitClosed();
      expect(reports.some((r) => r.exception instanceof RangeError)).toBe(true);
    }));
});
