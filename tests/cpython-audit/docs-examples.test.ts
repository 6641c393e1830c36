/**
 * The examples of Python 3.13's asyncio documentation (Doc/library/asyncio-eventloop.rst,
 * asyncio-protocol.rst, asyncio-stream.rst), written as a user ports them to loopkit, on
 * every loop of loops.ts. The Python originals are in docs-examples/*.py; the expected lines
 * below are what Python 3.13.0 printed for them (delays shortened, dates, pids and ports
 * replaced by placeholders, as the .py files do).
 */
import * as process from 'node:process';
import { expect, expectTypeOf, it } from 'vitest';
import {
  DatagramProtocol,
  NotImplementedError,
  ProactorEventLoop,
  Protocol,
  SubprocessProtocol,
  WorkerThreadExecutor,
  getRunningLoop,
  openConnection,
  startServer,
  type StreamReader,
  type StreamWriter,
  run,
  sleep,
  socketpair,
  type AbstractEventLoop,
  type AbstractServer,
  type DatagramTransport,
  type Future,
  type Socket,
  type InetAddress,
  type SocketAddress,
  type SubprocessTransport,
  type ReadTransport,
  type Transport,
  type WriteTransport,
} from 'loopkit';
import { onEachLoop, type MakeLoop } from './loops.js';

/** The example's print(): its lines, to compare with what Python printed. */
function printer(): { out: string[]; print: (...parts: unknown[]) => void } {
  const out: string[] = [];
  return { out, print: (...parts) => out.push(parts.map(String).join(' ')) };
}

const isProactor = (make: MakeLoop): boolean => {
  const loop = make();
  const proactor = loop instanceof ProactorEventLoop;
  loop.close();
  return proactor;
};

onEachLoop('asyncio-eventloop.rst examples (compared with Python 3.13)', (make) => {
  it('Hello World with callSoon', async () => {
    const { out, print } = printer();
    const helloWorld = (loop: AbstractEventLoop) => {
      print('Hello World');
      loop.stop();
    };
    const loop = make();
    loop.callSoon(helloWorld, loop);
    try {
      await loop.runForever();
    } finally {
      loop.close();
    }
    expect(out).toEqual(['Hello World']);
  });

  it('display the current date with callLater', async () => {
    const { out, print } = printer();
    const at: number[] = [];
    const displayDate = (endTime: number, loop: AbstractEventLoop) => {
      void new Date();
      print('<date>');
      at.push(loop.time());
      if (loop.time() + 0.02 < endTime) loop.callLater(0.02, displayDate, endTime, loop);
      else loop.stop();
    };
    const loop = make();
    const endTime = loop.time() + 0.09;
    loop.callSoon(displayDate, endTime, loop);
    try {
      await loop.runForever();
    } finally {
      loop.close();
    }
    // Python printed 5 lines unloaded; a late timer (a loaded machine) prints fewer, on either.
    expect(out.length).toBeGreaterThanOrEqual(1);
    expect(out.length).toBeLessThanOrEqual(5);
    expect(new Set(out)).toEqual(new Set(['<date>']));
    for (let i = 1; i < at.length; i++) expect(at[i]! - at[i - 1]!).toBeGreaterThanOrEqual(0.02 - 0.002);
    expect(at.at(-1)! + 0.02).toBeGreaterThanOrEqual(endTime);
  });

  it('watch a file descriptor for read events with addReader', async () => {
    const { out, print } = printer();
    const [rsock, wsock] = socketpair();
    const loop = make();
    const reader = () => {
      const data = rsock.recv(100);
      print('Received:', Buffer.from(data).toString());
      loop.removeReader(rsock);
      loop.stop();
    };
    try {
      // asyncio's proactor loops (Windows) have no add_reader either: NotImplementedError.
      if (isProactor(make)) {
        expect(() => loop.addReader(rsock, reader)).toThrow(NotImplementedError);
        return;
      }
      loop.addReader(rsock, reader);
      loop.callSoon((s: Socket, data: Uint8Array) => s.send(data), wsock, Buffer.from('abc'));
      await loop.runForever();
    } finally {
      rsock.close();
      wsock.close();
      loop.close();
    }
    expect(out).toEqual(['Received: abc']);
  });

  it('set signal handlers for SIGINT and SIGTERM (stopping the loop under run())', async () => {
    const { out, print } = printer();
    const askExit = (signame: string, loop: AbstractEventLoop) => {
      print(`got signal ${signame}: exit`);
      loop.stop();
    };
    const main = async () => {
      const loop = getRunningLoop();
      for (const signame of ['SIGINT', 'SIGTERM']) loop.addSignalHandler(signame, askExit, signame, loop);
      loop.callLater(0.02, () => process.kill(process.pid, 'SIGTERM'));
      await sleep(3600);
    };
    print('Event loop running for 1 hour, press Ctrl+C to interrupt.');
    print('pid <pid>: send SIGINT or SIGTERM to exit.');
    try {
      await run(main, { loopFactory: make });
    } catch (e) {
      print(`${(e as Error).name}:`, (e as Error).message);
    }
    expect(out).toEqual([
      'Event loop running for 1 hour, press Ctrl+C to interrupt.',
      'pid <pid>: send SIGINT or SIGTERM to exit.',
      'got signal SIGTERM: exit',
      'RuntimeError: Event loop stopped before Future completed.',
    ]);
  });
  // The documentation's cpu_bound goes to a ProcessPoolExecutor; loopkit has worker threads only.
  it('runInExecutor: the default executor and custom pools under `with` (await using)', async () => {
    const { out, print } = printer();
    // A function runs in a worker thread from its source text (self-contained) or by module and export.
    const blockingIo = { module: new URL('./docs-examples/executor-jobs.mjs', import.meta.url).href, name: 'blockingIo' };
    const cpuBound = () => {
      let sum = 0;
      for (let i = 0; i < 10 ** 5; i++) sum += i * i;
      return sum;
    };
    await run(async () => {
      const loop = getRunningLoop();
      let result = (await loop.runInExecutor(null, blockingIo)) as Uint8Array;
      print('default thread pool', result.length, 'bytes');
      {
        await using pool = new WorkerThreadExecutor();
        result = (await loop.runInExecutor(pool, blockingIo)) as Uint8Array;
        print('custom thread pool', result.length, 'bytes');
      }
      {
        await using pool = new WorkerThreadExecutor();
        print('custom pool', await loop.runInExecutor(pool, cpuBound));
      }
    }, { loopFactory: make });
    expect(out).toEqual(['default thread pool 100 bytes', 'custom thread pool 100 bytes', 'custom pool 333328333350000']);
  });
});

onEachLoop('asyncio-protocol.rst examples (compared with Python 3.13)', (make) => {
  it('TCP echo server and client with protocols', async () => {
    const { out, print } = printer();
    class EchoServerProtocol extends Protocol {
      transport!: Transport;
      override connectionMade(transport: Transport): void {
        const peername = transport.getExtraInfo('peername') as InetAddress;
        print(`Connection from ${peername.address === '127.0.0.1' ? '<peer>' : JSON.stringify(peername)}`);
        this.transport = transport;
      }
      override dataReceived(data: Uint8Array): void {
        const message = Buffer.from(data).toString();
        print(`Data received: '${message}'`);
        print(`Send: '${message}'`);
        this.transport.write(data);
        print('Close the client socket');
        this.transport.close();
      }
    }
    class EchoClientProtocol extends Protocol {
      constructor(readonly message: string, readonly onConLost: Future<boolean>) {
        super();
      }
      override connectionMade(transport: Transport): void {
        transport.write(Buffer.from(this.message));
        print(`Data sent: '${this.message}'`);
      }
      override dataReceived(data: Uint8Array): void {
        print(`Data received: '${Buffer.from(data).toString()}'`);
      }
      override connectionLost(): void {
        print('The server closed the connection');
        this.onConLost.setResult(true);
      }
    }
    await run(async () => {
      const loop = getRunningLoop();
      const server = await loop.createServer(() => new EchoServerProtocol(), '127.0.0.1', 0);
      const port = server.sockets[0]!.getsockname() as InetAddress;
      await using _ = server;
      const onConLost = loop.createFuture<boolean>();
      const message = 'Hello World!';
      const [transport] = await loop.createConnection(() => new EchoClientProtocol(message, onConLost), '127.0.0.1', port.port);
      try {
        await onConLost;
      } finally {
        transport.close();
      }
    }, { loopFactory: make });
    expect(out).toEqual([
      'Connection from <peer>',
      "Data sent: 'Hello World!'",
      "Data received: 'Hello World!'",
      "Send: 'Hello World!'",
      'Close the client socket',
      "Data received: 'Hello World!'",
      'The server closed the connection',
    ]);
  });

  it('UDP echo server and client', async () => {
    const { out, print } = printer();
    class EchoServerProtocol extends DatagramProtocol {
      transport!: DatagramTransport;
      override connectionMade(transport: DatagramTransport): void {
        this.transport = transport;
      }
      override datagramReceived(data: Uint8Array, addr: SocketAddress | null): void {
        const message = Buffer.from(data).toString();
        print(`Received '${message}' from <addr>`);
        print(`Send '${message}' to <addr>`);
        this.transport.sendto(data, addr);
      }
    }
    class EchoClientProtocol extends DatagramProtocol {
      transport: DatagramTransport | null = null;
      constructor(readonly message: string, readonly onConLost: Future<boolean>) {
        super();
      }
      override connectionMade(transport: DatagramTransport): void {
        this.transport = transport;
        print('Send:', this.message);
        this.transport.sendto(Buffer.from(this.message));
      }
      override datagramReceived(data: Uint8Array): void {
        print('Received:', Buffer.from(data).toString());
        print('Close the socket');
        this.transport!.close();
      }
      override errorReceived(exc: unknown): void {
        print('Error received:', exc);
      }
      override connectionLost(): void {
        print('Connection closed');
        this.onConLost.setResult(true);
      }
    }
    await run(async () => {
      print('Starting UDP server');
      const loop = getRunningLoop();
      const [server] = await loop.createDatagramEndpoint(() => new EchoServerProtocol(), { localAddr: ['127.0.0.1', 0] });
      const port = (server.getExtraInfo('sockname') as InetAddress).port;
      try {
        const onConLost = loop.createFuture<boolean>();
        const message = 'Hello World!';
        const [transport] = await loop.createDatagramEndpoint(() => new EchoClientProtocol(message, onConLost), { remoteAddr: ['127.0.0.1', port] });
        try {
          await onConLost;
        } finally {
          transport.close();
        }
        await sleep(0.02);
      } finally {
        server.close();
      }
    }, { loopFactory: make });
    expect(out).toEqual([
      'Starting UDP server',
      'Send: Hello World!',
      "Received 'Hello World!' from <addr>",
      "Send 'Hello World!' to <addr>",
      'Received: Hello World!',
      'Close the socket',
      'Connection closed',
    ]);
  });

  it('connecting an existing socket with createConnection({sock})', async () => {
    const { out, print } = printer();
    class MyProtocol extends Protocol {
      transport: Transport | null = null;
      constructor(readonly onConLost: Future<boolean>) {
        super();
      }
      override dataReceived(data: Uint8Array): void {
        print('Received:', Buffer.from(data).toString());
        this.transport!.close();
      }
      override connectionLost(): void {
        this.onConLost.setResult(true);
      }
    }
    await run(async () => {
      const loop = getRunningLoop();
      const [rsock, wsock] = socketpair();
      const onConLost = loop.createFuture<boolean>();
      const [transport, protocol] = await loop.createConnection(() => new MyProtocol(onConLost), null, null, { sock: rsock });
      protocol.transport = transport;
      loop.callSoon((s: Socket, data: Uint8Array) => s.send(data), wsock, Buffer.from('abc'));
      try {
        await protocol.onConLost;
      } finally {
        transport.close();
        wsock.close();
      }
    }, { loopFactory: make });
    expect(out).toEqual(['Received: abc']);
  });

  it('loop.subprocessExec with a SubprocessProtocol', async () => {
    const { out, print } = printer();
    class DateProtocol extends SubprocessProtocol {
      output: Buffer[] = [];
      pipeClosed = false;
      exited = false;
      constructor(readonly exitFuture: Future<boolean>) {
        super();
      }
      override pipeConnectionLost(): void {
        this.pipeClosed = true;
        this.checkForExit();
      }
      override pipeDataReceived(_fd: number, data: Uint8Array): void {
        this.output.push(Buffer.from(data));
      }
      override processExited(): void {
        this.exited = true;
        this.checkForExit();
      }
      checkForExit(): void {
        if (this.pipeClosed && this.exited) this.exitFuture.setResult(true);
      }
    }
    await run(async () => {
      const loop = getRunningLoop();
      const code = 'console.log("2026-12-07 09:00:00.000000")';
      const exitFuture = loop.createFuture<boolean>();
      const [transport, protocol] = await loop.subprocessExec(() => new DateProtocol(exitFuture), process.execPath, ['-e', code], { stdin: null, stderr: null });
      await exitFuture;
      transport.close();
      const data = Buffer.concat(protocol.output);
      print(`Current date: ${data.toString('ascii').trimEnd()}`);
    }, { loopFactory: make });
    expect(out).toEqual(['Current date: 2026-12-07 09:00:00.000000']);
  });
});

onEachLoop('asyncio-stream.rst examples (compared with Python 3.13)', (make) => {
  it('TCP echo server and client with streams', async () => {
    const { out, print } = printer();
    const tcpEchoClient = async (message: string, port: number) => {
      const [reader, writer] = await openConnection('127.0.0.1', port);
      print(`Send: '${message}'`);
      writer.write(Buffer.from(message));
      await writer.drain();
      const data = await reader.read(100);
      print(`Received: '${Buffer.from(data).toString()}'`);
      print('Close the connection');
      writer.close();
      await writer.waitClosed();
    };
    const handleEcho = async (reader: StreamReader, writer: StreamWriter) => {
      const data = await reader.read(100);
      const message = Buffer.from(data).toString();
      const addr = writer.getExtraInfo('peername') as SocketAddress;
      print(`Received '${message}' from ${'address' in addr && addr.address === '127.0.0.1' ? "'<addr>'" : JSON.stringify(addr)}`);
      print(`Send: '${message}'`);
      writer.write(data);
      await writer.drain();
      print('Close the connection');
      writer.close();
      await writer.waitClosed();
    };
    await run(async () => {
      const server = await startServer(handleEcho, '127.0.0.1', 0);
      const addrs = server.sockets.map((sock) => (sock.getsockname() as InetAddress).address).join(', ');
      print(`Serving on ${addrs}`);
      await using _ = server;
      await tcpEchoClient('Hello World!', (server.sockets[0]!.getsockname() as InetAddress).port);
    }, { loopFactory: make });
    expect(out).toEqual([
      'Serving on 127.0.0.1',
      "Send: 'Hello World!'",
      "Received 'Hello World!' from '<addr>'",
      "Send: 'Hello World!'",
      'Close the connection',
      "Received: 'Hello World!'",
      'Close the connection',
    ]);
  });

  it('get HTTP headers', async () => {
    const { out, print } = printer();
    const httpServer = async (reader: StreamReader, writer: StreamWriter) => {
      for (;;) {
        const line = Buffer.from(await reader.readline()).toString();
        if (line === '\r\n' || line === '') break;
      }
      writer.write(Buffer.from('HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok'));
      await writer.drain();
      writer.close();
      await writer.waitClosed();
    };
    const printHttpHeaders = async (href: string) => {
      const url = new URL(href);
      const [reader, writer] = url.protocol === 'https:'
        ? await openConnection(url.hostname, 443, { ssl: true })
        : await openConnection(url.hostname, Number(url.port) || 80);
      const query = `HEAD ${url.pathname || '/'} HTTP/1.0\r\nHost: ${url.hostname}\r\n\r\n`;
      writer.write(Buffer.from(query, 'latin1'));
      for (;;) {
        const raw = await reader.readline();
        if (raw.length === 0) break;
        const line = Buffer.from(raw).toString('latin1').trimEnd();
        if (line) print(`HTTP header> ${line}`);
      }
      writer.close();
      await writer.waitClosed();
    };
    await run(async () => {
      const server = await startServer(httpServer, '127.0.0.1', 0);
      await using _ = server;
      await printHttpHeaders(`http://127.0.0.1:${(server.sockets[0]!.getsockname() as InetAddress).port}/path`);
    }, { loopFactory: make });
    expect(out).toEqual([
      'HTTP header> HTTP/1.0 200 OK',
      'HTTP header> Content-Type: text/plain',
      'HTTP header> Content-Length: 2',
      'HTTP header> ok',
    ]);
  });

  it('register an open socket to wait for data using streams', async () => {
    const { out, print } = printer();
    await run(async () => {
      const loop = getRunningLoop();
      const [rsock, wsock] = socketpair();
      const [reader, writer] = await openConnection(null, null, { sock: rsock });
      loop.callSoon((s: Socket, data: Uint8Array) => s.send(data), wsock, Buffer.from('abc'));
      const data = await reader.read(100);
      print('Received:', Buffer.from(data).toString());
      writer.close();
      await writer.waitClosed();
      wsock.close();
    }, { loopFactory: make });
    expect(out).toEqual(['Received: abc']);
  });
});

it("the loop's protocol methods resolve to the factory's own protocol type (typeshed's _ProtocolT), server.sockets to sockets with getsockname() and runInExecutor to its function's result, as the examples use them", () => {
  class MyProtocol extends Protocol {
    transport: Transport | null = null;
  }
  class MyDatagram extends DatagramProtocol {}
  class MySubprocess extends SubprocessProtocol {}
  const loop = null as unknown as AbstractEventLoop;
  // Types only: the body never runs (the examples above run these calls).
  const typesOnly = () => {
    expectTypeOf(loop.createConnection(() => new MyProtocol(), '127.0.0.1', 1)).resolves.toEqualTypeOf<[Transport, MyProtocol]>();
    expectTypeOf(loop.createUnixConnection(() => new MyProtocol(), '/p')).resolves.toEqualTypeOf<[Transport, MyProtocol]>();
    expectTypeOf(loop.connectAcceptedSocket(() => new MyProtocol(), null)).resolves.toEqualTypeOf<[Transport, MyProtocol]>();
    expectTypeOf(loop.createDatagramEndpoint(() => new MyDatagram())).resolves.toEqualTypeOf<[DatagramTransport, MyDatagram]>();
    expectTypeOf(loop.subprocessExec(() => new MySubprocess(), 'ls')).resolves.toEqualTypeOf<[SubprocessTransport, MySubprocess]>();
    expectTypeOf(loop.subprocessShell(() => new MySubprocess(), 'ls')).resolves.toEqualTypeOf<[SubprocessTransport, MySubprocess]>();
    expectTypeOf(loop.connectReadPipe(() => new MyProtocol(), 0)).resolves.toEqualTypeOf<[ReadTransport, MyProtocol]>();
    expectTypeOf(loop.connectWritePipe(() => new MyProtocol(), 1)).resolves.toEqualTypeOf<[WriteTransport, MyProtocol]>();
    // run_in_executor(pool, func, *args) -> Future[_T], as typeshed: the function's result type.
    expectTypeOf(loop.runInExecutor(null, (a: number, b: number) => a + b, 1, 2)).toEqualTypeOf<Future<number>>();
    expectTypeOf(loop.runInExecutor(null, async () => 'text')).toEqualTypeOf<Future<string>>();
    // server.sockets[0].getsockname(), as every server example of the documentation reads its port.
    expectTypeOf(null as unknown as AbstractServer).toHaveProperty('sockets').items.toHaveProperty('getsockname').returns.toEqualTypeOf<SocketAddress>();
  };
  expect(typeof typesOnly).toBe('function');
});
