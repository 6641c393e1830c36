import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Future, NotImplementedError, RuntimeError, TestLoop } from '@loopkit/core';
import {
  AbstractEventLoopPolicy,
  availableBackends,
  chooseBackend,
  container,
  createBackendContainer,
  DefaultEventLoopPolicy,
  getEventLoop,
  getEventLoopPolicy,
  LOOP_FACTORY,
  newEventLoop,
  registerBackend,
  setEventLoop,
  setEventLoopPolicy,
} from '@loopkit/policy';
import type { DependencyContainer } from 'tsyringe';

class FakeSelectorLoop extends TestLoop {}
class FakeProactorLoop extends TestLoop {}
class CustomLoop extends TestLoop {}

const platformDescriptor = Object.getOwnPropertyDescriptor(process, 'platform')!;
function mockPlatform(platform: string): void {
  Object.defineProperty(process, 'platform', { value: platform, configurable: true });
}

/** A child container whose 'selector' and 'proactor' are fakes; `selectorWorks` is its probe. */
function fakeBackends(selectorWorks: string | null = null): DependencyContainer {
  const child = createBackendContainer();
  registerBackend('selector', () => new FakeSelectorLoop(), { loopClass: FakeSelectorLoop, probe: () => selectorWorks, replace: true }, child);
  registerBackend('proactor', () => new FakeProactorLoop(), { loopClass: FakeProactorLoop, replace: true }, child);
  return child;
}

let savedEnv: string | undefined;
beforeEach(() => {
  savedEnv = process.env.LOOPKIT_BACKEND;
  delete process.env.LOOPKIT_BACKEND;
});
afterEach(() => {
  Object.defineProperty(process, 'platform', platformDescriptor);
  if (savedEnv === undefined) delete process.env.LOOPKIT_BACKEND;
  else process.env.LOOPKIT_BACKEND = savedEnv;
  setEventLoopPolicy(null);
});

describe('backend choice per platform', () => {
  it.each([
    ['linux', FakeSelectorLoop, /epoll/],
    ['darwin', FakeSelectorLoop, /kqueue/],
    ['freebsd', FakeSelectorLoop, /poll\(\)/],
    ['win32', FakeProactorLoop, /IOCP/],
  ])('%s gets its loop', (platform, loopClass, reason) => {
    mockPlatform(platform);
    const child = fakeBackends();
    expect(new DefaultEventLoopPolicy(child).newEventLoop()).toBeInstanceOf(loopClass);
    expect(chooseBackend(platform, availableBackends(child)).reason).toMatch(reason);
  });

  it('falls back to the proactor, saying why, when the selector cannot load', () => {
    mockPlatform('linux');
    const child = fakeBackends('native addon did not load: ENOENT');
    const choice = chooseBackend('linux', availableBackends(child));
    expect(choice.name).toBe('proactor');
    expect(choice.reason).toContain('native addon did not load: ENOENT');
    expect(new DefaultEventLoopPolicy(child).newEventLoop()).toBeInstanceOf(FakeProactorLoop);
  });

  it('reports the platform restriction of a backend as its reason', () => {
    mockPlatform('linux');
    const child = fakeBackends();
    registerBackend('iocp-only', () => new CustomLoop(), { platforms: ['win32'] }, child);
    const info = availableBackends(child).find((b) => b.name === 'iocp-only')!;
    expect(info).toMatchObject({ available: false, reason: 'runs on win32, not linux' });
  });
});

describe('LOOPKIT_BACKEND', () => {
  it('overrides the platform choice, read each time a loop is made', () => {
    mockPlatform('linux');
    const policy = new DefaultEventLoopPolicy(fakeBackends());
    expect(policy.newEventLoop()).toBeInstanceOf(FakeSelectorLoop);
    process.env.LOOPKIT_BACKEND = 'proactor';
    expect(policy.newEventLoop()).toBeInstanceOf(FakeProactorLoop);
  });

  it('selects a registered backend by name', () => {
    const child = fakeBackends();
    registerBackend('custom', () => new CustomLoop(), {}, child);
    process.env.LOOPKIT_BACKEND = 'custom';
    expect(new DefaultEventLoopPolicy(child).newEventLoop()).toBeInstanceOf(CustomLoop);
  });

  it('rejects an unknown name, listing the available ones', () => {
    const policy = new DefaultEventLoopPolicy(fakeBackends());
    process.env.LOOPKIT_BACKEND = 'nope';
    expect(() => policy.newEventLoop()).toThrow(RuntimeError);
    expect(() => policy.newEventLoop()).toThrow(/LOOPKIT_BACKEND=nope: no backend named "nope" is registered; available: selector, proactor(, uring)?$/);
  });

  it('rejects an unavailable backend with its reason', () => {
    const policy = new DefaultEventLoopPolicy(fakeBackends('no epoll here'));
    process.env.LOOPKIT_BACKEND = 'selector';
    expect(() => policy.newEventLoop()).toThrow(/"selector" is unavailable: no epoll here/);
  });
});

describe('registry and child containers', () => {
  it('a backend registered in a child stays out of the global registry', () => {
    const child = createBackendContainer();
    registerBackend('child-only', () => new CustomLoop(), { loopClass: CustomLoop }, child);
    expect(availableBackends(child)).toContainEqual({ name: 'child-only', available: true, priority: 0, loopClass: CustomLoop });
    expect(availableBackends().map((b) => b.name)).not.toContain('child-only');
  });

  it('a child overrides a parent backend without changing the parent', () => {
    const parent = fakeBackends();
    const child = createBackendContainer(parent);
    expect(() => registerBackend('selector', () => new CustomLoop(), {}, child)).toThrow(/already registered; pass \{replace: true\}/);
    registerBackend('selector', () => new CustomLoop(), { replace: true }, child);
    mockPlatform('linux');
    expect(new DefaultEventLoopPolicy(child).newEventLoop()).toBeInstanceOf(CustomLoop);
    expect(new DefaultEventLoopPolicy(parent).newEventLoop()).toBeInstanceOf(FakeSelectorLoop);
  });

  it('a positive priority makes a backend the automatic choice on its platforms', () => {
    mockPlatform('linux');
    const child = fakeBackends();
    registerBackend('fast', () => new CustomLoop(), { platforms: ['linux'], priority: 10 }, child);
    expect(chooseBackend('linux', availableBackends(child))).toEqual({ name: 'fast', reason: 'registered with priority 10 for linux' });
    expect(new DefaultEventLoopPolicy(child).newEventLoop()).toBeInstanceOf(CustomLoop);
    mockPlatform('win32');
    expect(new DefaultEventLoopPolicy(child).newEventLoop()).toBeInstanceOf(FakeProactorLoop);
  });

  it('a policy resolved from a child container uses that child', () => {
    const child = fakeBackends();
    child.register(LOOP_FACTORY, { useValue: () => new CustomLoop() });
    expect(child.resolve(DefaultEventLoopPolicy).newEventLoop()).toBeInstanceOf(CustomLoop);
    expect(container.isRegistered(LOOP_FACTORY)).toBe(true);
  });

  it('checks its arguments', () => {
    const child = createBackendContainer();
    expect(() => registerBackend('', () => new TestLoop(), {}, child)).toThrow(/name must be/);
    expect(() => registerBackend('x', 42 as never, {}, child)).toThrow(/factory must be a function/);
    expect(() => registerBackend('x', () => new TestLoop(), { platforms: 'linux' as never }, child)).toThrow(/platforms must be/);
    expect(() => registerBackend('x', () => new TestLoop(), { priority: NaN }, child)).toThrow(/priority must be/);
    expect(() => registerBackend('x', () => new TestLoop(), { priorty: 1 } as never, child)).toThrow(
      "registerBackend() got an unexpected option 'priorty' (known options: platforms, priority, loopClass, probe, replace)",
    );
    expect(() => registerBackend('selector', () => new TestLoop())).toThrow(/"selector" is already registered/);
    expect(() => registerBackend('x', () => new TestLoop(), {}, {} as never)).toThrow(/into must be a tsyringe container/);
    expect(() => createBackendContainer(null as never)).toThrow(TypeError);
  });

  it('a factory that returns no loop is a TypeError naming it', () => {
    const child = createBackendContainer();
    registerBackend('broken', () => ({}) as never, {}, child);
    process.env.LOOPKIT_BACKEND = 'broken';
    expect(() => new DefaultEventLoopPolicy(child).newEventLoop()).toThrow(/backend factory must return an event loop/);
  });
});

describe('policy functions', () => {
  function useFakes(): DefaultEventLoopPolicy {
    mockPlatform('linux');
    const policy = new DefaultEventLoopPolicy(fakeBackends());
    setEventLoopPolicy(policy);
    return policy;
  }

  it('getEventLoop makes the current loop on first use and keeps it', () => {
    useFakes();
    const loop = getEventLoop();
    expect(loop).toBeInstanceOf(FakeSelectorLoop);
    expect(getEventLoop()).toBe(loop);
    expect(newEventLoop()).not.toBe(loop);
  });

  it('getEventLoop returns the running loop inside a coroutine', async () => {
    useFakes();
    const other = new TestLoop();
    expect(await other.runUntilComplete(async () => getEventLoop())).toBe(other);
    expect(getEventLoop()).not.toBe(other);
    other.close();
  });

  it('new Future() outside a loop binds to the current loop', () => {
    useFakes();
    const loop = new TestLoop();
    setEventLoop(loop);
    expect(new Future().getLoop()).toBe(loop);
  });

  it('after setEventLoop(null) there is no current loop', () => {
    useFakes();
    setEventLoop(null);
    expect(() => getEventLoop()).toThrow(/There is no current event loop in thread main/);
  });

  it('setEventLoop and setEventLoopPolicy reject the wrong type', () => {
    expect(() => setEventLoop({} as never)).toThrow(TypeError);
    expect(() => setEventLoop({} as never)).toThrow(/loop must be an event loop or null/);
    expect(() => setEventLoopPolicy({ getEventLoop() {} } as never)).toThrow(/policy must be an event loop policy/);
    expect(() => setEventLoopPolicy('default' as never)).toThrow(TypeError);
  });

  it('setEventLoopPolicy(null) restores a fresh default policy', () => {
    const custom = useFakes();
    expect(getEventLoopPolicy()).toBe(custom);
    setEventLoopPolicy(null);
    const restored = getEventLoopPolicy();
    expect(restored).toBeInstanceOf(DefaultEventLoopPolicy);
    expect(restored).not.toBe(custom);
    expect(getEventLoopPolicy()).toBe(restored);
  });

  it('a policy need not be a DefaultEventLoopPolicy', () => {
    const loop = new TestLoop();
    setEventLoopPolicy({ getEventLoop: () => loop, setEventLoop() {}, newEventLoop: () => loop });
    expect(getEventLoop()).toBe(loop);
    expect(newEventLoop()).toBe(loop);
  });
});

describe('AbstractEventLoopPolicy', () => {
  it('is the base of DefaultEventLoopPolicy, and its methods must be overridden', () => {
    class Partial extends AbstractEventLoopPolicy {}
    const partial = new Partial();
    expect(new DefaultEventLoopPolicy()).toBeInstanceOf(AbstractEventLoopPolicy);
    expect(() => partial.getEventLoop()).toThrow(NotImplementedError);
    expect(() => partial.newEventLoop()).toThrow(/Partial does not implement newEventLoop/);
    setEventLoopPolicy(partial);
    expect(getEventLoopPolicy()).toBe(partial);
  });
});
