/** Scenarios of CPython's test_asyncio/test_server.py (3.13): Server lifecycle, waitClosed, closeClients/abortClients, Unix socket file cleanup. */
import * as fs from 'node:fs';
import * as net from 'node:net';
import { expect, it, onTestFinished, vi } from 'vitest';
import {
  CancelledError,
  createTask,
  currentTask,
  logger,
  openConnection,
  openUnixConnection,
  sleep,
  socket,
  waitFor,
  startServer,
  startUnixServer,
  type AbstractServer,
  type StreamReader,
  type StreamWriter,
  type Transport,
} from 'loopkit';
import { onEachLoop, portOf, rejection, runIn, tempDirPerTest } from './loops.js';

const inTempDir = tempDirPerTest('lk-server-');

/** A plain Node client (asyncio's test runs its client in a thread): sends `message`, reads one byte, closes. */
function nodeClient(connect: net.NetConnectOpts, message: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(connect, () => sock.write(message));
    const got: Buffer[] = [];
    sock.on('data', (chunk) => got.push(chunk));
    sock.on('end', () => resolve(Buffer.concat(got)));
    sock.on('error', reject);
  });
}

/** The connection handler of test_server's tests: read to EOF, then close. */
async function readThenClose(reader: StreamReader, writer: StreamWriter): Promise<void> {
  try {
    await reader.read();
  } finally {
    writer.close();
    await writer.waitClosed();
  }
}

onEachLoop('test_server', (make) => {
  it('test_start_server_1: startServing false, serveForever under `await using`, cancelled by a handler', () =>
    runIn(make, async (loop) => {
      const hello = Buffer.concat([Buffer.alloc(5 * 1024, '1'), Buffer.from('\n')]);
      let mainTask: ReturnType<typeof createTask> | null = null;
      const server = await startServer(async (reader, writer) => {
        await reader.readline();
        mainTask!.cancel();
        writer.write(Buffer.from('1'));
        writer.close();
        await writer.waitClosed();
      }, '127.0.0.1', 0, { startServing: false });
      expect(server.isServing()).toBe(false);
      const port = portOf(server);
      mainTask = loop.createTask(async () => {
        await using srv = server;
        await srv.serveForever();
      });
      await sleep(0);
      expect(server.isServing()).toBe(true);
      const reply = nodeClient({ host: '127.0.0.1', port }, hello);
      expect(await rejection(mainTask)).toBeInstanceOf(CancelledError);
      expect((await reply).toString()).toBe('1');
      expect(server.sockets).toEqual([]);
      expect(server.isServing()).toBe(false);
      expect(String(await rejection(server.serveForever()))).toMatch(/is closed/);
    }));

  it('test_start_unix_server_1: startServing() inside `await using`, then serveForever', () =>
    runIn(make, async (loop) => {
      const addr = inTempDir('sock');
      let mainTask: ReturnType<typeof createTask> | null = null;
      let started!: () => void;
      const startedPromise = new Promise<void>((resolve) => (started = resolve));
      const server = await startUnixServer(async (reader, writer) => {
        await reader.readline();
        mainTask!.cancel();
        writer.write(Buffer.from('1'));
        writer.close();
        await writer.waitClosed();
      }, addr, { startServing: false });
      mainTask = loop.createTask(async () => {
        await using srv = server;
        expect(srv.isServing()).toBe(false);
        await srv.startServing();
        expect(srv.isServing()).toBe(true);
        started();
        await srv.serveForever();
      });
      await startedPromise;
      const reply = nodeClient({ path: addr }, Buffer.from('hello\n'));
      expect(await rejection(mainTask)).toBeInstanceOf(CancelledError);
      expect((await reply).toString()).toBe('1');
      expect(server.sockets).toEqual([]);
      expect(server.isServing()).toBe(false);
      expect(String(await rejection(server.serveForever()))).toMatch(/is closed/);
    }));

  it('serveForever twice at once: the second throws "already being awaited"', () =>
    runIn(make, async () => {
      const server = await startServer(() => undefined, '127.0.0.1', 0);
      const first = createTask(() => server.serveForever());
      await sleep(0);
      expect(String(await rejection(server.serveForever()))).toMatch(/already being awaited/);
      first.cancel();
      expect(await rejection(first)).toBeInstanceOf(CancelledError);
      expect(server.sockets).toEqual([]);
    }));

  it('test_wait_closed_basic: waitClosed blocks until closed and every connection gone', () =>
    runIn(make, async () => {
      const server = await startServer(readThenClose, '127.0.0.1', 0);
      const task1 = createTask(() => server.waitClosed());
      await sleep(0);
      expect(task1.done()).toBe(false);

      const [, writer] = await openConnection('127.0.0.1', portOf(server));
      const task2 = createTask(() => server.waitClosed());
      await sleep(0);
      expect(task1.done()).toBe(false);
      expect(task2.done()).toBe(false);

      server.close();
      await sleep(0);
      const task3 = createTask(() => server.waitClosed());
      await sleep(0);
      expect([task1.done(), task2.done(), task3.done()]).toEqual([false, false, false]);

      writer.close();
      await writer.waitClosed();
      await task1;
      await task2;
      await task3;
      await server.waitClosed();
    }));

  it('test_wait_closed_race: close() and the client close scheduled together', () =>
    runIn(make, async (loop) => {
      const server = await startServer(readThenClose, '127.0.0.1', 0);
      const task = createTask(() => server.waitClosed());
      await sleep(0);
      expect(task.done()).toBe(false);
      const [, writer] = await openConnection('127.0.0.1', portOf(server));
      loop.callSoon(() => server.close());
      loop.callSoon(() => writer.close());
      await server.waitClosed();
      await task;
    }));

  it('test_close_clients: close() then closeClients() lets waitClosed finish', () =>
    runIn(make, async () => {
      let accepted = 0;
      const server = await startServer(async (reader, writer) => {
        accepted += 1;
        await readThenClose(reader, writer);
      }, '127.0.0.1', 0);
      const [reader, writer] = await openConnection('127.0.0.1', portOf(server));
      while (accepted === 0) await sleep(0.001);
      const task = createTask(() => server.waitClosed());
      await sleep(0);
      expect(task.done()).toBe(false);
      server.close();
      server.closeClients();
      for (let i = 0; i < 200 && !task.done(); i++) await sleep(0.001);
      expect(task.done()).toBe(true);
      expect((await reader.read()).length).toBe(0);
      writer.close();
    }));

  it('test_abort_clients: abortClients() ends connections whose writes are stuck', () =>
    runIn(make, async () => {
      let served: [StreamReader, StreamWriter] | null = null;
      const server = await startServer(async (reader, writer) => {
        served = [reader, writer];
        await writer.waitClosed();
      }, '127.0.0.1', 0);
      const [clientReader, clientWriter] = await openConnection('127.0.0.1', portOf(server), { limit: 4096 });
      while (served === null) await sleep(0.001);
      const [, serverWriter] = served as [StreamReader, StreamWriter];
      const transport = serverWriter.transport as Transport;
      // The client never reads: the kernel buffers fill, then the transport's.
      for (let i = 0; i < 200 && transport.getWriteBufferSize() === 0; i++) {
        serverWriter.write(Buffer.alloc(256 * 1024, 'a'));
        await sleep(0.001);
      }
      expect(transport.getWriteBufferSize()).toBeGreaterThan(0);
      const task = createTask(() => server.waitClosed());
      await sleep(0);
      expect(task.done()).toBe(false);
      server.close();
      server.abortClients();
      for (let i = 0; i < 200 && !task.done(); i++) await sleep(0.001);
      expect(task.done()).toBe(true);
      expect(clientReader).toBeDefined();
      clientWriter.close();
    }));

  it('async with server: `await using` closes and waits on scope exit', () =>
    runIn(make, async () => {
      let server: AbstractServer | null = null;
      {
        await using srv = await startServer(() => undefined, '127.0.0.1', 0);
        server = srv;
        expect(srv.isServing()).toBe(true);
      }
      expect(server.isServing()).toBe(false);
      expect(server.sockets).toEqual([]);
      await server.waitClosed();
    }));

  it('test_unix_server_addr_cleanup: close() removes the socket file', () =>
    runIn(make, async () => {
      const addr = inTempDir('sock');
      const server = await startUnixServer(() => undefined, addr);
      expect(fs.existsSync(addr)).toBe(true);
      server.close();
      expect(fs.existsSync(addr)).toBe(false);
    }));

  it('test_unix_server_sock_cleanup: a bound socket passed as sock has its file removed on close', () =>
    runIn(make, async () => {
      const addr = inTempDir('sock');
      const sock = socket('unix');
      sock.bind({ path: addr });
      const server = await startUnixServer(() => undefined, null, { sock });
      server.close();
      expect(fs.existsSync(addr)).toBe(false);
    }));

  it('test_unix_server_cleanup_gone: the file removed by someone else, close() is fine', () =>
    runIn(make, async () => {
      const addr = inTempDir('sock');
      const sock = socket('unix');
      sock.bind({ path: addr });
      const server = await startUnixServer(() => undefined, null, { sock });
      fs.unlinkSync(addr);
      server.close();
      expect(fs.existsSync(addr)).toBe(false);
    }));

  it('test_unix_server_cleanup_replaced: a socket file bound by someone else meanwhile is kept', () =>
    runIn(make, async () => {
      const addr = inTempDir('sock');
      const server = await startUnixServer(() => undefined, addr);
      fs.unlinkSync(addr);
      const other = socket('unix');
      try {
        other.bind({ path: addr });
        server.close();
        expect(fs.existsSync(addr)).toBe(true);
      } finally {
        other.close();
      }
    }));

  it('test_unix_server_cleanup_prevented: cleanupSocket false keeps the file', () =>
    runIn(make, async () => {
      const addr = inTempDir('sock');
      const server = await startUnixServer(() => undefined, addr, { cleanupSocket: false });
      server.close();
      expect(fs.existsSync(addr)).toBe(true);
    }));

  it('a unix server serves openUnixConnection; sockets lists the listening socket', () =>
    runIn(make, async () => {
      const addr = inTempDir('sock');
      const server = await startUnixServer(async (reader, writer) => {
        writer.write(await reader.readline());
        await writer.drain();
        writer.close();
      }, addr);
      expect(server.sockets.length).toBe(1);
      const [reader, writer] = await openUnixConnection(addr);
      writer.write(Buffer.from('ping\n'));
      expect((await reader.readline()).toString()).toBe('ping\n');
      expect(writer.getExtraInfo('peername')).toBeDefined();
      writer.close();
      await writer.waitClosed();
      server.close();
      await server.waitClosed();
    }));

  it('currentTask inside a client callback is the handler task', () =>
    runIn(make, async () => {
      let inHandler: unknown = null;
      const server = await startServer(async (_reader, writer) => {
        inHandler = currentTask();
        writer.close();
      }, '127.0.0.1', 0);
      const [reader, writer] = await openConnection('127.0.0.1', portOf(server));
      await reader.read();
      expect(inHandler).not.toBeNull();
      writer.close();
      server.close();
      await server.waitClosed();
    }));

  it('test_unclosed_server_resource_warnings: a handler returning without close() leaves no connection for `await using` to wait on', () =>
    runIn(make, async () => {
      const serverDone = createTask(async () => {
        await using server = await startServer(async (_reader, writer) => writer.write(Buffer.from('reply')), '127.0.0.1', 0);
        // As the CPython test's `with socket.create_connection(addr)`: the peer is gone before the server closes.
        const client = net.connect({ host: '127.0.0.1', port: portOf(server) });
        const reply = await new Promise<Buffer>((resolve) => client.once('data', resolve));
        client.destroy();
        expect(reply.toString()).toBe('reply');
      });
      await waitFor(serverDone, 5);
    }));

  it('a writer dropped unclosed while the peer stays: close() and waitClosed() end, the peer reads what was written, then EOF', () =>
    runIn(make, async (loop) => {
      // debug mode says so, as asyncio's ResourceWarning under -X dev
      loop.setDebug(true);
      const warnings: string[] = [];
      const warning = vi.spyOn(logger, 'warning').mockImplementation((message) => void warnings.push(message));
      onTestFinished(() => warning.mockRestore());
      const server = await startServer(async (reader, writer) => {
        writer.write(Buffer.concat([await reader.readline(), Buffer.alloc(256 * 1024, 'x')]));
      }, '127.0.0.1', 0);
      const [reader, writer] = await openConnection('127.0.0.1', portOf(server));
      writer.write(Buffer.from('hello\n'));
      expect((await reader.readline()).toString()).toBe('hello\n');
      server.close();
      await waitFor(server.waitClosed(), 5);
      expect((await reader.read()).length).toBe(256 * 1024);
      expect(reader.atEof()).toBe(true);
      expect(warnings.filter((message) => message.startsWith('unclosed <StreamWriter'))).toHaveLength(1);
      writer.close();
    }));
});
