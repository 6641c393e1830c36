/**
 * API.md's policy, runner and executor: the policy functions and their absent values,
 * registerBackend/availableBackends shapes, LOOPKIT_BACKEND read each time a loop is made,
 * run()/Runner, runInExecutor's two forms of function and its Future.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  AbstractEventLoopPolicy,
  DefaultEventLoopPolicy,
  EventLoop,
  Future,
  ProactorEventLoop,
  Runner,
  SelectorEventLoop,
  UringEventLoop,
  availableBackends,
  getEventLoop,
  getEventLoopPolicy,
  getRunningLoop,
  newEventLoop,
  registerBackend,
  run,
  setEventLoop,
  setEventLoopPolicy,
  sleep,
} from 'loopkit';
import { onEachLoop, rejection, runIn } from './loops.js';

const savedBackend = process.env.LOOPKIT_BACKEND;
afterEach(() => {
  if (savedBackend === undefined) delete process.env.LOOPKIT_BACKEND;
  else process.env.LOOPKIT_BACKEND = savedBackend;
});

describe('policy', () => {
  it('getEventLoopPolicy() is a DefaultEventLoopPolicy (an AbstractEventLoopPolicy) with getEventLoop, setEventLoop, newEventLoop', () => {
    const policy = getEventLoopPolicy();
    expect(policy).toBeInstanceOf(DefaultEventLoopPolicy);
    expect(policy).toBeInstanceOf(AbstractEventLoopPolicy);
    for (const method of ['getEventLoop', 'setEventLoop', 'newEventLoop']) expect(typeof (policy as unknown as Record<string, unknown>)[method]).toBe('function');
  });

  it('setEventLoop(loop) makes getEventLoop() return it; setEventLoop(null) clears it; setEventLoopPolicy(null) restores the default', () => {
    const loop = newEventLoop();
    try {
      setEventLoop(loop);
      expect(getEventLoop()).toBe(loop);
      // No loop is running: a new Future binds to the policy's current loop.
      expect(new Future().getLoop()).toBe(loop);
      setEventLoop(null);
      const custom = new DefaultEventLoopPolicy();
      setEventLoopPolicy(custom);
      expect(getEventLoopPolicy()).toBe(custom);
      setEventLoopPolicy(null);
      expect(getEventLoopPolicy()).not.toBe(custom);
      expect(getEventLoopPolicy()).toBeInstanceOf(DefaultEventLoopPolicy);
    } finally {
      setEventLoop(null);
      loop.close();
    }
  });

  it('availableBackends() returns [{name, available, reason?}], the built-in selector and proactor among them', () => {
    const infos = availableBackends();
    expect(Array.isArray(infos)).toBe(true);
    for (const info of infos) {
      expect(typeof info.name).toBe('string');
      expect(typeof info.available).toBe('boolean');
      if (!info.available) expect(typeof info.reason).toBe('string');
    }
    expect(infos.map((i) => i.name)).toEqual(expect.arrayContaining(['selector', 'proactor']));
  });

  it('LOOPKIT_BACKEND is read each time the policy makes a loop; a registered backend is listed and selectable by name', () => {
    const made: string[] = [];
    registerBackend('contract-backend', () => {
      made.push('contract-backend');
      return new SelectorEventLoop();
    });
    const listed = availableBackends().find((i) => i.name === 'contract-backend');
    expect(listed).toMatchObject({ name: 'contract-backend', available: true });
    const loops = [];
    for (const [backend, Expected] of [['proactor', ProactorEventLoop], ['selector', SelectorEventLoop], ['contract-backend', SelectorEventLoop]] as const) {
      process.env.LOOPKIT_BACKEND = backend;
      const loop = newEventLoop();
      loops.push(loop);
      expect(loop).toBeInstanceOf(Expected);
    }
    expect(made).toEqual(['contract-backend']);
    for (const loop of loops) loop.close();
    process.env.LOOPKIT_BACKEND = 'no-such-backend';
    expect(() => newEventLoop()).toThrow(/no-such-backend/);
  });

  it('registerBackend refuses a non-function factory (TypeError)', () => {
    expect(() => registerBackend('broken', 5 as never)).toThrow(TypeError);
  });

  it.runIf(typeof UringEventLoop === 'function')('the uring backend is selectable by name where it is available', () => {
    const uring = availableBackends().find((i) => i.name === 'uring');
    if (uring?.available !== true) return;
    process.env.LOOPKIT_BACKEND = 'uring';
    const loop = newEventLoop();
    expect(loop).toBeInstanceOf(UringEventLoop);
    loop.close();
  });
});

describe('runner', () => {
  it('run(main) runs a coroutine function on a fresh loop and resolves to its result; {debug, loopFactory} are taken', async () => {
    let seen: unknown = null;
    const result = await run(async () => {
      seen = getRunningLoop();
      await sleep(0);
      return getRunningLoop().getDebug();
    }, { debug: true, loopFactory: () => new ProactorEventLoop() });
    expect(result).toBe(true);
    expect(seen).toBeInstanceOf(ProactorEventLoop);
    expect((seen as ProactorEventLoop).isClosed()).toBe(true);
    expect(await run(async () => 'plain')).toBe('plain');
  });

  it("EventLoop is asyncio 3.13's alias of this platform's best loop class (SelectorEventLoop here), usable as run()'s loopFactory", async () => {
    expect(EventLoop).toBe(process.platform === 'win32' ? ProactorEventLoop : SelectorEventLoop);
    const loop = await run(async () => getRunningLoop(), { loopFactory: () => new EventLoop() });
    expect(loop).toBeInstanceOf(EventLoop);
    expect(loop.isClosed()).toBe(true);
  });

  it('run() refuses an unknown option naming it', async () => {
    const error = await rejection(run(async () => 1, { debg: true } as never));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toContain('debg');
  });

  it('Runner: run(), getLoop(), close(); the same loop for each run; a closed Runner refuses (as asyncio: "Runner is closed")', async () => {
    const runner = new Runner();
    let loop = null;
    try {
      const first = await runner.run(async () => getRunningLoop());
      const second = await runner.run(async () => getRunningLoop());
      expect(first).toBe(second);
      expect(runner.getLoop()).toBe(first);
      loop = first;
    } finally {
      await runner.close();
    }
    expect(loop?.isClosed()).toBe(true);
    expect(() => runner.getLoop()).toThrow('Runner is closed');
  });
});

onEachLoop('runInExecutor', (make) => {
  it('the default executor runs a self-contained function on a worker thread; result and error come back as a Future', async () => {
    await runIn(make, async (loop) => {
      const pending = loop.runInExecutor(null, (a: number, b: number) => {
        const threads = (process as unknown as { getBuiltinModule(id: string): { isMainThread: boolean } }).getBuiltinModule('node:worker_threads');
        return [a + b, threads.isMainThread];
      }, 2, 3);
      expect(pending).toBeInstanceOf(Future);
      expect(await pending).toEqual([5, false]);
      const failing = loop.runInExecutor(null, (msg: string) => {
        throw new Error(msg);
      }, 'from the worker');
      const error = await rejection(failing);
      expect(error.message).toContain('from the worker');
    });
  });

  it('a {module, name} reference to an exported function runs too', async () => {
    await runIn(make, async (loop) => {
      const result = await loop.runInExecutor(null, { module: 'node:path', name: 'join' } as never, 'a', 'b');
      expect(result).toBe('a/b');
      await loop.shutdownDefaultExecutor();
    });
  });
});
