/**
 * Scenarios of CPython's test_asyncio/test_unix_events.py (3.13): signal handler argument
 * checks and delivery, Unix server/connection argument checks and existing paths, read and
 * write pipes, addReader on a transport's fd. Child watchers are gone from 3.14 and deprecated
 * in 3.13 (asyncio's own child watcher is internal): nothing of them is public here.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import { expect, it } from 'vitest';
import {
  NotImplementedError,
  Protocol,
  ProactorEventLoop,
  RuntimeError,
  sleep,
  socket,
  socketpair,
  type Server,
  type Transport,
} from 'loopkit';
import { onEachLoop, rejection, runIn, tempDirPerTest } from './loops.js';

const inTempDir = tempDirPerTest('lk-unix-');

class Collect extends Protocol {
  readonly chunks: Buffer[] = [];
  transport: Transport | null = null;
  eof = false;
  lost: unknown = undefined;
  override connectionMade(transport: Transport): void {
    this.transport = transport;
  }
  override dataReceived(data: Uint8Array): void {
    this.chunks.push(Buffer.from(data));
  }
  override eofReceived(): void {
    this.eof = true;
  }
  override connectionLost(exc: unknown): void {
    this.lost = exc;
  }
  text(): string {
    return Buffer.concat(this.chunks).toString();
  }
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (cond()) return;
    await sleep(0.005);
  }
  throw new Error(`timed out waiting for ${what}`);
}

onEachLoop('test_unix_events (signals)', (make) => {
  it('test_check_signal: a non-signal is a TypeError, an unknown signal number a RangeError (asyncio ValueError)', () =>
    runIn(make, async (loop) => {
      expect(() => loop.addSignalHandler('1' as never, () => {})).toThrow(TypeError);
      expect(() => loop.addSignalHandler(65, () => {})).toThrow(RangeError);
      expect(() => loop.removeSignalHandler(65)).toThrow(RangeError);
      expect(() => loop.addSignalHandler('SIGUSR2', 'nope' as never)).toThrow(TypeError);
    }));

  it('test_add_signal_handler_coroutine_error: an async function is refused', () =>
    runIn(make, async (loop) => {
      expect(() => loop.addSignalHandler('SIGUSR2', async () => {})).toThrow(/coroutines cannot be used with addSignalHandler/);
      expect(() => loop.addSignalHandler('SIGUSR2', function* () {})).toThrow(TypeError);
      expect(loop.removeSignalHandler('SIGUSR2')).toBe(false);
    }));

  it('test_add_signal_handler / test_remove_signal_handler: delivered by number, replaced, removed', () =>
    runIn(make, async (loop) => {
      const got: string[] = [];
      loop.addSignalHandler(os.constants.signals.SIGUSR2, (tag: string) => got.push(tag), 'first');
      loop.addSignalHandler('SIGUSR2', (tag: string) => got.push(tag), 'second');
      process.kill(process.pid, 'SIGUSR2');
      await until(() => got.length > 0, 'the signal');
      await sleep(0.01);
      expect(got).toEqual(['second']);
      expect(loop.removeSignalHandler(os.constants.signals.SIGUSR2)).toBe(true);
      expect(loop.removeSignalHandler('SIGUSR2')).toBe(false);
    }));

  it('test_close: close() removes the handlers the loop installed', async () => {
    const loop = make();
    const before = process.listenerCount('SIGUSR2');
    loop.addSignalHandler('SIGUSR2', () => {});
    expect(process.listenerCount('SIGUSR2')).toBe(before + 1);
    loop.close();
    expect(process.listenerCount('SIGUSR2')).toBe(before);
    expect(() => loop.addSignalHandler('SIGUSR2', () => {})).toThrow(/closed/);
  });
});

onEachLoop('test_unix_events (Unix sockets)', (make) => {
  it('test_create_unix_server_existing_path_sock: a stale socket file is replaced', () =>
    runIn(make, async (loop) => {
      const p = inTempDir('sock');
      const stale = socket('unix');
      stale.bind({ path: p });
      stale.listen(1);
      stale.close();
      expect(fs.existsSync(p)).toBe(true);
      const server = (await loop.createUnixServer(() => new Protocol(), p)) as Server;
      server.close();
      await server.waitClosed();
    }));

  it('test_create_unix_server_existing_path_nonsock: a regular file there is EADDRINUSE', () =>
    runIn(make, async (loop) => {
      const p = inTempDir('file');
      fs.writeFileSync(p, '');
      const error = await rejection(loop.createUnixServer(() => new Protocol(), p));
      expect((error as { code?: string }).code).toBe('EADDRINUSE');
      expect(String(error)).toMatch(/already in use/i);
      expect(fs.readFileSync(p).length).toBe(0);
    }));

  it('test_create_unix_server_nopath_nosock / path and sock / inet and dgram sockets are refused', () =>
    runIn(make, async (loop) => {
      expect(String(await rejection(loop.createUnixServer(() => new Protocol(), null)))).toMatch(/path was not specified, and no sock/);
      const inet = socket('inet');
      const dgram = socket('unix', 'dgram');
      try {
        expect(String(await rejection(loop.createUnixServer(() => new Protocol(), null, { sock: inet })))).toMatch(/A UNIX Domain Stream.*was expected/);
        expect(String(await rejection(loop.createUnixServer(() => new Protocol(), null, { sock: dgram })))).toMatch(/A UNIX Domain Stream.*was expected/);
        expect(String(await rejection(loop.createUnixConnection(() => new Protocol(), null, { sock: inet })))).toMatch(/A UNIX Domain Stream.*was expected/);
      } finally {
        inet.close();
        dgram.close();
      }
      const unix = socket('unix');
      try {
        expect(String(await rejection(loop.createUnixConnection(() => new Protocol(), '/dev/null', { sock: unix })))).toMatch(/path and sock can not be/);
      } finally {
        unix.close();
      }
      expect(String(await rejection(loop.createUnixConnection(() => new Protocol(), null)))).toMatch(/no path and sock were specified/);
    }));

  it('test_create_unix_server_ssl_bool / nossl_serverhost / ssl_timeout_with_plain_sock', () =>
    runIn(make, async (loop) => {
      expect(await rejection(loop.createUnixServer(() => new Protocol(), 'spam', { ssl: true as never }))).toBeInstanceOf(TypeError);
      expect(String(await rejection(loop.createUnixConnection(() => new Protocol(), '/dev/null', { serverHostname: 'spam' })))).toMatch(/serverHostname is only meaningful with ssl/);
      expect(String(await rejection(loop.createUnixServer(() => new Protocol(), 'spam', { sslHandshakeTimeout: 1 })))).toMatch(/sslHandshakeTimeout is only meaningful with ssl/);
      expect(String(await rejection(loop.createUnixConnection(() => new Protocol(), 'spam', { sslHandshakeTimeout: 1 })))).toMatch(/sslHandshakeTimeout is only meaningful with ssl/);
    }));

  it('test_create_unix_connection to a missing path: ENOENT (FileNotFoundError)', () =>
    runIn(make, async (loop) => {
      const error = await rejection(loop.createUnixConnection(() => new Protocol(), inTempDir('missing')));
      expect((error as { code?: string }).code).toBe('ENOENT');
    }));

  it('test_create_unix_server_path_stream_bittype: a bound unix stream socket serves a Node client', () =>
    runIn(make, async (loop) => {
      const p = inTempDir('sock');
      const sock = socket('unix');
      sock.bind({ path: p });
      const served: Collect[] = [];
      const server = (await loop.createUnixServer(() => {
        const c = new Collect();
        served.push(c);
        return c;
      }, null, { sock })) as Server;
      await new Promise<void>((resolve, reject) => {
        const client = net.connect(p, () => client.end('from node', resolve));
        client.on('error', reject);
      });
      await until(() => served[0]?.eof === true, 'EOF');
      expect(served[0]!.text()).toBe('from node');
      server.close();
      await server.waitClosed();
    }));
});

onEachLoop('test_unix_events (pipes)', (make) => {
  it('UnixReadPipeTransport: data, pauseReading/resumeReading, EOF, connectionLost(null)', () =>
    runIn(make, async (loop) => {
      const [rsock, wsock] = socketpair();
      // detach(): the pipe transport owns the fd now (a collected Socket would close it again).
      const [tr, pr] = (await loop.connectReadPipe(() => new Collect(), rsock.detach())) as [Transport, Collect];
      expect(tr.isReading()).toBe(true);
      wsock.send(Buffer.from('abc'));
      await until(() => pr.text() === 'abc', 'data');
      tr.pauseReading();
      tr.pauseReading(); // idempotent
      expect(tr.isReading()).toBe(false);
      wsock.send(Buffer.from('def'));
      await sleep(0.05);
      expect(pr.text()).toBe('abc');
      tr.resumeReading();
      tr.resumeReading();
      await until(() => pr.text() === 'abcdef', 'data after resume');
      wsock.close();
      await until(() => pr.lost !== undefined, 'connectionLost');
      expect(pr.eof).toBe(true);
      expect(pr.lost).toBeNull();
      expect(tr.isClosing()).toBe(true);
      tr.pauseReading(); // on a closed pipe: no error
      tr.resumeReading();
    }));

  it('UnixWritePipeTransport: write, canWriteEof, writeEof, empty write, close flushes', () =>
    runIn(make, async (loop) => {
      const [rsock, wsock] = socketpair();
      const [tr, pr] = (await loop.connectWritePipe(() => new Collect(), wsock.detach())) as [Transport, Collect];
      expect(tr.canWriteEof()).toBe(true);
      tr.write(Buffer.alloc(0));
      expect(tr.getWriteBufferSize()).toBe(0);
      tr.write(Buffer.from('hello '));
      tr.writelines([Buffer.from('pipe')]);
      tr.writeEof();
      expect(tr.isClosing()).toBe(true);
      expect(() => tr.write(Buffer.from('late'))).toThrow();
      const got: Buffer[] = [];
      for (let i = 0; i < 400; i++) {
        const chunk = rsock.recv(1024);
        if (chunk !== null && chunk.length === 0) break;
        if (chunk !== null) got.push(Buffer.from(chunk));
        await sleep(0.005);
      }
      expect(Buffer.concat(got).toString()).toBe('hello pipe');
      await until(() => pr.lost !== undefined, 'connectionLost');
      expect(pr.lost).toBeNull();
      rsock.close();
    }));

  it('UnixWritePipeTransport: abort drops buffered data; a string write is refused', () =>
    runIn(make, async (loop) => {
      const [rsock, wsock] = socketpair();
      const [tr, pr] = (await loop.connectWritePipe(() => new Collect(), wsock.detach())) as [Transport, Collect];
      expect(() => tr.write('text' as never)).toThrow(TypeError);
      tr.abort();
      expect(tr.isClosing()).toBe(true);
      await until(() => pr.lost !== undefined, 'connectionLost');
      expect(pr.lost).toBeNull();
      rsock.close();
    }));

  it('a pipe argument that is neither an fd nor has fileno() is a TypeError', () =>
    runIn(make, async (loop) => {
      expect(await rejection(loop.connectReadPipe(() => new Collect(), 'pipe' as never))).toBeInstanceOf(TypeError);
      expect(await rejection(loop.connectWritePipe(() => new Collect(), {} as never))).toBeInstanceOf(TypeError);
    }));
});

onEachLoop('test_unix_events (TestFunctional)', (make) => {
  it('test_add_reader_invalid_argument / test_add_reader_or_writer_transport_fd', () =>
    runIn(make, async (loop) => {
      if (loop instanceof ProactorEventLoop) {
        expect(() => loop.addReader(0, () => {})).toThrow(NotImplementedError);
        return;
      }
      for (const call of [
        () => loop.addReader({} as never, () => {}),
        () => loop.addWriter({} as never, () => {}),
        () => loop.removeReader({} as never),
        () => loop.removeWriter({} as never),
      ]) {
        expect(call).toThrow(/Invalid file object/);
      }
      const [rsock, wsock] = socketpair();
      const [tr] = (await loop.createConnection(() => new Protocol(), null, null, { sock: rsock })) as [Transport, Protocol];
      try {
        for (const call of [
          () => loop.addReader(rsock as never, () => {}),
          () => loop.addReader(rsock.fileno(), () => {}),
          () => loop.removeReader(rsock as never),
          () => loop.addWriter(rsock.fileno(), () => {}),
          () => loop.removeWriter(rsock.fileno()),
        ]) {
          expect(call).toThrow(RuntimeError);
          expect(call).toThrow(/File descriptor .* is used by transport/);
        }
      } finally {
        tr.close();
        wsock.close();
      }
    }));
});
