import { afterEach, describe, expect, it, vi } from 'vitest';
import { getRunningLoop, run, Runner, RuntimeError, TestLoop, type AbstractEventLoop } from '@loopkit/core';
import {
  availableBackends,
  createBackendContainer,
  DefaultEventLoopPolicy,
  getEventLoop,
  getEventLoopPolicy,
  PROACTOR,
  SELECTOR,
  setEventLoopPolicy,
} from '@loopkit/policy';
import { NetProactor, ProactorEventLoop } from '@loopkit/proactor';
import { isAvailable } from '@loopkit/uv';
import { PollSelector, SelectorEventLoop } from '@loopkit/selector';

afterEach(() => setEventLoopPolicy(null));

/** A policy that counts the loops it makes. */
function countingPolicy(): { made: TestLoop[] } {
  const made: TestLoop[] = [];
  const loop = new TestLoop();
  setEventLoopPolicy({
    getEventLoop: () => loop,
    setEventLoop() {},
    newEventLoop: () => {
      const fresh = new TestLoop();
      made.push(fresh);
      return fresh;
    },
  });
  return { made };
}

describe('run() and Runner with the policy', () => {
  it('run(main) makes its loop with the policy and closes it', async () => {
    const { made } = countingPolicy();
    const loop = await run(async () => getRunningLoop());
    expect(made).toEqual([loop]);
    expect(loop.isClosed()).toBe(true);
  });

  it("run(main) makes its loop the policy's current loop while it runs, then unsets it (asyncio.run)", async () => {
    const policy = new DefaultEventLoopPolicy();
    setEventLoopPolicy(policy);
    const calls: Array<AbstractEventLoop | null> = [];
    const setEventLoop = policy.setEventLoop.bind(policy);
    policy.setEventLoop = vi.fn((loop: AbstractEventLoop | null) => {
      calls.push(loop);
      setEventLoop(loop);
    });
    const loop = await run(async () => {
      expect(getEventLoop()).toBe(getRunningLoop());
      return getRunningLoop();
    });
    expect(calls).toEqual([loop, null]);
    expect(() => getEventLoop()).toThrow(RuntimeError); // set to none: no new one is made
  });

  it('a Runner sets the current loop once however many times it runs (asyncio.Runner)', async () => {
    const { made } = countingPolicy();
    const policy = getEventLoopPolicy();
    const setEventLoop = vi.fn();
    policy.setEventLoop = setEventLoop;
    const runner = new Runner();
    await runner.run(async () => {});
    await runner.run(async () => {});
    expect(setEventLoop.mock.calls).toEqual([[made[0]]]);
    await runner.close();
    expect(setEventLoop.mock.calls).toEqual([[made[0]], [null]]);
  });

  it('run(main, {loopFactory}) leaves the policy alone', async () => {
    const { made } = countingPolicy();
    const mine = new TestLoop();
    expect(await run(async () => getRunningLoop(), { loopFactory: () => mine })).toBe(mine);
    const setEventLoop = vi.fn();
    getEventLoopPolicy().setEventLoop = setEventLoop;
    const runner = new Runner({ loopFactory: () => new TestLoop() });
    expect(await runner.run(async () => 7)).toBe(7);
    await runner.close();
    expect(made).toEqual([]);
    expect(setEventLoop).not.toHaveBeenCalled();
  });
});

describe('built-in backends', () => {
  it('the proactor backend is registered and available everywhere', () => {
    expect(availableBackends()).toContainEqual(expect.objectContaining({ name: 'proactor', available: true, loopClass: ProactorEventLoop }));
  });

  it('the selector backend is available exactly when the native addon loaded', () => {
    const selector = availableBackends().find((b) => b.name === 'selector');
    expect(selector).toMatchObject({ available: isAvailable(), loopClass: SelectorEventLoop });
  });

  it.runIf(isAvailable())('a child container swaps the selector the selector backend uses', () => {
    const child = createBackendContainer();
    const made: PollSelector[] = [];
    child.register(SELECTOR, { useValue: () => made[made.push(new PollSelector()) - 1]! });
    const previous = process.env.LOOPKIT_BACKEND;
    process.env.LOOPKIT_BACKEND = 'selector';
    try {
      const loop = new DefaultEventLoopPolicy(child).newEventLoop();
      expect(loop).toBeInstanceOf(SelectorEventLoop);
      expect(made).toHaveLength(1);
      loop.close();
    } finally {
      if (previous === undefined) delete process.env.LOOPKIT_BACKEND;
      else process.env.LOOPKIT_BACKEND = previous;
    }
  });

  it('a child container swaps the proactor the proactor backend uses', () => {
    const child = createBackendContainer();
    const made: NetProactor[] = [];
    child.register(PROACTOR, { useValue: () => made[made.push(new NetProactor()) - 1]! });
    const previous = process.env.LOOPKIT_BACKEND;
    process.env.LOOPKIT_BACKEND = 'proactor';
    try {
      const loop = new DefaultEventLoopPolicy(child).newEventLoop();
      expect(loop).toBeInstanceOf(ProactorEventLoop);
      expect(made).toHaveLength(1);
      loop.close();
    } finally {
      if (previous === undefined) delete process.env.LOOPKIT_BACKEND;
      else process.env.LOOPKIT_BACKEND = previous;
    }
    expect(getEventLoopPolicy()).toBeInstanceOf(DefaultEventLoopPolicy);
  });
});
