/** More scenarios of CPython's test_asyncio/test_events.py and test_sock_lowlevel.py (3.13): transports and sockets on the loops users get. */
import * as os from 'node:os';
import * as path from 'node:path';
import * as fs from 'node:fs';
import { expect, it } from 'vitest';
import {
  DatagramProtocol,
  Protocol,
  sleep,
  socket,
  type DatagramTransport,
  type Server,
  type Socket,
  type Transport,
} from 'loopkit';
import { onEachLoop, portOf, rejection, runIn } from './loops.js';

class Recorder extends Protocol {
  transport: Transport | null = null;
  readonly data: Buffer[] = [];
  readonly events: string[] = [];
  lostWith: unknown = undefined;
  constructor(private readonly keepOpenOnEof = false) {
    super();
  }
  override connectionMade(transport: Transport): void {
    this.transport = transport;
    this.events.push('made');
  }
  override dataReceived(data: Uint8Array): void {
    this.data.push(Buffer.from(data));
  }
  override eofReceived(): boolean | void {
    this.events.push('eof');
    return this.keepOpenOnEof;
  }
  override connectionLost(exc: unknown): void {
    this.events.push('lost');
    this.lostWith = exc;
  }
  text(): string {
    return Buffer.concat(this.data).toString();
  }
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (cond()) return;
    await sleep(0.005);
  }
  throw new Error(`timed out waiting for ${what}`);
}

onEachLoop('test_events (transports)', (make) => {
  it('test_write_eof / half-close: the server keeps writing after the client EOF', () =>
    runIn(make, async (loop) => {
      const served: Recorder[] = [];
      const server = (await loop.createServer(() => {
        const p = new Recorder(true);
        served.push(p);
        return p;
      }, '127.0.0.1', 0)) as Server;
      const [tr, client] = (await loop.createConnection(() => new Recorder(), '127.0.0.1', portOf(server))) as [Transport, Recorder];
      expect(tr.canWriteEof()).toBe(true);
      tr.write(Buffer.from('hello'));
      tr.writeEof();
      await until(() => served[0]?.events.includes('eof') ?? false, 'server eof');
      expect(served[0]!.text()).toBe('hello');
      served[0]!.transport!.write(Buffer.from('reply'));
      served[0]!.transport!.close();
      await until(() => client.events.includes('lost'), 'client lost');
      expect(client.text()).toBe('reply');
      expect(client.events).toEqual(['made', 'eof', 'lost']);
      expect(client.lostWith ?? null).toBeNull();
      server.close();
      await server.waitClosed();
    }));

  it('test_pause_reading / resume_reading / isReading', () =>
    runIn(make, async (loop) => {
      const served: Recorder[] = [];
      const server = (await loop.createServer(() => {
        const p = new Recorder();
        served.push(p);
        return p;
      }, '127.0.0.1', 0)) as Server;
      const [tr, client] = (await loop.createConnection(() => new Recorder(), '127.0.0.1', portOf(server))) as [Transport, Recorder];
      await until(() => served.length === 1, 'accept');
      expect(tr.isReading()).toBe(true);
      tr.pauseReading();
      expect(tr.isReading()).toBe(false);
      tr.pauseReading(); // idempotent, as asyncio 3.7+
      served[0]!.transport!.write(Buffer.from('while paused'));
      await sleep(0.05);
      expect(client.data).toEqual([]);
      tr.resumeReading();
      tr.resumeReading();
      expect(tr.isReading()).toBe(true);
      await until(() => client.text() === 'while paused', 'data after resume');
      tr.close();
      expect(tr.isClosing()).toBe(true);
      server.close();
      await server.waitClosed();
    }));

  it('test_get_write_buffer_size / set_write_buffer_limits / pause_writing and resume_writing', () =>
    runIn(make, async (loop) => {
      const served: Recorder[] = [];
      const server = (await loop.createServer(() => {
        const p = new Recorder();
        served.push(p);
        return p;
      }, '127.0.0.1', 0)) as Server;
      const calls: string[] = [];
      class Writer extends Recorder {
        override pauseWriting(): void {
          calls.push('pause');
        }
        override resumeWriting(): void {
          calls.push('resume');
        }
      }
      const [tr] = (await loop.createConnection(() => new Writer(), '127.0.0.1', portOf(server))) as [Transport, Writer];
      await until(() => served.length === 1, 'accept');
      served[0]!.transport!.pauseReading();
      expect(tr.getWriteBufferSize()).toBe(0);
      expect(() => tr.setWriteBufferLimits({ high: 1, low: 2 })).toThrow(RangeError);
      tr.setWriteBufferLimits({ high: 1024, low: 512 });
      const chunk = Buffer.alloc(1 << 20, 1);
      for (let i = 0; i < 16 && calls.length === 0; i++) tr.write(chunk);
      expect(calls).toEqual(['pause']);
      expect(tr.getWriteBufferSize()).toBeGreaterThan(1024);
      served[0]!.transport!.resumeReading();
      await until(() => calls.length === 2, 'resumeWriting');
      expect(calls).toEqual(['pause', 'resume']);
      tr.close();
      server.close();
      await server.waitClosed();
    }));

  it('test_transport_abort: abort() drops buffered data, connectionLost(null)', () =>
    runIn(make, async (loop) => {
      const server = (await loop.createServer(() => new Recorder(), '127.0.0.1', 0)) as Server;
      const [tr, client] = (await loop.createConnection(() => new Recorder(), '127.0.0.1', portOf(server))) as [Transport, Recorder];
      tr.abort();
      expect(tr.isClosing()).toBe(true);
      await until(() => client.events.includes('lost'), 'lost');
      expect(client.lostWith ?? null).toBeNull();
      expect(() => tr.write(Buffer.from('after'))).not.toThrow();
      server.close();
      await server.waitClosed();
    }));

  it('test_write_str: a string is refused with TypeError', () =>
    runIn(make, async (loop) => {
      const server = (await loop.createServer(() => new Recorder(), '127.0.0.1', 0)) as Server;
      const [tr] = (await loop.createConnection(() => new Recorder(), '127.0.0.1', portOf(server))) as [Transport, Recorder];
      expect(() => tr.write('text' as never)).toThrow(TypeError);
      tr.close();
      server.close();
      await server.waitClosed();
    }));

  it('test_create_connection_sock / test_create_server_sock: existing sockets', () =>
    runIn(make, async (loop) => {
      const listener = socket();
      listener.bind({ address: '127.0.0.1', port: 0 } as never);
      const server = (await loop.createServer(() => new Recorder(), null, null, { sock: listener })) as Server;
      const port = portOf(server);
      const sock = socket();
      await loop.sockConnect(sock, { address: '127.0.0.1', port } as never);
      const [tr, client] = (await loop.createConnection(() => new Recorder(), null, null, { sock })) as [Transport, Recorder];
      expect(client.events).toEqual(['made']);
      expect((tr.getExtraInfo('peername') as { port: number }).port).toBe(port);
      tr.close();
      server.close();
      await server.waitClosed();
    }));

  it('test_create_connection bad arguments: host without port, sock with host', () =>
    runIn(make, async (loop) => {
      expect(await rejection(loop.createConnection(() => new Recorder(), '127.0.0.1', null))).toBeInstanceOf(Error);
      const sock = socket();
      try {
        expect(await rejection(loop.createConnection(() => new Recorder(), '127.0.0.1', 80, { sock }))).toBeInstanceOf(Error);
      } finally {
        sock.close();
      }
    }));

  it('test_sock_accept / test_sock_recv_into / test_sock_sendall', () =>
    runIn(make, async (loop) => {
      const listener = socket();
      listener.bind({ address: '127.0.0.1', port: 0 } as never);
      listener.listen(5);
      const port = (listener.getsockname() as { port: number }).port;
      const client = socket();
      const accepting = loop.sockAccept(listener);
      await loop.sockConnect(client, { address: '127.0.0.1', port } as never);
      const [conn, addr] = (await accepting) as [Socket, { port: number }];
      expect(addr.port).toBe((client.getsockname() as { port: number }).port);
      await loop.sockSendall(client, Buffer.from('0123456789'));
      const buf = Buffer.alloc(4);
      let got = '';
      while (got.length < 10) {
        const n = await loop.sockRecvInto(conn, buf);
        got += buf.subarray(0, n).toString();
      }
      expect(got).toBe('0123456789');
      client.close();
      expect((await loop.sockRecv(conn, 10)).length).toBe(0);
      conn.close();
      listener.close();
    }));

  it('test_create_datagram_endpoint: sendto and datagramReceived with the address', () =>
    runIn(make, async (loop) => {
      const received: Array<[string, unknown]> = [];
      class Udp extends DatagramProtocol {
        transport: DatagramTransport | null = null;
        override connectionMade(t: DatagramTransport): void {
          this.transport = t;
        }
        override datagramReceived(data: Uint8Array, addr: unknown): void {
          received.push([Buffer.from(data).toString(), addr]);
          this.transport!.sendto(Buffer.from('resp:' + Buffer.from(data).toString()), addr as never);
        }
      }
      const [serverTr] = (await loop.createDatagramEndpoint(() => new Udp(), { localAddr: ['127.0.0.1', 0] })) as [DatagramTransport, Udp];
      const sname = serverTr.getExtraInfo('sockname') as { port: number };
      const replies: string[] = [];
      class Client extends DatagramProtocol {
        override datagramReceived(data: Uint8Array): void {
          replies.push(Buffer.from(data).toString());
        }
      }
      const [clientTr] = (await loop.createDatagramEndpoint(() => new Client(), { remoteAddr: ['127.0.0.1', sname.port] })) as [DatagramTransport, Client];
      clientTr.sendto(Buffer.from('xxx'));
      await until(() => replies.length === 1, 'udp reply');
      expect(replies).toEqual(['resp:xxx']);
      expect(received[0]![0]).toBe('xxx');
      clientTr.close();
      serverTr.close();
    }));

  it('test_create_unix_server / test_create_unix_connection', () =>
    runIn(make, async (loop) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-audit-'));
      const sockPath = path.join(dir, 'sock');
      try {
        const served: Recorder[] = [];
        const server = (await loop.createUnixServer(() => {
          const p = new Recorder();
          served.push(p);
          return p;
        }, sockPath)) as Server;
        const [tr] = (await loop.createUnixConnection(() => new Recorder(), sockPath)) as [Transport, Recorder];
        tr.write(Buffer.from('unix'));
        await until(() => served[0]?.text() === 'unix', 'unix data');
        tr.close();
        server.close();
        await server.waitClosed();
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }));

  it('test_getaddrinfo / getnameinfo', () =>
    runIn(make, async (loop) => {
      const infos = (await loop.getaddrinfo('127.0.0.1', 80)) as unknown[];
      expect(infos.length).toBeGreaterThan(0);
    }));
});
