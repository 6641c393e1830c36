/**
 * The roles a container fills, one token each. Symbols from Symbol.for, so two copies of
 * this package (say, a bundled one and a linked one) still share the registrations.
 */
import type { AbstractEventLoop } from '@loopkit/core';
import type { Proactor } from '@loopkit/proactor';
import type { BaseSelector } from '@loopkit/selector';
import type { DependencyContainer, InjectionToken } from 'tsyringe';
import type { BackendRegistry } from './registry.js';

/** Makes a loop: what the policy's newEventLoop() calls. The default one picks a backend. */
export type LoopFactory = () => AbstractEventLoop;
/** Makes a backend's loop; it gets the container that asked, to resolve SELECTOR/PROACTOR. */
export type BackendFactory = (container: DependencyContainer) => AbstractEventLoop;

/** `() => loop`: how the policy's newEventLoop makes a loop (default: LOOPKIT_BACKEND, else the platform's backend). */
export const LOOP_FACTORY: InjectionToken<LoopFactory> = Symbol.for('loopkit.loopFactory');
/** `() => selector`: the selector each SelectorEventLoop made by the 'selector' backend uses. */
export const SELECTOR: InjectionToken<() => BaseSelector> = Symbol.for('loopkit.selector');
/** `() => proactor`: the proactor each ProactorEventLoop made by the 'proactor' backend uses. */
export const PROACTOR: InjectionToken<() => Proactor> = Symbol.for('loopkit.proactor');
/** The BackendRegistry of a container (a child's registry falls back to its parent's). */
export const BACKENDS: InjectionToken<BackendRegistry> = Symbol.for('loopkit.backends');
/** The container itself, so classes built by a child container see that child. */
export const CONTAINER: InjectionToken<DependencyContainer> = Symbol.for('loopkit.container');
