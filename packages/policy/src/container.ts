/**
 * The root tsyringe container with loopkit's roles registered, and child containers: a
 * child gets its own backend registry layered over its parent's, so a test or an
 * application registers or overrides backends (or SELECTOR/PROACTOR/LOOP_FACTORY) there
 * without touching the global one.
 */
import type { DependencyContainer } from 'tsyringe';
import { container as ownContainer } from './tsyringe.js';
import { _world, type AbstractEventLoop } from '@loopkit/core';
import { selectBackend, type Selection } from './choose.js';
import { BackendRegistry, type BackendInfo, type BackendOptions } from './registry.js';
import { BACKENDS, CONTAINER, LOOP_FACTORY, type BackendFactory } from './tokens.js';
import { describe } from './describe.js';

/**
 * The root container: the first copy of @loopkit/policy in this thread puts its tsyringe
 * container in core's loop world, and every later copy (another version, or a second copy
 * of tsyringe) uses that one, so all see one backend registry.
 */
export const container: DependencyContainer = (_world.container ??= ownContainer) as DependencyContainer;

// Symbol.for tokens: a second copy of this module finds the roles already registered.
if (!container.isRegistered(BACKENDS)) {
  container.registerInstance(BACKENDS, new BackendRegistry());
  container.register(CONTAINER, { useFactory: (c) => c });
  // Resolved in a child, the factory sees the child: its registry, its SELECTOR/PROACTOR.
  container.register(LOOP_FACTORY, { useFactory: (c) => () => makeLoop(c) });
}

/** A child of `parent` whose backend registry extends (and may override) the parent's. */
export function createBackendContainer(parent: DependencyContainer = container): DependencyContainer {
  checkContainer(parent, 'parent');
  const child = parent.createChildContainer();
  child.registerInstance(BACKENDS, new BackendRegistry(registryOf(parent)));
  return child;
}

/**
 * Register a backend under `name`: `factory` makes one of its loops (it receives the
 * container, to resolve SELECTOR or PROACTOR). Then LOOPKIT_BACKEND=<name> selects it, and
 * a positive `priority` makes it the automatic choice on its `platforms`.
 */
export function registerBackend(
  name: string,
  factory: BackendFactory | (() => AbstractEventLoop),
  options: BackendOptions = {},
  into: DependencyContainer = container,
): void {
  checkContainer(into, 'into');
  registryOf(into).register(name, factory, options);
}

/** Every registered backend, available here or not (and why not). */
export function availableBackends(from: DependencyContainer = container): BackendInfo[] {
  checkContainer(from, 'from');
  return registryOf(from).info();
}

/** What a new loop from `from` would get now, and why (throws as newEventLoop would). */
export function describeBackendChoice(from: DependencyContainer = container): Selection {
  checkContainer(from, 'from');
  return selectBackend(registryOf(from));
}

function makeLoop(c: DependencyContainer): AbstractEventLoop {
  const loop = selectBackend(registryOf(c)).backend.factory(c);
  if (typeof loop?.runUntilComplete !== 'function') {
    throw new TypeError(`a backend factory must return an event loop, got ${describe(loop)}`);
  }
  return loop;
}

function registryOf(c: DependencyContainer): BackendRegistry {
  return c.resolve<BackendRegistry>(BACKENDS);
}

function checkContainer(value: unknown, name: string): asserts value is DependencyContainer {
  if (typeof (value as DependencyContainer | null)?.resolve !== 'function') {
    throw new TypeError(`${name} must be a tsyringe container, got ${describe(value)}`);
  }
}
