/**
 * asyncio's policy functions. The policy is kept in core's loop world, which is per thread
 * (each worker_thread has its own globalThis), so "the policy's loop for this thread" is
 * simply the policy's loop: every worker has its own policy and its own current loop.
 */
import { _getRunningLoop, _world, NotImplementedError, RuntimeError, type AbstractEventLoop } from '@loopkit/core';
import type { DependencyContainer } from 'tsyringe';
import { inject, injectable } from './tsyringe.js';
import { createRequire } from 'node:module';
import { container as rootContainer } from './container.js';
import { CONTAINER, LOOP_FACTORY, type LoopFactory } from './tokens.js';
import { describe } from './describe.js';

/** What setEventLoopPolicy accepts: an AbstractEventLoopPolicy, or any object of this shape. */
export interface EventLoopPolicy {
  /** The current loop of this thread. */
  getEventLoop(): AbstractEventLoop;
  /** Make `loop` the current loop of this thread (null: none). */
  setEventLoop(loop: AbstractEventLoop | null): void;
  /** A new loop, as this policy makes them. */
  newEventLoop(): AbstractEventLoop;
}

/** asyncio's AbstractEventLoopPolicy: a base class for policies; each method must be overridden. */
export abstract class AbstractEventLoopPolicy implements EventLoopPolicy {
  /** The current loop of this thread (subclasses implement it). */
  getEventLoop(): AbstractEventLoop {
    throw new NotImplementedError(`${this.constructor.name} does not implement getEventLoop`);
  }
  /** Set the current loop of this thread (subclasses implement it). */
  setEventLoop(_loop: AbstractEventLoop | null): void {
    throw new NotImplementedError(`${this.constructor.name} does not implement setEventLoop`);
  }
  /** A new loop (subclasses implement it). */
  newEventLoop(): AbstractEventLoop {
    throw new NotImplementedError(`${this.constructor.name} does not implement newEventLoop`);
  }
}

/**
 * Makes loops with the container's LOOP_FACTORY (by default: LOOPKIT_BACKEND, else the
 * platform's backend) and keeps this thread's current loop, created on first use.
 */
@injectable()
export class DefaultEventLoopPolicy extends AbstractEventLoopPolicy {
  private loop: AbstractEventLoop | null = null;
  private setCalled = false;

  constructor(@inject(CONTAINER) private readonly container: DependencyContainer = rootContainer) {
    super();
    if (typeof container?.resolve !== 'function') {
      throw new TypeError(`container must be a tsyringe container, got ${describe(container)}`);
    }
  }

  /** The current loop; made on first use unless setEventLoop was called (then it may be null). */
  override getEventLoop(): AbstractEventLoop {
    if (this.loop === null && !this.setCalled) this.setEventLoop(this.newEventLoop());
    if (this.loop === null) throw new RuntimeError(`There is no current event loop in thread ${threadName()}.`);
    return this.loop;
  }

  /** Make `loop` the current loop (null: none; getEventLoop then throws instead of making one). */
  override setEventLoop(loop: AbstractEventLoop | null): void {
    this.setCalled = true;
    if (loop !== null && !isEventLoop(loop)) {
      throw new TypeError(`loop must be an event loop or null, got ${describe(loop)}`);
    }
    this.loop = loop;
  }

  /** A new loop from the container's LOOP_FACTORY. */
  override newEventLoop(): AbstractEventLoop {
    return this.container.resolve<LoopFactory>(LOOP_FACTORY)();
  }
}

// The policy lives in core's loop world (one per thread), so every copy of this package and
// of core in the thread sees the same policy and the same current loop.
/** The policy of this thread (a DefaultEventLoopPolicy unless one was set). */
export function getEventLoopPolicy(): EventLoopPolicy {
  return (_world.policy ??= new DefaultEventLoopPolicy()) as EventLoopPolicy;
}

/** Install `newPolicy` for this thread; null restores a fresh default policy. */
export function setEventLoopPolicy(newPolicy: EventLoopPolicy | null): void {
  if (newPolicy !== null && !isPolicy(newPolicy)) {
    throw new TypeError(
      `policy must be an event loop policy (getEventLoop, setEventLoop, newEventLoop) or null, got ${describe(newPolicy)}`,
    );
  }
  _world.policy = newPolicy;
}

/** The running loop inside a coroutine or callback; else the policy's loop for this thread. */
export function getEventLoop(): AbstractEventLoop {
  return _getRunningLoop() ?? getEventLoopPolicy().getEventLoop();
}

/** Make `loop` the current loop of this thread, through the policy. */
export function setEventLoop(loop: AbstractEventLoop | null): void {
  getEventLoopPolicy().setEventLoop(loop);
}

/** A new loop from the policy (selector, proactor or LOOPKIT_BACKEND's choice). */
export function newEventLoop(): AbstractEventLoop {
  return getEventLoopPolicy().newEventLoop();
}

function isEventLoop(value: unknown): value is AbstractEventLoop {
  const loop = value as AbstractEventLoop;
  return typeof loop === 'object' && typeof loop.runUntilComplete === 'function' && typeof loop.callSoon === 'function';
}

function isPolicy(value: unknown): value is EventLoopPolicy {
  const p = value as EventLoopPolicy;
  return (
    typeof p === 'object' &&
    typeof p.getEventLoop === 'function' &&
    typeof p.setEventLoop === 'function' &&
    typeof p.newEventLoop === 'function'
  );
}

function threadName(): string {
  // Loaded here, not imported: most programs never need node:worker_threads (as core's node-builtins.ts).
  const { threadId } = createRequire(import.meta.url)('node:worker_threads') as typeof import('node:worker_threads');
  return threadId === 0 ? 'main' : `worker ${threadId}`;
}
