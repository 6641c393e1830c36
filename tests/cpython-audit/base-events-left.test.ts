/**
 * Scenarios of CPython 3.13's test_base_events.py not in base-events.test.ts: the argument
 * errors of create_connection/create_server/create_datagram_endpoint with asyncio's words,
 * sock_sendfile's checks, the default exception handler failing, named tasks through a
 * custom factory, slow callbacks in debug mode, TCP_NODELAY, an empty or IPv6 host.
 */
import * as childProcess from 'node:child_process';
import * as os from 'node:os';
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  ConnectionRefusedError,
  DatagramProtocol,
  Protocol,
  SelectorEventLoop,
  Task,
  logger,
  sleep,
  socket,
  type AbstractEventLoop,
  type Server,
  type Socket,
  type Transport,
} from 'loopkit';
import { busyWait, onEachLoop, portOf, rejection, runIn } from './loops.js';

let warnings: string[] = [];
let errors: string[] = [];
const saved = { warning: logger.warning, error: logger.error };
beforeEach(() => {
  warnings = [];
  errors = [];
  logger.warning = (message: string) => void warnings.push(message);
  logger.error = (message: string) => void errors.push(message);
});
afterEach(() => {
  logger.warning = saved.warning;
  logger.error = saved.error;
});

/** Whether `make` gives the selector loop (whose sockets are @loopkit/uv's, with getsockopt). */
function isSelectorLoop(make: () => AbstractEventLoop): boolean {
  const loop = make();
  loop.close();
  return loop instanceof SelectorEventLoop;
}

const hasIPv6 = Object.values(os.networkInterfaces()).some((addrs) => addrs?.some((a) => a.family === 'IPv6' && a.internal));

onEachLoop('test_base_events (left)', (make) => {
  it('test_create_connection_host_port_sock / _no_host_port_sock / test_create_server_host_port_sock / _no_host_port_sock: asyncio\'s words', () =>
    runIn(make, async (loop) => {
      const sock = socket();
      try {
        expect(await rejection(loop.createConnection(() => new Protocol(), '127.0.0.1', 80, { sock }))).toMatchObject({
          message: expect.stringMatching(/host\/port and sock can not be specified at the same time/),
        });
        expect(await rejection(loop.createConnection(() => new Protocol(), null, null))).toMatchObject({
          message: expect.stringMatching(/host and port was not specified and no sock specified/),
        });
        expect(await rejection(loop.createServer(() => new Protocol(), '127.0.0.1', 0, { sock }))).toMatchObject({
          message: expect.stringMatching(/host\/port and sock can not be specified at the same time/),
        });
      } finally {
        sock.close();
      }
    }));

  it('test_create_connection_wrong_sock / test_create_server_wrong_sock / test_create_datagram_endpoint_wrong_sock: the socket type is checked', () =>
    runIn(make, async (loop) => {
      const dgram = socket('inet', 'dgram');
      const stream = socket('inet', 'stream');
      try {
        const e1 = await rejection(loop.createConnection(() => new Protocol(), null, null, { sock: dgram }));
        expect((e1 as Error).message).toMatch(/A Stream Socket was expected/i);
        const e2 = await rejection(loop.createServer(() => new Protocol(), null, null, { sock: dgram }));
        expect((e2 as Error).message).toMatch(/A Stream Socket was expected/i);
        const e3 = await rejection(loop.createDatagramEndpoint(() => new DatagramProtocol(), { sock: stream }));
        // ProactorEventLoop refuses any `sock` for datagrams (node:dgram cannot adopt one): README.
        expect((e3 as Error).message).toMatch(/datagram socket was expected|sock is not supported/i);
      } finally {
        dgram.close();
        stream.close();
      }
    }));

  it('test_create_connection_multiple_errors / connect_err: refused everywhere gives ConnectionRefusedError', () =>
    runIn(make, async (loop) => {
      const server = (await loop.createServer(() => new Protocol(), '127.0.0.1', 0)) as Server;
      const port = portOf(server);
      server.close();
      await server.waitClosed();
      const error = await rejection(loop.createConnection(() => new Protocol(), '127.0.0.1', port));
      expect(error).toBeInstanceOf(ConnectionRefusedError);
      expect((error as { code?: string }).code).toBe('ECONNREFUSED');
    }));

  it('test_create_server_empty_host: "" listens on every interface, as None', () =>
    runIn(make, async (loop) => {
      const server = (await loop.createServer(() => new Protocol(), '', 0)) as Server;
      try {
        const addresses = server.sockets.map((s) => ((s as Socket).getsockname() as { address: string }).address);
        expect(addresses.length).toBeGreaterThanOrEqual(1);
        for (const address of addresses) expect(['0.0.0.0', '::']).toContain(address);
        const [tr] = (await loop.createConnection(() => new Protocol(), '127.0.0.1', portOf(server))) as [Transport, Protocol];
        tr.close();
      } finally {
        server.close();
        await server.waitClosed();
      }
    }));

  it.runIf(hasIPv6)('test_create_server_ipv6: a server on ::1 takes a connection to ::1', () =>
    runIn(make, async (loop) => {
      const server = (await loop.createServer(() => new Protocol(), '::1', 0)) as Server;
      try {
        const name = (server.sockets[0] as Socket).getsockname() as { address: string; family: string; port: number };
        expect(name.address).toBe('::1');
        const [tr] = (await loop.createConnection(() => new Protocol(), '::1', name.port)) as [Transport, Protocol];
        expect((tr.getExtraInfo('peername') as { address: string }).address).toBe('::1');
        tr.close();
      } finally {
        server.close();
        await server.waitClosed();
      }
    }));

  // The proactor's socket (over node:net) has no getsockopt to read the option back; its transports call setNoDelay(true).
  it.runIf(isSelectorLoop(make))('test_set_nodelay: TCP transports are made with TCP_NODELAY (asyncio sets it on every TCP transport)', () =>
    runIn(make, async (loop) => {
      const server = (await loop.createServer(() => new Protocol(), '127.0.0.1', 0)) as Server;
      const [tr] = (await loop.createConnection(() => new Protocol(), '127.0.0.1', portOf(server))) as [Transport, Protocol];
      const sock = tr.getExtraInfo('socket') as { getsockopt?: (level: string, name: string) => unknown } | null;
      expect(sock).not.toBeNull();
      const IPPROTO_TCP = 6;
      const TCP_NODELAY = 1;
      expect(typeof sock!.getsockopt).toBe('function');
      expect(Number(sock!.getsockopt!(IPPROTO_TCP as never, TCP_NODELAY as never))).not.toBe(0);
      tr.close();
      server.close();
      await server.waitClosed();
    }));

  it('test_create_named_task_with_custom_factory / _default_factory: the name reaches the factory and the task', () =>
    runIn(make, async (loop) => {
      const task = loop.createTask(async () => 1, { name: 'taskName' });
      expect(task.getName()).toBe('taskName');
      await task;
      const names: unknown[] = [];
      loop.setTaskFactory((l, coro, options) => {
        names.push(options.name);
        return new Task(coro, { ...options, loop: l });
      });
      const custom = loop.createTask(async () => 2, { name: 'taskName' });
      expect(names).toEqual(['taskName']);
      expect(custom.getName()).toBe('taskName');
      expect(await custom).toBe(2);
      loop.setTaskFactory(null);
    }));

  it('test_set_task_factory_invalid / test_set_exc_handler_invalid: TypeError naming what is expected', () =>
    runIn(make, async (loop) => {
      expect(() => loop.setTaskFactory(1 as never)).toThrow(/factory/);
      expect(() => loop.setExceptionHandler('abc' as never)).toThrow(/callable|function/i);
      expect(loop.getTaskFactory()).toBeNull();
    }));

  it('test_default_exc_handler_broken: a failing default handler is logged, the loop runs on', async () => {
    // No handler set (runIn sets one): the loop calls its default handler, made to throw here.
    const loop = make();
    loop.defaultExceptionHandler = () => {
      throw new Error('default handler broken');
    };
    try {
      const value = await loop.runUntilComplete(async () => {
        loop.callSoon(() => {
          throw new RangeError('in callback');
        });
        await sleep(0);
        await sleep(0);
        return 'ran on';
      });
      expect(value).toBe('ran on');
      expect(errors.filter((m) => /Exception in default exception handler/.test(m))).toHaveLength(1);
    } finally {
      loop.close();
    }
  });

  it('test_log_slow_callbacks: in debug mode a callback over slowCallbackDuration is logged with its time', () =>
    runIn(make, async (loop) => {
      loop.setDebug(true);
      loop.slowCallbackDuration = 0.05;
      loop.callSoon(function slowOne() {
        busyWait(0.08);
      });
      await sleep(0);
      await sleep(0);
      loop.setDebug(false);
      const slow = warnings.filter((m) => /slowOne/.test(m));
      expect(slow).toHaveLength(1);
      expect(slow[0]).toMatch(/^Executing <Handle slowOne\(\).*> took 0\.\d{3} seconds$/);
    }));

  it('test_shutdown_default_executor_timeout: a job outliving the timeout gives asyncio\'s warning, and the executor takes no more work', () =>
    runIn(make, async (loop) => {
      const job = loop.runInExecutor(null, (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms), 1000);
      await sleep(0.05);
      const started = performance.now();
      await loop.shutdownDefaultExecutor(0.1);
      expect(performance.now() - started).toBeLessThan(900);
      expect(warnings).toContain('The executor did not finishing joining its threads within 0.1 seconds.');
      expect(() => loop.runInExecutor(null, () => 1)).toThrow(/shutdown/i);
      // As a Python thread, the worker is not killed: its job still completes.
      expect(await job).toBe('timed-out');
    }));

  it('test_blocking_socket / test_nonstream_socket / test_notint_count / test_negative_count / test_notint_offset / test_negative_offset (sock_sendfile)', () =>
    runIn(make, async (loop) => {
      const dgram = socket('inet', 'dgram');
      const stream = socket('inet', 'stream');
      try {
        const fd = 0;
        const e1 = await rejection(loop.sockSendfile(dgram, fd));
        expect(e1).toBeInstanceOf(TypeError);
        expect((e1 as Error).message).toMatch(/SOCK_STREAM|stream socket/i);
        expect(await rejection(loop.sockSendfile(stream, fd, 0, 'count' as never))).toMatchObject({ message: expect.stringMatching(/count must be a positive integer/) });
        expect(await rejection(loop.sockSendfile(stream, fd, 0, -1))).toMatchObject({ message: 'count must be a positive integer (got -1)' });
        expect(await rejection(loop.sockSendfile(stream, fd, 'offset' as never))).toMatchObject({ message: expect.stringMatching(/offset must be a non-negative integer/) });
        expect(await rejection(loop.sockSendfile(stream, fd, -1))).toMatchObject({ message: 'offset must be a non-negative integer (got -1)' });
      } finally {
        dgram.close();
        stream.close();
      }
    }));
});

it('test_env_var_debug: LOOPKIT_DEBUG (asyncio: PYTHONASYNCIODEBUG) set to any non-empty value turns debug mode on for new loops', () => {
  const script = "import {newEventLoop, ProactorEventLoop} from 'loopkit'; const a = newEventLoop(), b = new ProactorEventLoop(); console.log(a.getDebug(), b.getDebug()); a.close(); b.close();";
  const debugWith = (value: string | undefined): string => {
    const env = { ...process.env };
    delete env.LOOPKIT_DEBUG;
    if (value !== undefined) env.LOOPKIT_DEBUG = value;
    return childProcess.execFileSync(process.execPath, ['--input-type=module', '-e', script], { env, encoding: 'utf8' }).trim();
  };
  // Python 3.13.0: PYTHONASYNCIODEBUG unset or '' -> False; '1' -> True; '0' -> True (any non-empty value).
  expect(debugWith(undefined)).toBe('false false');
  expect(debugWith('')).toBe('false false');
  expect(debugWith('1')).toBe('true true');
  expect(debugWith('0')).toBe('true true');
});
