/** Scenarios of CPython's test_asyncio/test_base_events.py and test_events.py (3.13), on the loops users get. */
import { expect, it } from 'vitest';
import {
  CancelledError,
  Protocol,
  RuntimeError,
  Task,
  createTask,
  getRunningLoop,
  sleep,
  socket,
  socketpair,
  type Server,
  type Transport,
} from 'loopkit';
import { onEachLoop, portOf, rejection, runIn } from './loops.js';

onEachLoop('test_base_events', (make) => {
  it('test_call_later / test_call_at / test_time_and_call_at', () =>
    runIn(make, async (loop) => {
      const results: string[] = [];
      const t0 = loop.time();
      const done = loop.createFuture();
      loop.callLater(0.01, (arg: string) => {
        results.push(arg);
        done.setResult(null);
      }, 'hello world');
      await done;
      expect(results).toEqual(['hello world']);
      expect(loop.time() - t0).toBeGreaterThanOrEqual(0.009);

      const when = loop.time() + 0.01;
      const atDone = loop.createFuture<number>();
      const h = loop.callAt(when, () => atDone.setResult(loop.time()));
      expect(h.when()).toBe(when);
      expect(await atDone).toBeGreaterThanOrEqual(when - 1e-6);
    }));

  it('test_call_soon order / callbacks scheduled in a callback run next iteration', () =>
    runIn(make, async (loop) => {
      const calls: number[] = [];
      loop.callSoon(() => {
        calls.push(1);
        loop.callSoon(() => calls.push(3));
      });
      loop.callSoon(() => calls.push(2));
      await sleep(0);
      await sleep(0);
      expect(calls).toEqual([1, 2, 3]);
    }));

  it('test_run_until_complete_loop_orphan_future_close_loop / test_run_until_complete_baseexception / test_run_until_complete_type_error', async () => {
    const loop = make();
    await expect(loop.runUntilComplete('blah' as never)).rejects.toThrow(TypeError);
    expect(await loop.runUntilComplete(loop.createFuture().getLoop() === loop ? Promise.resolve(5) : Promise.resolve(0))).toBe(5);
    loop.close();
  });

  it('test_run_until_complete_stopped: stop() before the future finished', async () => {
    const loop = make();
    try {
      const error = await rejection(
        loop.runUntilComplete(async () => {
          loop.stop();
          await sleep(0.05);
        }),
      );
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toMatch(/stopped before Future completed/);
    } finally {
      loop.close();
    }
  });

  it('test_run_until_complete_nesting / test_run_forever_nested', () =>
    runIn(make, async (loop) => {
      const error = await rejection(loop.runUntilComplete(async () => 1));
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toMatch(/already running/);
      expect(await rejection(loop.runForever())).toBeInstanceOf(Error);
    }));

  it('test_close / test_run_forever closed loop / run_until_complete on a closed loop', async () => {
    const loop = make();
    expect(loop.isClosed()).toBe(false);
    loop.close();
    expect(loop.isClosed()).toBe(true);
    loop.close(); // idempotent
    await expect(loop.runForever()).rejects.toThrow('Event loop is closed');
    await expect(loop.runUntilComplete(async () => 1)).rejects.toThrow('Event loop is closed');
    expect(() => loop.callSoon(() => undefined)).toThrow('Event loop is closed');
    expect(() => loop.callLater(1, () => undefined)).toThrow('Event loop is closed');
  });

  it('test_close_running_loop: close() while running throws', () =>
    runIn(make, async (loop) => {
      expect(() => loop.close()).toThrow(/running/);
    }));

  it('test_run_forever_keyboard_interrupt-like: stop() from a callback ends runForever; the loop runs again', async () => {
    const loop = make();
    try {
      const calls: number[] = [];
      loop.callSoon(() => calls.push(1));
      loop.callSoon(() => loop.stop());
      loop.callSoon(() => calls.push(2));
      await loop.runForever();
      expect(calls).toEqual([1, 2]);
      // test_run_once_in_executor-like: stop before run runs exactly one iteration
      loop.stop();
      loop.callSoon(() => calls.push(3));
      await loop.runForever();
      expect(calls).toEqual([1, 2, 3]);
    } finally {
      loop.close();
    }
  });

  it('test_default_exc_handler_callback / test_set_exc_handler_custom / broken', () =>
    runIn(make, async (loop, reports) => {
      loop.callSoon(() => {
        throw new RangeError('cb boom');
      });
      await sleep(0);
      await sleep(0);
      expect(reports).toHaveLength(1);
      expect(reports[0]!.message).toMatch(/^Exception in callback /);
      expect(reports[0]!.exception).toBeInstanceOf(RangeError);
      expect(reports[0]!.handle).toBeDefined();

      const seen: unknown[] = [];
      loop.setExceptionHandler(() => {
        seen.push('called');
        throw new Error('handler broken');
      });
      loop.callSoon(() => {
        throw new Error('again');
      });
      await sleep(0);
      await sleep(0);
      expect(seen).toEqual(['called']);
      expect(() => loop.setExceptionHandler('nope' as never)).toThrow(TypeError);
      loop.setExceptionHandler(null);
      expect(loop.getExceptionHandler()).toBeNull();
    }));

  it('test_call_soon_non_callable / test_call_later_negative_delays run soon', () =>
    runIn(make, async (loop) => {
      expect(() => loop.callSoon(1 as never)).toThrow(TypeError);
      expect(() => loop.callLater(0, 'x' as never)).toThrow(TypeError);
      expect(() => loop.callLater(null as never, () => undefined)).toThrow(TypeError);
      const calls: number[] = [];
      loop.callLater(-1, () => calls.push(1));
      loop.callLater(-2, () => calls.push(2));
      await sleep(0.001);
      expect(calls).toEqual([2, 1]);
    }));

  it('test_create_task / set_task_factory: the factory gets (loop, coro, options)', () =>
    runIn(make, async (loop) => {
      expect(loop.getTaskFactory()).toBeNull();
      const made: unknown[] = [];
      loop.setTaskFactory((l, coro, options) => {
        made.push(l);
        return new Task(coro, { ...options, loop: l });
      });
      const t = loop.createTask(async () => 7, { name: 'factory-made' });
      expect(made).toEqual([loop]);
      expect(await t).toBe(7);
      expect(() => loop.setTaskFactory(1 as never)).toThrow(TypeError);
      loop.setTaskFactory(null);
      expect(loop.getTaskFactory()).toBeNull();
    }));

  it('test_debug: getDebug/setDebug', () =>
    runIn(make, async (loop) => {
      const initial = loop.getDebug();
      loop.setDebug(true);
      expect(loop.getDebug()).toBe(true);
      loop.setDebug(false);
      expect(loop.getDebug()).toBe(false);
      loop.setDebug(initial);
    }));

  it('test_shutdown_default_executor / run_in_executor', () =>
    runIn(make, async (loop) => {
      expect(await loop.runInExecutor(null, (a: number, b: number) => a + b, 2, 3)).toBe(5);
      await loop.shutdownDefaultExecutor();
    }));

  it('test_get_running_loop outside and inside', async () => {
    expect(() => getRunningLoop()).toThrow(/no running event loop/);
    await runIn(make, async (loop) => {
      expect(getRunningLoop()).toBe(loop);
    });
  });
});

onEachLoop('test_events', (make) => {
  class Echo extends Protocol {
    transport: Transport | null = null;
    readonly received: Buffer[] = [];
    state: string[] = ['INITIAL'];
    override connectionMade(transport: Transport): void {
      this.transport = transport;
      this.state.push('CONNECTED');
    }
    override dataReceived(data: Uint8Array): void {
      this.received.push(Buffer.from(data));
      if (this.echo) this.transport!.write(data);
    }
    constructor(private readonly echo = true) {
      super();
    }
    override eofReceived(): boolean | void {
      this.state.push('EOF');
    }
    override connectionLost(): void {
      this.state.push('CLOSED');
    }
  }

  it('test_create_server / test_create_connection: echo, extra info, states', () =>
    runIn(make, async (loop) => {
      const protos: Echo[] = [];
      const server = (await loop.createServer(() => {
        const p = new Echo();
        protos.push(p);
        return p;
      }, '127.0.0.1', 0)) as Server;
      expect(server.isServing()).toBe(true);
      const port = portOf(server);
      const [transport, client] = (await loop.createConnection(() => new Echo(false), '127.0.0.1', port)) as [Transport, Echo];
      expect(transport.getExtraInfo('peername')).toMatchObject({ address: '127.0.0.1', port });
      expect(client.state).toEqual(['INITIAL', 'CONNECTED']);
      transport.write(Buffer.from('xxx'));
      for (let i = 0; i < 100 && client.received.length === 0; i++) await sleep(0.005);
      expect(Buffer.concat(client.received).toString()).toBe('xxx');
      transport.close();
      for (let i = 0; i < 100 && protos[0]!.state.at(-1) !== 'CLOSED'; i++) await sleep(0.005);
      expect(protos[0]!.state).toEqual(['INITIAL', 'CONNECTED', 'EOF', 'CLOSED']);
      server.close();
      await server.waitClosed();
      expect(server.isServing()).toBe(false);
    }));

  it('test_create_server_reuse_port / dual server refused without reusePort', () =>
    runIn(make, async (loop) => {
      const s1 = (await loop.createServer(() => new Echo(), '127.0.0.1', 0)) as Server;
      const port = portOf(s1);
      const error = await rejection(loop.createServer(() => new Echo(), '127.0.0.1', port));
      expect((error as { code?: string }).code).toBe('EADDRINUSE');
      s1.close();
      await s1.waitClosed();
    }));

  it('test_create_connection refused: ConnectionRefusedError with ECONNREFUSED', () =>
    runIn(make, async (loop) => {
      const s = (await loop.createServer(() => new Echo(), '127.0.0.1', 0)) as Server;
      const port = portOf(s);
      s.close();
      await s.waitClosed();
      const error = await rejection(loop.createConnection(() => new Echo(), '127.0.0.1', port));
      expect((error as { code?: string }).code).toBe('ECONNREFUSED');
    }));

  it('test_server_close / test_start_serving false: serveForever cancelled closes the server', () =>
    runIn(make, async (loop) => {
      const server = (await loop.createServer(() => new Echo(), '127.0.0.1', 0, { startServing: false })) as Server;
      expect(server.isServing()).toBe(false);
      const forever = createTask(() => server.serveForever());
      await sleep(0.005);
      expect(server.isServing()).toBe(true);
      forever.cancel();
      expect(await rejection(forever)).toBeInstanceOf(CancelledError);
      expect(server.isServing()).toBe(false);
      await server.waitClosed();
    }));

  it('test_sock_client_ops: sockConnect, sockSendall, sockRecv on a loop socket', () =>
    runIn(make, async (loop) => {
      const server = (await loop.createServer(() => new Echo(), '127.0.0.1', 0)) as Server;
      const sock = socket();
      try {
        await loop.sockConnect(sock, { address: '127.0.0.1', port: portOf(server) } as never);
        await loop.sockSendall(sock, Buffer.from('hello'));
        const data = await loop.sockRecv(sock, 1024);
        expect(Buffer.from(data).toString()).toBe('hello');
      } finally {
        sock.close();
      }
      server.close();
      await server.waitClosed();
    }));

  it('test_sock_accept / socketpair: sockRecv gets b"" at EOF', () =>
    runIn(make, async (loop) => {
      const [a, b] = socketpair();
      try {
        await loop.sockSendall(a, Buffer.from('ping'));
        expect(Buffer.from(await loop.sockRecv(b, 100)).toString()).toBe('ping');
        a.close();
        expect((await loop.sockRecv(b, 100)).length).toBe(0);
      } finally {
        b.close();
      }
    }));

  it('test_run_until_complete with a Node promise and a plain value error', () =>
    runIn(make, async () => {
      expect(await new Promise((r) => setTimeout(() => r('node'), 1))).toBe('node');
    }));

  void RuntimeError;
});
