/**
 * API.md's streams, sync primitives, queues, exceptions, subprocesses, sockets, selectors
 * and the policy as a TypeScript user sees them through `loopkit`, with `@ts-expect-error`
 * on the misuse the types must reject; each snippet also runs.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  AbstractEventLoop,
  AbstractEventLoopPolicy,
  Barrier,
  BoundedSemaphore,
  BrokenBarrierError,
  BrokenPipeError,
  CancelledError,
  Condition,
  ConnectionAbortedError,
  ConnectionError,
  ConnectionRefusedError,
  ConnectionResetError,
  DEVNULL,
  DefaultEventLoopPolicy,
  DefaultSelector,
  EVENT_READ,
  EVENT_WRITE,
  Event,
  IncompleteReadError,
  InvalidStateError,
  LifoQueue,
  LimitOverrunError,
  Lock,
  NotImplementedError,
  PIPE,
  PriorityQueue,
  Process,
  ProactorEventLoop,
  Queue,
  QueueEmpty,
  QueueFull,
  QueueShutDown,
  SSLCertVerificationError,
  SSLError,
  STDOUT,
  SelectorEventLoop,
  SelectorKey,
  Semaphore,
  SendfileNotAvailableError,
  Socket,
  StreamReader,
  StreamWriter,
  TimeoutError,
  availableBackends,
  container,
  createSubprocessExec,
  createSubprocessShell,
  getEventLoop,
  getEventLoopPolicy,
  newEventLoop,
  openConnection,
  openUnixConnection,
  registerBackend,
  run,
  setEventLoop,
  setEventLoopPolicy,
  socket,
  socketpair,
  startServer,
  startUnixServer,
  type AbstractServer,
  type BackendInfo,
  type EventLoopPolicy,
  type SocketAddress,
} from 'loopkit';

describe('streams', () => {
  it('openConnection resolves to [StreamReader, StreamWriter]; reader and writer methods typed', async () => {
    await run(async () => {
      const server = await startServer(
        async (reader, writer) => {
          expectTypeOf(reader).toEqualTypeOf<StreamReader>();
          expectTypeOf(writer).toEqualTypeOf<StreamWriter>();
          writer.write(await reader.readline());
          await writer.drain();
          writer.close();
        },
        '127.0.0.1',
        0,
        { limit: 1024, backlog: 5 },
      );
      expectTypeOf(server).toEqualTypeOf<AbstractServer>();
      const address = server.sockets[0]!.getsockname();
      const port = 'port' in address ? address.port : 0;
      const pair = await openConnection('127.0.0.1', port, { limit: 1024 });
      expectTypeOf(pair).toEqualTypeOf<[StreamReader, StreamWriter]>();
      const [reader, writer] = pair;
      writer.write(Buffer.from('line\n'));
      writer.writelines([Buffer.from('a')]);
      expectTypeOf(writer.drain()).toEqualTypeOf<Promise<void>>();
      expectTypeOf(reader.readexactly).returns.toMatchTypeOf<Promise<Uint8Array>>();
      expectTypeOf(reader.readuntil).returns.toMatchTypeOf<Promise<Uint8Array>>();
      expectTypeOf(reader.read).returns.toMatchTypeOf<Promise<Uint8Array>>();
      expectTypeOf(reader.atEof()).toEqualTypeOf<boolean>();
      expect((await reader.readline()).toString()).toBe('line\n');
      expect(await reader.read()).toHaveLength(0);
      expectTypeOf(writer.getExtraInfo('peername')).toEqualTypeOf<SocketAddress | null>();
      writer.close();
      expectTypeOf(writer.waitClosed()).toEqualTypeOf<Promise<void>>();
      await writer.waitClosed();
      server.close();
      await server.waitClosed();
      // @ts-expect-error writers take bytes (a string throws TypeError)
      void (() => writer.write('text'));
      // @ts-expect-error a misspelt option (limt)
      void (() => openConnection('127.0.0.1', port, { limt: 10 }));
      // @ts-expect-error a misspelt option (backlg)
      void (() => startServer(() => undefined, '127.0.0.1', 0, { backlg: 10 }));
      // @ts-expect-error createServer's option family is not a Unix server's
      void (() => startUnixServer(() => undefined, '/tmp/x.sock', { family: 'inet' }));
      // @ts-expect-error a misspelt TLS key inside ssl
      void (() => openUnixConnection('/tmp/x.sock', { ssl: { rejectUnauthorised: false } }));
      // @ts-expect-error a misspelt option of startTls
      void (() => writer.startTls(true, { server_hostname: 'x' }));
    });
  });
});

describe('sync primitives and queues', () => {
  it('Lock, Event, Condition, Semaphore, BoundedSemaphore, Barrier: camelCase methods and results', async () => {
    await run(async () => {
      const lock = new Lock();
      expectTypeOf(lock.acquire()).toEqualTypeOf<Promise<true>>();
      expectTypeOf(lock.locked()).toEqualTypeOf<boolean>();
      lock.release();
      const event = new Event();
      event.set();
      expectTypeOf(event.isSet()).toEqualTypeOf<boolean>();
      expect(await event.wait()).toBe(true);
      event.clear();
      const cond = new Condition(new Lock());
      await cond.acquire();
      expectTypeOf(cond.waitFor(() => 5)).toEqualTypeOf<Promise<number>>();
      expect(await cond.waitFor(() => 5)).toBe(5);
      cond.notify(1);
      cond.notifyAll();
      cond.release();
      const sem = new Semaphore(2);
      expectTypeOf(sem.acquire()).toEqualTypeOf<Promise<true>>();
      sem.release();
      const bounded = new BoundedSemaphore();
      expect(() => bounded.release()).toThrow();
      const barrier = new Barrier(1);
      expectTypeOf(barrier.wait()).toEqualTypeOf<Promise<number>>();
      expect(await barrier.wait()).toBe(0);
      expectTypeOf(barrier.parties).toEqualTypeOf<number>();
      expectTypeOf(barrier.nWaiting).toEqualTypeOf<number>();
      expectTypeOf(barrier.broken).toEqualTypeOf<boolean>();
      // @ts-expect-error a Barrier needs its number of parties
      void (() => new Barrier());
      // @ts-expect-error a Semaphore's value is a number
      void (() => new Semaphore('2'));
    });
  });

  it('Queue<T>, PriorityQueue<T>, LifoQueue<T>: put/get typed by T', async () => {
    await run(async () => {
      const q = new Queue<number>(2);
      await q.put(1);
      q.putNowait(2);
      expectTypeOf(q.get).returns.toEqualTypeOf<Promise<number>>();
      expectTypeOf(q.getNowait).returns.toEqualTypeOf<number>();
      expect(q.full()).toBe(true);
      expect(() => q.putNowait(3)).toThrow(QueueFull);
      expect([q.qsize(), q.empty(), q.maxsize]).toEqual([2, false, 2]);
      expect(await q.get()).toBe(1);
      q.taskDone();
      q.getNowait();
      q.taskDone();
      expectTypeOf(q.join()).toEqualTypeOf<Promise<void>>();
      await q.join();
      q.shutdown(true);
      await expect(q.get()).rejects.toBeInstanceOf(QueueShutDown);
      // @ts-expect-error the queue holds numbers
      void (() => q.put('x'));
      const pq = new PriorityQueue<[number, string]>();
      pq.putNowait([2, 'b']);
      pq.putNowait([1, 'a']);
      expectTypeOf(pq.getNowait).returns.toEqualTypeOf<[number, string]>();
      expect(pq.getNowait()).toEqual([1, 'a']);
      const byLength = new PriorityQueue<string>((a, b) => a.length - b.length);
      byLength.putNowait('ccc');
      byLength.putNowait('a');
      expect(byLength.getNowait()).toBe('a');
      const lifo = new LifoQueue<string>();
      lifo.putNowait('first');
      lifo.putNowait('last');
      expect(lifo.getNowait()).toBe('last');
      expect(() => new Queue<number>().getNowait()).toThrow(QueueEmpty);
      // @ts-expect-error a comparator compares two items of the queue's type
      void (() => new PriorityQueue<string>((a: number, b: number) => a - b));
    });
  });
});

describe('exceptions', () => {
  it('every error API.md lists is a class with its fields', () => {
    const partial = new Uint8Array([1]);
    const incomplete = new IncompleteReadError(partial, 4);
    expectTypeOf(incomplete.partial).toEqualTypeOf<Uint8Array>();
    expectTypeOf(incomplete.expected).toEqualTypeOf<number | null>();
    expect([incomplete.partial, incomplete.expected]).toEqual([partial, 4]);
    const overrun = new LimitOverrunError('too long', 7);
    expectTypeOf(overrun.consumed).toEqualTypeOf<number>();
    expect(overrun.consumed).toBe(7);
    expect(new CancelledError('m').message).toBe('m');
    for (const E of [InvalidStateError, TimeoutError, NotImplementedError, QueueEmpty, QueueFull, QueueShutDown, BrokenBarrierError, SendfileNotAvailableError]) {
      expect(new E('x')).toBeInstanceOf(Error);
    }
    for (const E of [ConnectionResetError, BrokenPipeError, ConnectionRefusedError, ConnectionAbortedError, SSLError, SSLCertVerificationError]) {
      expect(new E('x')).toBeInstanceOf(ConnectionError);
    }
    const reset = new ConnectionResetError('peer');
    expectTypeOf(reset.code).toEqualTypeOf<string | undefined>();
    expectTypeOf(reset.syscall).toEqualTypeOf<string | undefined>();
    expectTypeOf(new SSLError('x').code).toEqualTypeOf<string | undefined>();
    expect(new SSLCertVerificationError('x')).toBeInstanceOf(SSLError);
    // @ts-expect-error IncompleteReadError takes the bytes read and the count expected
    void (() => new IncompleteReadError('partial', 4));
  });
});

describe('subprocesses', () => {
  it('createSubprocessExec/Shell resolve to a Process; communicate gives [stdout, stderr] or null', async () => {
    await run(async () => {
      const proc = await createSubprocessExec(process.execPath, ['-e', 'process.stdout.write("out")'], { stdout: PIPE, stderr: DEVNULL, stdin: null });
      expectTypeOf(proc).toEqualTypeOf<Process>();
      expectTypeOf(proc.pid).toEqualTypeOf<number>();
      expectTypeOf(proc.returncode).toEqualTypeOf<number | null>();
      expectTypeOf(proc.stdin).toEqualTypeOf<StreamWriter | null>();
      expectTypeOf(proc.stdout).toEqualTypeOf<StreamReader | null>();
      const [out, err] = await proc.communicate();
      expectTypeOf(out).toMatchTypeOf<Uint8Array | null>();
      expect(out!.toString()).toBe('out');
      expect(err).toBeNull();
      expectTypeOf(proc.wait()).toEqualTypeOf<Promise<number>>();
      expect(await proc.wait()).toBe(0);
      const sh = await createSubprocessShell('exit 3', { stderr: STDOUT, cwd: '/', env: { PATH: '/bin:/usr/bin' }, limit: 1024 });
      expect(await sh.wait()).toBe(3);
      // @ts-expect-error args are an array (asyncio's *args)
      void (() => createSubprocessExec('ls', '-l'));
      // @ts-expect-error a misspelt option
      void (() => createSubprocessShell('true', { std_out: PIPE }));
      // @ts-expect-error stdin is PIPE, DEVNULL, null or a file descriptor
      void (() => createSubprocessShell('true', { stdin: 'pipe' }));
    });
  });
});

describe('sockets and the loops sock* methods', () => {
  it('socket()/socketpair() make Sockets; sockAccept resolves to a socket of the listener kind', async () => {
    await run(async () => {
      const loop = getEventLoop();
      const listener = socket('inet', 'stream');
      expectTypeOf(listener).toEqualTypeOf<Socket>();
      listener.bind({ address: '127.0.0.1', port: 0 });
      listener.listen(1);
      const client = socket();
      const accepting = loop.sockAccept(listener);
      await loop.sockConnect(client, listener.getsockname());
      const [conn] = await accepting;
      expectTypeOf(conn).toEqualTypeOf<Socket>();
      expect(conn).toBeInstanceOf(Socket);
      await loop.sockSendall(client, Buffer.from('hi'));
      expectTypeOf(loop.sockRecv).returns.toEqualTypeOf<Promise<Uint8Array>>();
      expect(Buffer.from(await loop.sockRecv(conn, 2)).toString()).toBe('hi');
      for (const s of [conn, client, listener]) s.close();
      const [a, b] = socketpair();
      expectTypeOf(a).toEqualTypeOf<Socket>();
      a.close();
      b.close();
    });
  });
});

describe('selectors', () => {
  it('DefaultSelector: register/select/getKey/getMap typed; SelectorKey fields', () => {
    const selector = new DefaultSelector();
    const [a, b] = socketpair();
    try {
      const key = selector.register(a, EVENT_READ | EVENT_WRITE, 'data');
      expectTypeOf(key).toEqualTypeOf<SelectorKey<string>>();
      expectTypeOf(key.fd).toEqualTypeOf<number>();
      expectTypeOf(key.data).toEqualTypeOf<string>();
      const ready = selector.select(0);
      expectTypeOf(ready).toEqualTypeOf<Array<[SelectorKey, number]>>();
      expect(ready.map(([k, events]) => [k.fd, events & EVENT_WRITE])).toEqual([[a.fileno(), EVENT_WRITE]]);
      expect(selector.getKey(a).data).toBe('data');
      expectTypeOf(selector.getMap()).toEqualTypeOf<Map<number, SelectorKey> | null>();
      selector.unregister(a);
      // @ts-expect-error events are a number (EVENT_READ | EVENT_WRITE)
      void (() => selector.register(b, 'read'));
    } finally {
      selector.close();
      a.close();
      b.close();
    }
  });
});

describe('policy and backends', () => {
  it('policy functions, loops, registerBackend and availableBackends', () => {
    const policy = getEventLoopPolicy();
    expectTypeOf(policy).toEqualTypeOf<EventLoopPolicy>();
    expect(policy).toBeInstanceOf(AbstractEventLoopPolicy);
    expectTypeOf(policy.newEventLoop()).toEqualTypeOf<AbstractEventLoop>();
    const loop = newEventLoop();
    setEventLoop(loop);
    expect(getEventLoop()).toBe(loop);
    setEventLoop(null);
    loop.close();
    setEventLoopPolicy(new DefaultEventLoopPolicy());
    setEventLoopPolicy(null);
    registerBackend('types-test', () => new SelectorEventLoop(), { priority: -1 });
    const infos = availableBackends();
    expectTypeOf(infos).toEqualTypeOf<BackendInfo[]>();
    const mine = infos.find((i) => i.name === 'types-test');
    expect(mine?.available).toBe(true);
    expectTypeOf(mine!.reason).toEqualTypeOf<string | undefined>();
    expect(typeof container.resolve).toBe('function');
    const proactor = new ProactorEventLoop();
    expect(proactor).toBeInstanceOf(AbstractEventLoop);
    proactor.close();
    // @ts-expect-error a backend factory makes a loop
    void (() => registerBackend('bad', () => 42));
    // @ts-expect-error a misspelt option
    void (() => registerBackend('bad', () => new SelectorEventLoop(), { prio: 1 }));
  });
});
