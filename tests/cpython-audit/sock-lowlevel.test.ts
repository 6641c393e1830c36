/**
 * Scenarios of CPython's test_asyncio/test_sock_lowlevel.py (3.13) left by base-events and
 * events: the loop's sock* methods racing cancellation (recv, recvInto, sendall, connect),
 * 1 MB through sockSendall and sockRecv/sockRecvInto at once, UDP recvfrom/recvfromInto,
 * refused connections, a cancelled sockAccept, accept addresses and Unix sockets. CPython's
 * HTTP test server is a loopkit stream server speaking the same bit of HTTP/1.0. Every loop,
 * the io_uring one included (contract/loops.ts).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import {
  CancelledError,
  ConnectionRefusedError,
  DatagramProtocol,
  SHUT_WR,
  SOL_SOCKET,
  SO_SNDBUF,
  TimeoutError,
  createTask,
  sleep,
  socket,
  socketpair,
  startServer,
  startUnixServer,
  waitFor,
  type AbstractEventLoop,
  type DatagramTransport,
  type Socket,
  type StreamReader,
  type StreamWriter,
} from 'loopkit';
import { onEachLoop, rejection, runIn } from '../contract/loops.js';

type Address = { address: string; family: string; port: number };

/** test_utils.run_test_server's part these tests use: GET answers 200 with a body, POST /loop echoes its body. */
async function handleHttp(reader: StreamReader, writer: StreamWriter): Promise<void> {
  const head = Buffer.from(await reader.readuntil(Buffer.from('\r\n\r\n'))).toString('latin1');
  const length = /Content-Length: (\d+)/i.exec(head);
  const body = length !== null ? await reader.readexactly(Number(length[1])) : Buffer.from('Test message');
  writer.write(Buffer.from(`HTTP/1.0 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`));
  writer.write(body);
  await writer.drain();
  writer.close();
  await writer.waitClosed();
}

function addressOf(server: { sockets: readonly unknown[] }): Address {
  return (server.sockets[0] as Socket).getsockname() as Address;
}

/** Reads from `sock` until EOF. */
async function recvAll(loop: AbstractEventLoop, sock: Socket, first: Uint8Array = new Uint8Array(0)): Promise<Buffer> {
  const parts = [Buffer.from(first)];
  for (;;) {
    const data = await loop.sockRecv(sock, 65536);
    if (data.length === 0) return Buffer.concat(parts);
    parts.push(Buffer.from(data));
  }
}

class UdpEcho extends DatagramProtocol {
  transport: DatagramTransport | null = null;
  override connectionMade(transport: unknown): void {
    this.transport = transport as DatagramTransport;
  }
  override datagramReceived(data: Uint8Array, addr: unknown): void {
    this.transport!.sendto(data, addr as Address);
  }
}

onEachLoop('test_sock_lowlevel', (make) => {
  it('test_sock_client_racing (recv): a cancelled sockRecv takes no data from the next one', () =>
    runIn(make, async (loop) => {
      const server = await startServer(handleHttp, '127.0.0.1', 0);
      const sock = socket();
      try {
        await loop.sockConnect(sock, addressOf(server));
        const cancelled = createTask(() => loop.sockRecv(sock, 1024));
        await sleep(0);
        cancelled.cancel();
        const sent = createTask(() => loop.sockSendall(sock, Buffer.from('GET / HTTP/1.0\r\n\r\n')));
        const data = await recvAll(loop, sock, await loop.sockRecv(sock, 1024));
        await sent;
        expect(cancelled.cancelled()).toBe(true);
        expect(data.toString()).toBe('HTTP/1.0 200 OK\r\nContent-Length: 12\r\n\r\nTest message');
      } finally {
        sock.close();
        server.close();
      }
      await server.waitClosed();
    }));

  it('test_sock_client_racing (recvInto): a cancelled sockRecvInto writes nothing; the next ones fill a view of one buffer', () =>
    runIn(make, async (loop) => {
      const server = await startServer(handleHttp, '127.0.0.1', 0);
      const sock = socket();
      try {
        await loop.sockConnect(sock, addressOf(server));
        const buffer = Buffer.alloc(1024);
        const cancelled = createTask(() => loop.sockRecvInto(sock, buffer.subarray(0, 1024)));
        await sleep(0);
        cancelled.cancel();
        const sent = createTask(() => loop.sockSendall(sock, Buffer.from('GET / HTTP/1.0\r\n\r\n')));
        let filled = 0;
        for (;;) {
          const n = await loop.sockRecvInto(sock, buffer.subarray(filled));
          if (n === 0) break;
          filled += n;
        }
        await sent;
        expect(await rejection(cancelled)).toBeInstanceOf(CancelledError);
        expect(buffer.subarray(0, filled).toString()).toBe('HTTP/1.0 200 OK\r\nContent-Length: 12\r\n\r\nTest message');
      } finally {
        sock.close();
        server.close();
      }
      await server.waitClosed();
    }));

  it('test_sock_client_racing (send): a sockSendall blocked on a full buffer and cancelled, then another one: the peer gets the second', () =>
    runIn(make, async (loop) => {
      const listener = socket();
      listener.bind({ address: '127.0.0.1', port: 0 });
      listener.listen(1);
      const sock = socket();
      sock.setsockopt(SOL_SOCKET, SO_SNDBUF, 1024);
      const connecting = createTask(() => loop.sockConnect(sock, listener.getsockname()));
      const [server] = (await loop.sockAccept(listener)) as [Socket, unknown];
      try {
        await connecting;
        // Fill the buffer until sending 4 bytes would block.
        for (let size = 8192; size >= 4; size = Math.floor(size / 2)) {
          const blocked = (() => {
            try {
              for (;;) sock.send(Buffer.alloc(size, 0x20));
            } catch (error) {
              return error as NodeJS.ErrnoException;
            }
          })();
          expect(blocked.code).toBe('EAGAIN');
        }
        const cancelled = createTask(() => loop.sockSendall(sock, Buffer.from('hello')));
        await sleep(0);
        cancelled.cancel();
        const received = createTask(async () => (await recvAll(loop, server)).toString().replace(/ /g, ''));
        await loop.sockSendall(sock, Buffer.from('world'));
        sock.shutdown(SHUT_WR);
        // As CPython: a proactor may have sent "hello" before the cancellation reached it.
        expect(await received).toMatch(/^(hello)?world$/);
      } finally {
        for (const s of [sock, server, listener]) s.close();
      }
    }));

  it('test_sock_client_connect_racing: a sockConnect cancelled before listen() leaves the socket able to connect', () =>
    runIn(make, async (loop) => {
      const listener = socket();
      listener.bind({ address: '127.0.0.1', port: 0 });
      const address = listener.getsockname();
      const sock = socket();
      try {
        const cancelled = createTask(() => loop.sockConnect(sock, address));
        await sleep(0);
        cancelled.cancel();
        listener.listen(1);
        let connected = false;
        let lastError: unknown = null;
        // As CPython: the first attempt may be refused; Linux recovers by the second.
        for (let attempt = 0; attempt < 128 && !connected; attempt++) {
          try {
            await loop.sockConnect(sock, address);
            connected = true;
          } catch (error) {
            lastError = error;
          }
        }
        expect(lastError === null || lastError instanceof ConnectionRefusedError || (lastError as NodeJS.ErrnoException).code !== undefined).toBe(true);
        expect(connected).toBe(true);
        expect(sock.getpeername()).toEqual(address);
      } finally {
        sock.close();
        listener.close();
      }
    }));

  it('test_huge_content / test_huge_content_recvinto: 1 MB sent by sockSendall while sockRecv and sockRecvInto read the echo', () =>
    runIn(make, async (loop) => {
      const server = await startServer(handleHttp, '127.0.0.1', 0);
      const size = 1_000_000;
      const chunk = Buffer.from('0123456789'.repeat(size / 10));
      try {
        for (const into of [false, true]) {
          const sock = socket();
          try {
            await loop.sockConnect(sock, addressOf(server));
            await loop.sockSendall(sock, Buffer.from(`POST /loop HTTP/1.0\r\nContent-Length: ${size}\r\n\r\n`));
            const sending = createTask(() => loop.sockSendall(sock, chunk));
            const parts: Buffer[] = [];
            const scratch = Buffer.alloc(size);
            for (;;) {
              const part = into
                ? scratch.subarray(0, await loop.sockRecvInto(sock, scratch))
                : Buffer.from(await loop.sockRecv(sock, size));
              if (part.length === 0) break;
              parts.push(Buffer.from(part));
            }
            await sending;
            const data = Buffer.concat(parts);
            const body = data.subarray(data.indexOf('\r\n\r\n') + 4);
            expect(data.subarray(0, 15).toString()).toBe('HTTP/1.0 200 OK');
            expect(body.length).toBe(size);
            expect(body.equals(chunk)).toBe(true);
          } finally {
            sock.close();
          }
        }
      } finally {
        server.close();
      }
      await server.waitClosed();
    }));

  it('test_recvfrom / test_recvfrom_into: sockSendto then sockRecvfrom and sockRecvfromInto (with nbytes) from a UDP echo server', () =>
    runIn(make, async (loop) => {
      const [echo] = await loop.createDatagramEndpoint(() => new UdpEcho(), { localAddr: { address: '127.0.0.1', port: 0 } });
      const serverAddress = (echo as DatagramTransport).getExtraInfo('sockname') as Address;
      const sock = socket('inet', 'dgram');
      try {
        const data = Buffer.alloc(4096, 1);
        await loop.sockSendto(sock, data, serverAddress);
        const [received, from] = await loop.sockRecvfrom(sock, 4096);
        expect(Buffer.from(received).equals(data)).toBe(true);
        expect(from).toEqual(serverAddress);

        const buf = Buffer.alloc(4096);
        await loop.sockSendto(sock, data, serverAddress);
        const [n, from2] = await loop.sockRecvfromInto(sock, buf);
        expect(n).toBe(4096);
        expect(buf.equals(data)).toBe(true);
        expect(from2).toEqual(serverAddress);

        const big = Buffer.alloc(8192);
        await loop.sockSendto(sock, data, serverAddress);
        const [n2] = await loop.sockRecvfromInto(sock, big, 4096);
        expect(n2).toBe(4096);
        expect(big.subarray(0, 4096).equals(data)).toBe(true);
        expect(big.subarray(4096).every((byte) => byte === 0)).toBe(true);
      } finally {
        sock.close();
        (echo as DatagramTransport).close();
      }
    }));

  it('test_sock_client_fail: sockConnect to a port nobody listens on rejects with ConnectionRefusedError', () =>
    runIn(make, async (loop) => {
      const probe = socket();
      probe.bind({ address: '127.0.0.1', port: 0 });
      const address = probe.getsockname();
      probe.close();
      const sock = socket();
      try {
        const error = await rejection(loop.sockConnect(sock, address));
        expect(error).toBeInstanceOf(ConnectionRefusedError);
        expect((error as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
      } finally {
        sock.close();
      }
    }));

  it("test_sock_accept: sockAccept gives [conn, the client's address]; the client's peer is the listener", () =>
    runIn(make, async (loop) => {
      const listener = socket();
      listener.bind({ address: '127.0.0.1', port: 0 });
      listener.listen(1);
      const client = socket();
      const connecting = createTask(() => loop.sockConnect(client, listener.getsockname()));
      const [conn, address] = (await loop.sockAccept(listener)) as [Socket, Address];
      await connecting;
      expect(address).toEqual(client.getsockname());
      expect(client.getpeername()).toEqual(listener.getsockname());
      expect(conn.getpeername()).toEqual(client.getsockname());
      for (const s of [client, conn, listener]) s.close();
    }));

  it('test_cancel_sock_accept: waitFor(sockAccept, 0.1) times out; the listener closed, a connect is refused', () =>
    runIn(make, async (loop) => {
      const listener = socket();
      listener.bind({ address: '127.0.0.1', port: 0 });
      listener.listen(1);
      const address = listener.getsockname();
      // The coroutine form, as asyncio's wait_for(loop.sock_accept(...)): the timeout cancels the accept itself.
      expect(await rejection(waitFor(() => loop.sockAccept(listener), 0.1))).toBeInstanceOf(TimeoutError);
      listener.close();
      const client = socket();
      try {
        expect(await rejection(loop.sockConnect(client, address))).toBeInstanceOf(ConnectionRefusedError);
      } finally {
        client.close();
      }
    }));

  it('test_cancel_sock_accept with the Promise itself: waitFor(loop.sockAccept(sock), t) cancels the accept (a waiting call, as asyncio cancels the coroutine)', () =>
    runIn(make, async (loop) => {
      const listener = socket();
      listener.bind({ address: '127.0.0.1', port: 0 });
      listener.listen(1);
      const address = listener.getsockname();
      expect(await rejection(waitFor(loop.sockAccept(listener), 0.05))).toBeInstanceOf(TimeoutError);
      // The first accept is gone: a second may wait (the selector allows one per fd), and times out too.
      expect(await rejection(waitFor(loop.sockAccept(listener), 0.05))).toBeInstanceOf(TimeoutError);
      listener.close();
      const client = socket();
      try {
        // Nothing left accepting keeps the closed listener's socket open (io_uring's pending accept did).
        expect(await rejection(loop.sockConnect(client, address))).toBeInstanceOf(ConnectionRefusedError);
      } finally {
        client.close();
      }
    }));

  it('waitFor(loop.sockRecv(sock, n), t) with the Promise: the timed-out recv takes nothing; the next sockRecv gets the data', () =>
    runIn(make, async (loop) => {
      const [a, b] = socketpair();
      try {
        expect(await rejection(waitFor(loop.sockRecv(b, 100), 0.05))).toBeInstanceOf(TimeoutError);
        await loop.sockSendall(a, Buffer.from('kept'));
        expect(Buffer.from(await waitFor(loop.sockRecv(b, 100), 5)).toString()).toBe('kept');
      } finally {
        a.close();
        b.close();
      }
    }));

  it('test_unix_sock_client_ops: sockConnect, sockSendall, sockRecv and sockRecvInto on a Unix socket', () =>
    runIn(make, async (loop) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loopkit-lowlevel-'));
      const file = path.join(dir, 'http.sock');
      const server = await startUnixServer(handleHttp, file);
      try {
        for (const into of [false, true]) {
          const sock = socket('unix');
          try {
            await loop.sockConnect(sock, { path: file });
            await loop.sockSendall(sock, Buffer.from('GET / HTTP/1.0\r\n\r\n'));
            let data: Buffer;
            if (into) {
              const buffer = Buffer.alloc(1024);
              let filled = 0;
              for (let n = -1; n !== 0; filled += n) n = await loop.sockRecvInto(sock, buffer.subarray(filled));
              data = buffer.subarray(0, filled);
            } else {
              data = await recvAll(loop, sock);
            }
            expect(data.toString()).toBe('HTTP/1.0 200 OK\r\nContent-Length: 12\r\n\r\nTest message');
          } finally {
            sock.close();
          }
        }
      } finally {
        server.close();
        await server.waitClosed();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }));
});
