/**
 * API.md's network surface and its settled details, on each loop: what createServer,
 * createConnection and openConnection resolve to, `server.sockets`, addresses as Node's,
 * options refusing unknown keys by name, bytes-only transports, write flow control defaults,
 * connection errors' classes and codes, protocol callbacks that throw, eofReceived, close().
 */
import * as os from 'node:os';
import { expect, it } from 'vitest';
import {
  BrokenPipeError,
  BufferedProtocol,
  CancelledError,
  ConnectionError,
  ConnectionRefusedError,
  ConnectionResetError,
  DatagramProtocol,
  IPPROTO_TCP,
  SHUT_WR,
  SOL_SOCKET,
  SO_REUSEADDR,
  TCP_NODELAY,
  Protocol,
  Server,
  StreamReader,
  StreamWriter,
  openConnection,
  sleep,
  socket,
  socketpair,
  startServer,
  type AbstractEventLoop,
  type Future,
  type Socket,
  type Transport,
} from 'loopkit';
import { onEachLoop, rejection, runIn, thrown } from './loops.js';

const hasIPv6 = Object.values(os.networkInterfaces()).some((addrs) => addrs?.some((a) => a.family === 'IPv6' && a.internal));

/** A protocol recording its callbacks; `lost` settles on connectionLost. */
class Recorder extends Protocol {
  events: string[] = [];
  data: Buffer[] = [];
  transport: Transport | null = null;
  lost: Future<Error | null>;
  eofResult: boolean | undefined = undefined;
  constructor(loop: AbstractEventLoop) {
    super();
    this.lost = loop.createFuture();
  }
  override connectionMade(transport: Transport): void {
    this.transport = transport;
    this.events.push('made');
  }
  override dataReceived(data: Uint8Array): void {
    this.data.push(Buffer.from(data));
  }
  override eofReceived(): boolean | undefined {
    this.events.push('eof');
    return this.eofResult;
  }
  override pauseWriting(): void {
    this.events.push('pause');
  }
  override resumeWriting(): void {
    this.events.push('resume');
  }
  override connectionLost(exc: Error | null): void {
    this.events.push('lost');
    if (!this.lost.done()) this.lost.setResult(exc);
  }
}

function portOf(server: { sockets: readonly unknown[] }): number {
  return ((server.sockets[0] as Socket).getsockname() as { port: number }).port;
}

onEachLoop('network: shapes', (make) => {
  it('createServer resolves to a Server whose sockets is a property (an array of sockets); createConnection to [transport, protocol]', async () => {
    await runIn(make, async (loop) => {
      let serverSide: Recorder | null = null;
      const pending = loop.createServer(() => (serverSide = new Recorder(loop)), '127.0.0.1', 0);
      expect(pending).toBeInstanceOf(Promise);
      const server = await pending;
      expect(server).toBeInstanceOf(Server);
      expect(typeof Object.getOwnPropertyDescriptor(Object.getPrototypeOf(server), 'sockets')?.get).toBe('function');
      expect(Array.isArray(server.sockets)).toBe(true);
      expect(server.sockets).toHaveLength(1);
      expect(server.getLoop()).toBe(loop);
      expect(server.isServing()).toBe(true);
      const connecting = loop.createConnection(() => new Recorder(loop), '127.0.0.1', portOf(server));
      expect(connecting).toBeInstanceOf(Promise);
      const pair = await connecting;
      expect(Array.isArray(pair)).toBe(true);
      expect(pair).toHaveLength(2);
      const [transport, protocol] = pair as [Transport, Recorder];
      expect(protocol).toBeInstanceOf(Recorder);
      expect(protocol.transport).toBe(transport);
      for (const method of ['write', 'writelines', 'writeEof', 'canWriteEof', 'close', 'abort', 'isClosing', 'pauseReading', 'resumeReading', 'isReading', 'setWriteBufferLimits', 'getWriteBufferSize', 'getExtraInfo']) {
        expect(typeof (transport as unknown as Record<string, unknown>)[method]).toBe('function');
      }
      transport.close();
      await protocol.lost;
      while (serverSide === null) await sleep(0.001);
      server.close();
      await server.waitClosed();
    });
  });

  it('addresses are {address, family, port} as Node: server sockets, getExtraInfo sockname/peername; unknown names give null or the default', async () => {
    await runIn(make, async (loop) => {
      const server = await loop.createServer(() => new Protocol(), '127.0.0.1', 0);
      const port = portOf(server);
      expect((server.sockets[0] as Socket).getsockname()).toEqual({ address: '127.0.0.1', family: 'IPv4', port });
      const [transport] = (await loop.createConnection(() => new Protocol(), '127.0.0.1', port)) as [Transport, Protocol];
      expect(transport.getExtraInfo('peername')).toEqual({ address: '127.0.0.1', family: 'IPv4', port });
      const sockname = transport.getExtraInfo('sockname') as { address: string; family: string; port: number };
      expect(Object.keys(sockname).sort()).toEqual(['address', 'family', 'port']);
      expect(sockname.address).toBe('127.0.0.1');
      expect(transport.getExtraInfo('no such name')).toBeNull();
      expect(transport.getExtraInfo('no such name', 'default')).toBe('default');
      transport.close();
      server.close();
      await server.waitClosed();
    });
  });

  it('openConnection resolves to [StreamReader, StreamWriter]; startServer to a Server; the writer has write writelines drain close waitClosed writeEof getExtraInfo', async () => {
    await runIn(make, async () => {
      const server = await startServer(async (reader: StreamReader, writer: StreamWriter) => {
        writer.write(await reader.readexactly(3));
        await writer.drain();
        writer.close();
      }, '127.0.0.1', 0);
      expect(server).toBeInstanceOf(Server);
      const pair = await openConnection('127.0.0.1', portOf(server));
      expect(pair).toHaveLength(2);
      const [reader, writer] = pair;
      expect(reader).toBeInstanceOf(StreamReader);
      expect(writer).toBeInstanceOf(StreamWriter);
      for (const method of ['read', 'readline', 'readexactly', 'readuntil', 'atEof']) expect(typeof (reader as unknown as Record<string, unknown>)[method]).toBe('function');
      for (const method of ['write', 'writelines', 'drain', 'close', 'waitClosed', 'writeEof', 'getExtraInfo']) expect(typeof (writer as unknown as Record<string, unknown>)[method]).toBe('function');
      expect(writer.getExtraInfo('peername')).toEqual({ address: '127.0.0.1', family: 'IPv4', port: portOf(server) });
      writer.writelines([Buffer.from('a'), Buffer.from('bc')]);
      expect(Buffer.from(await reader.read(-1)).toString()).toBe('abc');
      expect(reader.atEof()).toBe(true);
      writer.close();
      const closed = writer.waitClosed();
      expect(closed).toBeInstanceOf(Promise);
      await closed;
      server.close();
      await server.waitClosed();
    });
  });

  it('server.sockets is empty once the server is closed; a cancelled serveForever() closes the server (as asyncio)', async () => {
    await runIn(make, async (loop) => {
      const server = await loop.createServer(() => new Protocol(), '127.0.0.1', 0);
      expect(server.sockets).toHaveLength(1);
      server.close();
      expect(server.sockets).toHaveLength(0);
      await server.waitClosed();
      const served = await loop.createServer(() => new Protocol(), '127.0.0.1', 0, { startServing: false });
      const serving = loop.createTask(() => served.serveForever());
      await sleep(0.01);
      expect(served.isServing()).toBe(true);
      serving.cancel();
      expect(await rejection(serving)).toBeInstanceOf(CancelledError);
      expect(served.isServing()).toBe(false);
      expect(served.sockets).toHaveLength(0);
      await served.waitClosed();
    });
  });

  it('startServing: false makes a Server that is not serving until startServing()', async () => {
    await runIn(make, async (loop) => {
      const server = await loop.createServer(() => new Protocol(), '127.0.0.1', 0, { startServing: false });
      expect(server.isServing()).toBe(false);
      await server.startServing();
      expect(server.isServing()).toBe(true);
      server.close();
      expect(server.isServing()).toBe(false);
      await server.waitClosed();
    });
  });

  it.runIf(hasIPv6)("a null host listens on every interface with one socket per family (asyncio's 0.0.0.0 and ::)", async () => {
    await runIn(make, async (loop) => {
      for (const host of [null, '']) {
        const server = await loop.createServer(() => new Protocol(), host, 0);
        const names = server.sockets.map((s) => (s as Socket).getsockname() as { address: string; family: string });
        expect(names.map((n) => `${n.family} ${n.address}`).sort()).toEqual(['IPv4 0.0.0.0', 'IPv6 ::']);
        server.close();
        await server.waitClosed();
      }
      const v4 = await loop.createServer(() => new Protocol(), null, 0, { family: 'inet' });
      expect(v4.sockets.map((s) => ((s as Socket).getsockname() as { family: string }).family)).toEqual(['IPv4']);
      v4.close();
      await v4.waitClosed();
    });
  });
});

onEachLoop('network: options and arguments', (make) => {
  it('an option a method does not know throws TypeError naming it', async () => {
    await runIn(make, async (loop) => {
      const cases: Array<[string, () => PromiseLike<unknown>]> = [
        ['backlg', () => loop.createServer(() => new Protocol(), '127.0.0.1', 0, { backlg: 1 } as never)],
        ['locaAddr', () => loop.createConnection(() => new Protocol(), '127.0.0.1', 1, { locaAddr: null } as never)],
        ['loclAddr', () => loop.createDatagramEndpoint(() => new DatagramProtocol(), { loclAddr: ['127.0.0.1', 0] } as never)],
        ['limt', () => openConnection('127.0.0.1', 1, { limt: 1 } as never)],
        ['limt', () => startServer(async () => {}, '127.0.0.1', 0, { limt: 1 } as never)],
        ['rejectUnauthorised', () => loop.createConnection(() => new Protocol(), '127.0.0.1', 1, { ssl: { rejectUnauthorised: false } } as never)],
      ];
      for (const [key, call] of cases) {
        const error = await rejection(call());
        expect(error).toBeInstanceOf(TypeError);
        expect(error.message).toContain(`'${key}'`);
      }
    });
  });

  it("createDatagramEndpoint refuses reuseAddress as an unknown option, true or false (asyncio 3.13 removed reuse_address)", async () => {
    await runIn(make, async (loop) => {
      for (const reuseAddress of [true, false]) {
        const error = await rejection(loop.createDatagramEndpoint(() => new DatagramProtocol(), { localAddr: ['127.0.0.1', 0], reuseAddress } as never));
        expect(error).toBeInstanceOf(TypeError);
        expect(error.message).toContain("'reuseAddress'");
      }
      const [transport] = await loop.createDatagramEndpoint(() => new DatagramProtocol(), { localAddr: ['127.0.0.1', 0] });
      expect(transport.getExtraInfo('sockname')).toMatchObject({ address: '127.0.0.1', family: 'IPv4' });
      transport.close();
    });
  });

  it('createConnection takes happyEyeballsDelay and interleave (RFC 8305) and still connects; options must be a plain object', async () => {
    await runIn(make, async (loop) => {
      const server = await loop.createServer(() => new Protocol(), '127.0.0.1', 0);
      const [transport] = (await loop.createConnection(() => new Protocol(), 'localhost', portOf(server), { family: 'inet', happyEyeballsDelay: 0.25, interleave: 1 })) as [Transport, Protocol];
      expect((transport.getExtraInfo('peername') as { port: number }).port).toBe(portOf(server));
      transport.close();
      expect(await rejection(loop.createConnection(() => new Protocol(), '127.0.0.1', portOf(server), 5 as never))).toBeInstanceOf(TypeError);
      server.close();
      await server.waitClosed();
    });
  });

  it('bad arguments throw TypeError naming them: protocolFactory, port', async () => {
    await runIn(make, async (loop) => {
      const factory = await rejection(loop.createConnection('x' as never, '127.0.0.1', 1));
      expect(factory).toBeInstanceOf(TypeError);
      expect(factory.message).toContain('protocolFactory');
      const port = await rejection(loop.createServer(() => new Protocol(), '127.0.0.1', 'x' as never));
      expect(port).toBeInstanceOf(TypeError);
      expect(port.message).toContain('port');
    });
  });

  it('transports take Uint8Array/Buffer; a string throws TypeError (write, writelines, and the stream writer)', async () => {
    await runIn(make, async (loop) => {
      const server = await loop.createServer(() => new Protocol(), '127.0.0.1', 0);
      const [transport] = (await loop.createConnection(() => new Protocol(), '127.0.0.1', portOf(server))) as [Transport, Protocol];
      expect(thrown(() => transport.write('text' as never))).toBeInstanceOf(TypeError);
      expect(thrown(() => transport.writelines(['text'] as never))).toBeInstanceOf(TypeError);
      transport.write(new Uint8Array([1]));
      transport.write(Buffer.from([2]));
      transport.close();
      const [, writer] = await openConnection('127.0.0.1', portOf(server));
      expect(thrown(() => writer.write('text' as never))).toBeInstanceOf(TypeError);
      writer.close();
      server.close();
      await server.waitClosed();
    });
  });
});

onEachLoop('network: flow control and connection errors', (make) => {
  it('write buffer limits default to high 64 KiB, low 16 KiB; setWriteBufferLimits({high, low}) takes either', async () => {
    await runIn(make, async (loop) => {
      const server = await loop.createServer(() => new Protocol(), '127.0.0.1', 0);
      const [transport] = (await loop.createConnection(() => new Protocol(), '127.0.0.1', portOf(server))) as [Transport, Protocol];
      const limits = transport as unknown as { getWriteBufferLimits(): [number, number] };
      expect(limits.getWriteBufferLimits()).toEqual([16 * 1024, 64 * 1024]);
      transport.setWriteBufferLimits({ high: 1000 });
      expect(limits.getWriteBufferLimits()).toEqual([250, 1000]);
      transport.setWriteBufferLimits({ low: 10, high: 20 });
      expect(limits.getWriteBufferLimits()).toEqual([10, 20]);
      expect(thrown(() => transport.setWriteBufferLimits({ hgh: 1 } as never)).message).toContain("'hgh'");
      expect(thrown(() => transport.setWriteBufferLimits({ high: 1, low: 5 }))).toBeInstanceOf(RangeError);
      transport.close();
      server.close();
      await server.waitClosed();
    });
  });

  it('pauseWriting/resumeWriting alternate once per crossing; getWriteBufferSize() counts what the OS has not taken', async () => {
    await runIn(make, async (loop) => {
      let peer: Transport | null = null;
      const server = await loop.createServer(() => {
        const p = new Protocol();
        p.connectionMade = (t: Transport) => {
          peer = t;
          t.pauseReading();
        };
        return p;
      }, '127.0.0.1', 0);
      const [transport, protocol] = (await loop.createConnection(() => new Recorder(loop), '127.0.0.1', portOf(server))) as [Transport, Recorder];
      while (peer === null) await sleep(0.001);
      for (let i = 0; i < 400 && !protocol.events.includes('pause'); i++) {
        transport.write(Buffer.alloc(256 * 1024));
        transport.write(Buffer.alloc(16));
        await sleep(0.001);
      }
      expect(protocol.events.filter((e) => e === 'pause')).toHaveLength(1);
      expect(transport.getWriteBufferSize()).toBeGreaterThan(64 * 1024);
      (peer as Transport).resumeReading();
      while (transport.getWriteBufferSize() > 0) await sleep(0.005);
      expect(protocol.events).toEqual(['made', 'pause', 'resume']);
      transport.close();
      server.close();
      await server.waitClosed();
    });
  });

  it('a refused connection rejects with ConnectionRefusedError carrying Node code and syscall', async () => {
    await runIn(make, async (loop) => {
      const probe = socket('inet', 'stream');
      probe.bind({ address: '127.0.0.1', port: 0 });
      const port = (probe.getsockname() as { port: number }).port;
      probe.close();
      const error = (await rejection(loop.createConnection(() => new Protocol(), '127.0.0.1', port))) as Error & { code?: string; syscall?: string };
      expect(error).toBeInstanceOf(ConnectionRefusedError);
      expect(error).toBeInstanceOf(ConnectionError);
      expect(error.code).toBe('ECONNREFUSED');
      expect(error.syscall).toBe('connect');
    });
  });

  it('a reset connection reaches connectionLost as ConnectionResetError with code ECONNRESET', async () => {
    await runIn(make, async (loop) => {
      // The server closes with unread data in its receive buffer: the kernel answers with RST.
      const server = await loop.createServer(() => {
        const p = new Protocol();
        p.connectionMade = (t: Transport) => {
          t.pauseReading();
          setTimeout(() => t.abort(), 50);
        };
        return p;
      }, '127.0.0.1', 0);
      const [transport, protocol] = (await loop.createConnection(() => new Recorder(loop), '127.0.0.1', portOf(server))) as [Transport, Recorder];
      transport.write(Buffer.alloc(1024));
      const keepWriting = setInterval(() => {
        if (!transport.isClosing()) transport.write(Buffer.alloc(1024));
      }, 5);
      const exc = (await protocol.lost) as (Error & { code?: string }) | null;
      clearInterval(keepWriting);
      expect(exc).toBeInstanceOf(ConnectionError);
      expect(['ECONNRESET', 'EPIPE']).toContain(exc?.code);
      expect(exc).toBeInstanceOf(exc?.code === 'ECONNRESET' ? ConnectionResetError : BrokenPipeError);
      server.close();
      await server.waitClosed();
    });
  });
});

onEachLoop('network: protocol callbacks and closing', (make) => {
  it('a protocol callback that throws is reported once with the original error, its connection closed, the server serves on', async () => {
    await runIn(make, async (loop, reports) => {
      const boom = new Error('dataReceived broke');
      const server = await loop.createServer(() => {
        const p = new Protocol();
        p.dataReceived = () => {
          throw boom;
        };
        return p;
      }, '127.0.0.1', 0);
      const [transport, protocol] = (await loop.createConnection(() => new Recorder(loop), '127.0.0.1', portOf(server))) as [Transport, Recorder];
      transport.write(Buffer.from('x'));
      await protocol.lost;
      expect(reports.filter((r) => r.exception === boom)).toHaveLength(1);
      expect(server.isServing()).toBe(true);
      const [second, secondProtocol] = (await loop.createConnection(() => new Recorder(loop), '127.0.0.1', portOf(server))) as [Transport, Recorder];
      second.close();
      await secondProtocol.lost;
      server.close();
      await server.waitClosed();
    });
  });

  it('eofReceived() returning true keeps the transport open for writing; falsy closes it after the buffered writes', async () => {
    await runIn(make, async (loop) => {
      for (const keepOpen of [true, undefined]) {
        let serverProtocol: Recorder | null = null;
        const server = await loop.createServer(() => {
          serverProtocol = new Recorder(loop);
          serverProtocol.eofResult = keepOpen;
          return serverProtocol;
        }, '127.0.0.1', 0);
        const [reader, writer] = await openConnection('127.0.0.1', portOf(server));
        writer.writeEof();
        while (serverProtocol === null || !(serverProtocol as Recorder).events.includes('eof')) await sleep(0.001);
        const sp = serverProtocol as Recorder;
        if (keepOpen) {
          expect(sp.transport!.isClosing()).toBe(false);
          sp.transport!.write(Buffer.from('after eof'));
          sp.transport!.close();
          expect(Buffer.from(await reader.read(-1)).toString()).toBe('after eof');
        } else {
          expect(await sp.lost).toBeNull();
          expect(Buffer.from(await reader.read(-1)).length).toBe(0);
        }
        writer.close();
        server.close();
        await server.waitClosed();
      }
    });
  });

  it('server.waitClosed() waits for the server connections to close (asyncio 3.12+)', async () => {
    await runIn(make, async (loop) => {
      const server = await loop.createServer(() => new Recorder(loop), '127.0.0.1', 0);
      const [transport, protocol] = (await loop.createConnection(() => new Recorder(loop), '127.0.0.1', portOf(server))) as [Transport, Recorder];
      await sleep(0.01);
      server.close();
      let closed = false;
      const waiting = server.waitClosed().then(() => (closed = true));
      await sleep(0.05);
      expect(closed).toBe(false);
      transport.close();
      await protocol.lost;
      await waiting;
      expect(closed).toBe(true);
    });
  });

  it('close() of a stopped loop closes the transports and servers it still owns (connectionLost); stopped but not closed keeps them', async () => {
    const loop = make();
    let serverProtocol: Recorder | null = null;
    const [server, transport, protocol] = await loop.runUntilComplete(async () => {
      const s = await loop.createServer(() => (serverProtocol = new Recorder(loop)), '127.0.0.1', 0);
      const [t, p] = (await loop.createConnection(() => new Recorder(loop), '127.0.0.1', portOf(s))) as [Transport, Recorder];
      while (serverProtocol === null) await sleep(0.001);
      return [s, t, p] as const;
    });
    await loop.runUntilComplete(() => sleep(0.01));
    expect(transport.isClosing()).toBe(false);
    expect(protocol.events).not.toContain('lost');
    expect(server.isServing()).toBe(true);
    loop.close();
    expect(protocol.events).toContain('lost');
    expect((serverProtocol as Recorder | null)?.events).toContain('lost');
    expect(server.isServing()).toBe(false);
  });

  it('BufferedProtocol: getBuffer(sizeHint) then bufferUpdated(n) receive the bytes', async () => {
    await runIn(make, async (loop) => {
      const got = loop.createFuture<string>();
      class Buffered extends BufferedProtocol {
        buf = new Uint8Array(64);
        received = '';
        override getBuffer(): Uint8Array {
          return this.buf;
        }
        override bufferUpdated(n: number): void {
          this.received += Buffer.from(this.buf.subarray(0, n)).toString();
          if (this.received === 'hello' && !got.done()) got.setResult(this.received);
        }
      }
      const server = await startServer(async (_reader, writer) => {
        writer.write(Buffer.from('hello'));
        await writer.drain();
        writer.close();
      }, '127.0.0.1', 0);
      const [transport] = (await loop.createConnection(() => new Buffered(), '127.0.0.1', portOf(server))) as [Transport, Buffered];
      expect(await got).toBe('hello');
      transport.close();
      server.close();
      await server.waitClosed();
    });
  });
});

onEachLoop('network: sockets', (make) => {
  it('socket(family = inet, type = stream) and socketpair() make sockets with the listed methods; the sock* methods take them', async () => {
    await runIn(make, async (loop) => {
      const plain = socket();
      expect(plain.family).toBe('inet');
      expect(plain.type).toBe('stream');
      for (const method of ['fileno', 'bind', 'listen', 'accept', 'connect', 'recv', 'send', 'close', 'getsockname', 'getpeername', 'setsockopt', 'shutdown']) {
        expect(typeof (plain as unknown as Record<string, unknown>)[method]).toBe('function');
      }
      plain.bind({ address: '127.0.0.1', port: 0 });
      plain.listen(10);
      const port = (plain.getsockname() as { port: number }).port;
      const client = socket('inet', 'stream');
      const connected = loop.sockConnect(client, { address: '127.0.0.1', port });
      const accepted = await loop.sockAccept(plain);
      await connected;
      expect(accepted).toHaveLength(2);
      const [conn, address] = accepted as [Socket, { address: string; family: string; port: number }];
      expect(address).toEqual(client.getsockname());
      await loop.sockSendall(client, Buffer.from('ping'));
      expect(Buffer.from(await loop.sockRecv(conn, 4)).toString()).toBe('ping');
      await loop.sockSendall(conn, Buffer.from('pong'));
      const into = new Uint8Array(4);
      expect(await loop.sockRecvInto(client, into)).toBe(4);
      expect(Buffer.from(into).toString()).toBe('pong');
      for (const s of [client, conn, plain]) s.close();
      const [a, b] = socketpair();
      expect(typeof a.fileno()).toBe('number');
      await loop.sockSendall(a, Buffer.from('pair'));
      expect(Buffer.from(await loop.sockRecv(b, 4)).toString()).toBe('pair');
      a.close();
      b.close();
    });
  });

  it("setsockopt/getsockopt/shutdown take the socket constants loopkit exports (as Python's socket module): SHUT_WR gives the peer EOF", async () => {
    await runIn(make, async (loop) => {
      const listener = socket();
      listener.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
      expect(listener.getsockopt(SOL_SOCKET, SO_REUSEADDR)).not.toBe(0);
      listener.bind({ address: '127.0.0.1', port: 0 });
      listener.listen(1);
      const client = socket();
      const connected = loop.sockConnect(client, listener.getsockname());
      const [conn] = (await loop.sockAccept(listener)) as [Socket, unknown];
      await connected;
      client.setsockopt(IPPROTO_TCP, TCP_NODELAY, true);
      expect(client.getsockopt(IPPROTO_TCP, TCP_NODELAY)).not.toBe(0);
      await loop.sockSendall(client, Buffer.from('last'));
      client.shutdown(SHUT_WR);
      expect(Buffer.from(await loop.sockRecv(conn, 16)).toString()).toBe('last');
      expect((await loop.sockRecv(conn, 16)).length).toBe(0);
      for (const s of [client, conn, listener]) s.close();
    });
  });

  it('sock* byte counts: a non-integer is a TypeError, a negative one a RangeError (asyncio: ValueError), named, on every loop alike', async () => {
    await runIn(make, async (loop) => {
      const [a, b] = socketpair();
      const udp = socket('inet', 'dgram');
      try {
        const calls: Array<[(n: number) => Promise<unknown>, string]> = [
          [(n) => loop.sockRecv(a, n), 'n'],
          [(n) => loop.sockRecvfrom(udp, n), 'bufsize'],
          [(n) => loop.sockRecvfromInto(udp, new Uint8Array(4), n), 'nbytes'],
        ];
        for (const [call, name] of calls) {
          const negative = await rejection(Promise.resolve().then(() => call(-1)));
          expect(negative).toBeInstanceOf(RangeError);
          expect(negative.message).toContain(name);
          const fractional = await rejection(Promise.resolve().then(() => call(1.5)));
          expect(fractional).toBeInstanceOf(TypeError);
          expect(fractional.message).toContain(name);
        }
      } finally {
        a.close();
        b.close();
        udp.close();
      }
    });
  });

  it('getaddrinfo resolves to [family, type, proto, canonname, {address, family, port}] rows; getnameinfo to [host, service]', async () => {
    await runIn(make, async (loop) => {
      const rows = await loop.getaddrinfo('127.0.0.1', 80, { type: 'stream' });
      expect(rows[0]).toEqual(['inet', 'stream', expect.any(Number), '', { address: '127.0.0.1', family: 'IPv4', port: 80 }]);
      const [host, service] = await loop.getnameinfo({ address: '127.0.0.1', port: 80 } as never);
      expect(typeof host).toBe('string');
      expect(typeof service).toBe('string');
    });
  });
});
