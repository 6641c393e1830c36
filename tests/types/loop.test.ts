/**
 * API.md's AbstractEventLoop as a TypeScript user sees it through `loopkit`: every method's
 * argument and result types (asyncio's typeshed stubs where API.md is silent), with
 * `@ts-expect-error` on the misuse the types must reject. `tsc -p tests/tsconfig.json`
 * checks the types; vitest runs each snippet on the policy's loop, so the types are those of
 * what really comes back.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  AbstractEventLoop,
  BaseProtocol,
  DatagramProtocol,
  Future,
  Handle,
  ProactorEventLoop,
  Protocol,
  Runner,
  Task,
  TimerHandle,
  WorkerThreadExecutor,
  getRunningLoop,
  newEventLoop,
  run,
  type AbstractServer,
  type AddrInfo,
  type DatagramTransport,
  type ExceptionContext,
  type ExceptionHandler,
  type FileDescriptorLike,
  type SocketAddress,
  type TaskFactory,
  type Transport,
} from 'loopkit';
import { onLoop } from './on-loop.js';


describe('running a loop', () => {
  it('runUntilComplete is typed by the awaitable or the coroutine function, runForever by void', async () => {
    const loop = newEventLoop();
    expectTypeOf(loop).toEqualTypeOf<AbstractEventLoop>();
    const fromFn = loop.runUntilComplete(async () => 42);
    expectTypeOf(fromFn).toEqualTypeOf<Promise<number>>();
    expect(await fromFn).toBe(42);
    const fut = loop.createFuture<string>();
    loop.callSoon(() => fut.setResult('x'));
    const fromFuture = loop.runUntilComplete(fut);
    expectTypeOf(fromFuture).toEqualTypeOf<Promise<string>>();
    expect(await fromFuture).toBe('x');
    // eslint-disable-next-line require-yield
    const gen = loop.runUntilComplete(function* () {
      return 'from a generator';
    });
    expectTypeOf(gen).toEqualTypeOf<Promise<string>>();
    expect(await gen).toBe('from a generator');
    expectTypeOf(loop.runForever).returns.toEqualTypeOf<Promise<void>>();
    expectTypeOf(loop.stop).returns.toEqualTypeOf<void>();
    expectTypeOf(loop.isRunning()).toEqualTypeOf<boolean>();
    expectTypeOf(loop.isClosed()).toEqualTypeOf<boolean>();
    expectTypeOf(loop.close()).toEqualTypeOf<void>();
    expectTypeOf(loop.shutdownDefaultExecutor).parameters.toEqualTypeOf<[timeout?: number | null]>();
    // @ts-expect-error a started promise's value is not a coroutine function's: runUntilComplete takes the function
    void (() => loop.runUntilComplete(42));
  });

  it('run() and Runner: run(main, {debug, loopFactory}) resolves to what main returns', async () => {
    const value = run(async () => 'ran', { debug: false, loopFactory: newEventLoop });
    expectTypeOf(value).toEqualTypeOf<Promise<string>>();
    expect(await value).toBe('ran');
    // @ts-expect-error a misspelt option (loop_factory) is not one of run()'s
    void (() => run(async () => 1, { loop_factory: newEventLoop }));
    await using runner = new Runner({ debug: true });
    expectTypeOf(runner.getLoop()).toEqualTypeOf<AbstractEventLoop>();
    const n = runner.run(async () => 1);
    expectTypeOf(n).toEqualTypeOf<Promise<number>>();
    expect(await n).toBe(1);
    expect(runner.getLoop().getDebug()).toBe(true);
    expectTypeOf(runner.close).returns.toEqualTypeOf<Promise<void>>();
  });
});

describe('scheduling', () => {
  it('callSoon/callLater/callAt check the callback against its arguments and return handles', async () => {
    await onLoop(async (loop) => {
      const seen: string[] = [];
      const soon = loop.callSoon((a: string, b: number) => seen.push(`${a}${b}`), 'a', 1);
      expectTypeOf(soon).toEqualTypeOf<Handle>();
      const later = loop.callLater(0.001, (a: string) => seen.push(a), 'later');
      expectTypeOf(later).toEqualTypeOf<TimerHandle>();
      expectTypeOf(later.when()).toEqualTypeOf<number>();
      const at = loop.callAt(loop.time() + 0.002, () => seen.push('at'));
      expectTypeOf(at).toEqualTypeOf<TimerHandle>();
      expectTypeOf(loop.callSoonThreadsafe(() => undefined)).toEqualTypeOf<Handle>();
      const dropped = loop.callSoon(() => seen.push('dropped'));
      dropped.cancel();
      expectTypeOf(dropped.cancelled()).toEqualTypeOf<boolean>();
      expect(at).toBeInstanceOf(Handle);
      // @ts-expect-error the argument is not what the callback takes
      void (() => loop.callSoon((a: string) => a, 1));
      // @ts-expect-error a missing argument
      void (() => loop.callLater(0, (a: string, b: number) => a + b, 'a'));
      // @ts-expect-error the delay comes first, in seconds
      void (() => loop.callLater(() => undefined, 1));
      await new Promise((resolve) => loop.callLater(0.01, resolve, null));
      expect(seen).toEqual(['a1', 'later', 'at']);
      expectTypeOf(loop.time()).toEqualTypeOf<number>();
    });
  });
});

describe('futures and tasks', () => {
  it('createFuture<T> and createTask(fn, {name, context}) are typed by the value', async () => {
    await onLoop(async (loop) => {
      const fut = loop.createFuture<number>();
      expectTypeOf(fut).toEqualTypeOf<Future<number>>();
      expectTypeOf(loop.createFuture()).toEqualTypeOf<Future<unknown>>();
      const task = loop.createTask(async () => 'done', { name: 'named' });
      expectTypeOf(task).toEqualTypeOf<Task<string>>();
      expect(task.getName()).toBe('named');
      const inContext = loop.createTask(async () => 1, { context: null });
      expect(await inContext).toBe(1);
      // @ts-expect-error a task's name is a string
      void (() => loop.createTask(async () => 1, { name: 1 }));
      // @ts-expect-error createTask takes the coroutine function, not a started promise
      void (() => loop.createTask(Promise.resolve(1)));
      expect(await task).toBe('done');
    });
  });

  it('setTaskFactory takes (loop, coro, options) => Future and getTaskFactory gives it back or null', async () => {
    await onLoop(async (loop) => {
      expectTypeOf(loop.getTaskFactory()).toEqualTypeOf<TaskFactory | null>();
      const names: string[] = [];
      loop.setTaskFactory((l, coro, options) => {
        expectTypeOf(l).toEqualTypeOf<AbstractEventLoop>();
        names.push(options.name ?? '?');
        return new Task(coro, { loop: l, ...options });
      });
      expect(await loop.createTask(async () => 7, { name: 'made' })).toBe(7);
      expect(names).toEqual(['made']);
      loop.setTaskFactory(null);
      // @ts-expect-error a factory must return the task (a Future)
      void (() => loop.setTaskFactory(() => 1));
    });
  });
});

describe('executors', () => {
  it('runInExecutor(executor | null, fn, ...args) is a Future of fn result', async () => {
    await onLoop(async (loop) => {
      const doubled = loop.runInExecutor(null, (n: number) => n * 2, 21);
      expectTypeOf(doubled).toEqualTypeOf<Future<number>>();
      expect(await doubled).toBe(42);
      await using pool = new WorkerThreadExecutor(1);
      expect(await loop.runInExecutor(pool, () => 'pooled')).toBe('pooled');
      // @ts-expect-error the argument is not what fn takes
      void (() => loop.runInExecutor(null, (n: number) => n, 'x'));
      // @ts-expect-error an executor is an Executor (submit, shutdown) or null
      void (() => loop.runInExecutor(4, () => 1));
      expectTypeOf(loop.shutdownDefaultExecutor()).toEqualTypeOf<Promise<void>>();
    });
  });
});

describe('errors and debug', () => {
  it('exception handler: (loop, ctx) => void; ctx has message and the optional future, task, handle', async () => {
    await onLoop(async (loop) => {
      expectTypeOf(loop.getExceptionHandler()).toEqualTypeOf<ExceptionHandler | null>();
      const seen: ExceptionContext[] = [];
      loop.setExceptionHandler((l, ctx) => {
        expectTypeOf(l).toEqualTypeOf<AbstractEventLoop>();
        expectTypeOf(ctx.message).toEqualTypeOf<string>();
        expectTypeOf(ctx.future).toEqualTypeOf<Future<unknown> | undefined>();
        expectTypeOf(ctx.task).toEqualTypeOf<Task<unknown> | undefined>();
        expectTypeOf(ctx.handle).toEqualTypeOf<Handle | undefined>();
        seen.push(ctx);
      });
      loop.callExceptionHandler({ message: 'reported', exception: new Error('x'), extra: 1 });
      expect(seen.map((c) => c.message)).toEqual(['reported']);
      // @ts-expect-error a context has a message
      void (() => loop.callExceptionHandler({ exception: new Error('x') }));
      loop.setExceptionHandler(null);
      expectTypeOf(loop.defaultExceptionHandler).parameters.toEqualTypeOf<[context: ExceptionContext]>();
      expectTypeOf(loop.getDebug()).toEqualTypeOf<boolean>();
      loop.setDebug(false);
      expectTypeOf(loop.slowCallbackDuration).toEqualTypeOf<number>();
      expect(loop.slowCallbackDuration).toBe(0.1);
    });
  });
});

describe('signals and readiness', () => {
  it('addSignalHandler(sig, cb, ...args) / removeSignalHandler(sig): boolean; addReader/removeReader', async () => {
    await onLoop(async (loop) => {
      loop.addSignalHandler('SIGUSR2', (tag: string) => tag, 'usr2');
      expectTypeOf(loop.removeSignalHandler('SIGUSR2')).toEqualTypeOf<boolean>();
      expect(loop.removeSignalHandler('SIGUSR2')).toBe(false);
      // @ts-expect-error the argument is not what the callback takes
      void (() => loop.addSignalHandler('SIGUSR2', (tag: string) => tag, 1));
      // @ts-expect-error the argument is not what the callback takes
      void (() => loop.addReader(0, (n: number) => n, 'x'));
      expectTypeOf(loop.removeReader).returns.toEqualTypeOf<boolean>();
      expectTypeOf(loop.removeWriter).returns.toEqualTypeOf<boolean>();
    });
  });
});

class Collect extends Protocol {
  transport: Transport | null = null;
  readonly chunks: Uint8Array[] = [];
  override connectionMade(transport: Transport): void {
    this.transport = transport;
  }
  override dataReceived(data: Uint8Array): void {
    this.chunks.push(data);
  }
}

describe('network', () => {
  it('createServer/createConnection: [Transport, P], a Server, options checked by their names', async () => {
    await onLoop(async (loop) => {
      const server = await loop.createServer(() => new Collect(), '127.0.0.1', 0, { backlog: 10, reuseAddress: true });
      expectTypeOf(server).toMatchTypeOf<AbstractServer>();
      const address = server.sockets[0]!.getsockname();
      expectTypeOf(address).toEqualTypeOf<SocketAddress>();
      const port = 'port' in address ? address.port : 0;
      const [transport, protocol] = await loop.createConnection(() => new Collect(), '127.0.0.1', port, { family: 'inet' });
      expectTypeOf(transport).toEqualTypeOf<Transport>();
      expectTypeOf(protocol).toEqualTypeOf<Collect>();
      transport.write(new Uint8Array([1]));
      transport.close();
      server.close();
      await server.waitClosed();
      // @ts-expect-error a misspelt option (reuse_address) is not createServer's
      void (() => loop.createServer(() => new Collect(), '127.0.0.1', 0, { reuse_address: true }));
      // @ts-expect-error a misspelt option (local_addr) is not createConnection's
      void (() => loop.createConnection(() => new Collect(), '127.0.0.1', port, { local_addr: ['127.0.0.1', 0] }));
      // @ts-expect-error a protocol factory makes a protocol
      void (() => loop.createServer(() => 42, '127.0.0.1', 0));
      // @ts-expect-error the ssl option is true, Node's tls options, or a context
      void (() => loop.createConnection(() => new Collect(), 'example.com', 443, { ssl: 'yes' }));
    });
  });

  it('createUnixServer/createUnixConnection, createDatagramEndpoint: [DatagramTransport, P]', async () => {
    await onLoop(async (loop) => {
      const [transport, protocol] = await loop.createDatagramEndpoint(() => new DatagramProtocol(), { localAddr: ['127.0.0.1', 0] });
      expectTypeOf(transport).toEqualTypeOf<DatagramTransport>();
      expectTypeOf(protocol).toEqualTypeOf<DatagramProtocol>();
      transport.close();
      // @ts-expect-error a misspelt option (local_addr)
      void (() => loop.createDatagramEndpoint(() => new DatagramProtocol(), { local_addr: ['127.0.0.1', 0] }));
      // @ts-expect-error a misspelt option (cleanup_socket)
      void (() => loop.createUnixServer(() => new Collect(), '/tmp/x.sock', { cleanup_socket: false }));
      // @ts-expect-error a misspelt option (server_hostname)
      void (() => loop.createUnixConnection(() => new Collect(), '/tmp/x.sock', { server_hostname: 'x' }));
      expectTypeOf(loop.createUnixServer).returns.toEqualTypeOf<Promise<AbstractServer>>();
      expectTypeOf(loop.createUnixConnection<Collect>).returns.toEqualTypeOf<Promise<[Transport, Collect]>>();
    });
  });

  it.each([
    ['the policy loop', newEventLoop],
    ['ProactorEventLoop', () => new ProactorEventLoop()],
  ])("sendto takes asyncio's [host, port] pair as well as an address object, connected endpoints the peer's pair: %s", async (_name, makeLoop) => {
    await onLoop(async (loop) => {
      const received: Array<[string, SocketAddress | null]> = [];
      const arrived = loop.createFuture<void>();
      class Receiver extends DatagramProtocol {
        override datagramReceived(data: Uint8Array, addr: SocketAddress | null): void {
          received.push([Buffer.from(data).toString(), addr]);
          if (received.length === 3) arrived.setResult();
        }
      }
      const [receiver] = await loop.createDatagramEndpoint(() => new Receiver(), { localAddr: ['127.0.0.1', 0] });
      const local = receiver.getExtraInfo<SocketAddress>('sockname')!;
      const port = 'port' in local ? local.port : 0;
      const [sender] = await loop.createDatagramEndpoint(() => new DatagramProtocol(), { localAddr: ['127.0.0.1', 0] });
      sender.sendto(Buffer.from('pair'), ['127.0.0.1', port]);
      sender.sendto(Buffer.from('object'), { address: '127.0.0.1', family: 'IPv4', port });
      const [connected] = await loop.createDatagramEndpoint(() => new DatagramProtocol(), { remoteAddr: ['127.0.0.1', port] });
      connected.sendto(Buffer.from('peer'), ['127.0.0.1', port]);
      expect(() => connected.sendto(Buffer.from('other'), ['127.0.0.1', port + 1])).toThrow(/Invalid address/);
      await arrived;
      expect(received.map(([text]) => text).sort()).toEqual(['object', 'pair', 'peer']);
      // @ts-expect-error a pair is [host, port]
      void (() => sender.sendto(Buffer.from('x'), [port, '127.0.0.1']));
      for (const t of [receiver, sender, connected]) t.close();
    }, makeLoop);
  });

  it('getaddrinfo resolves to AddrInfo records, getnameinfo to [host, service]', async () => {
    await onLoop(async (loop) => {
      const infos = await loop.getaddrinfo('127.0.0.1', 80);
      expectTypeOf(infos).toEqualTypeOf<AddrInfo[]>();
      expect(infos.length).toBeGreaterThan(0);
      expectTypeOf(loop.getnameinfo).returns.toEqualTypeOf<Promise<[string, string]>>();
    });
  });

  it('startTls(transport, protocol, ssl, {serverSide, serverHostname, ...}): Promise<Transport>', () => {
    const loop = newEventLoop();
    try {
      expectTypeOf(loop.startTls).returns.toEqualTypeOf<Promise<Transport>>();
      const upgrade = (t: Transport, p: BaseProtocol): Promise<Transport> =>
        loop.startTls(t, p, { rejectUnauthorized: false }, { serverSide: false, serverHostname: 'localhost', sslHandshakeTimeout: 5 });
      void upgrade;
      // @ts-expect-error a misspelt option (server_side)
      void ((t: Transport, p: BaseProtocol) => loop.startTls(t, p, true, { server_side: true }));
      // @ts-expect-error ssl is true, Node's tls options, or a context
      void ((t: Transport, p: BaseProtocol) => loop.startTls(t, p, 'tls'));
    } finally {
      loop.close();
    }
  });
});

describe('subprocesses', () => {
  it('subprocessExec/Shell: [SubprocessTransport, P], options by their names', async () => {
    await onLoop(async (loop) => {
      const { SubprocessProtocol } = await import('loopkit');
      class Exited extends SubprocessProtocol {
        readonly done = loop.createFuture<void>();
        override processExited(): void {
          this.done.setResult();
        }
      }
      const [transport, protocol] = await loop.subprocessExec(() => new Exited(), process.execPath, ['-e', '0'], { stdin: null });
      expectTypeOf(protocol).toEqualTypeOf<Exited>();
      expectTypeOf(transport.getPid()).toEqualTypeOf<number>();
      await protocol.done;
      expectTypeOf(transport.getReturncode()).toEqualTypeOf<number | null>();
      expect(transport.getReturncode()).toBe(0);
      transport.close();
      // @ts-expect-error a misspelt option (std_in)
      void (() => loop.subprocessShell(() => new Exited(), 'true', { std_in: null }));
      // @ts-expect-error args are an array of strings
      void (() => loop.subprocessExec(() => new Exited(), 'ls', '-l'));
      // @ts-expect-error a pipe is a file descriptor or an object with fileno()
      void (() => loop.connectReadPipe(() => new Protocol(), '/dev/stdin'));
      expectTypeOf(loop.connectWritePipe).parameters.toEqualTypeOf<[protocolFactory: () => BaseProtocol, pipe: FileDescriptorLike]>();
    });
  });
});

it('getRunningLoop() is an AbstractEventLoop', async () => {
  await onLoop(async (loop) => {
    expectTypeOf(getRunningLoop()).toEqualTypeOf<AbstractEventLoop>();
    expect(getRunningLoop()).toBe(loop);
  });
});
