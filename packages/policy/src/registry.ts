/**
 * The backend registry: name -> how to make that backend's loop, where it runs, and whether
 * it can run here. Each container holds one; a child container's registry overrides and
 * extends its parent's without changing it.
 */
import { checkOptions, type AbstractEventLoop } from '@loopkit/core';
import type { BackendFactory } from './tokens.js';
import { describe } from './describe.js';

/** Options of registerBackend. */
export interface BackendOptions {
  /** Platforms (process.platform values) the backend runs on; default: all. */
  platforms?: readonly string[];
  /** Above 0, the backend becomes the automatic choice on its platforms (highest wins). */
  priority?: number;
  /** The class of the loops it makes, shown by availableBackends() and `loopkit info`. */
  loopClass?: abstract new (...args: any[]) => AbstractEventLoop;
  /** Whether it can run in this process: null if so, else why not. Called on each query. */
  probe?: () => string | null;
  /** Allow replacing a backend already registered under this name (a built-in included). */
  replace?: boolean;
}

/** A registered backend: its name, factory, platforms, priority, loop class and probe. */
export interface Backend {
  readonly name: string;
  readonly factory: BackendFactory;
  readonly platforms: readonly string[] | null;
  readonly priority: number;
  readonly loopClass: BackendOptions['loopClass'] | null;
  /** Whether it can run in this process: null if so, else why not. */
  readonly probe: (() => string | null) | null;
}

/** A backend as availableBackends() reports it: whether it can run here, and why not. */
export interface BackendInfo {
  name: string;
  available: boolean;
  /** Why the backend cannot run here (set only when it is unavailable). */
  reason?: string;
  loopClass?: BackendOptions['loopClass'];
  priority: number;
}

const NAME = /^[A-Za-z0-9][\w.-]*$/;

/** Backends by name; a child container's registry overrides and extends its parent's. */
export class BackendRegistry {
  private readonly own = new Map<string, Backend>();

  constructor(readonly parent: BackendRegistry | null = null) {}

  /** Register a backend (see registerBackend); an Error if the name is taken, unless `replace`. */
  register(name: string, factory: BackendFactory, options: BackendOptions = {}): Backend {
    if (typeof name !== 'string' || !NAME.test(name)) {
      throw new TypeError(`name must be a backend name like "my-loop" (letters, digits, _ . -), got ${describe(name)}`);
    }
    if (typeof factory !== 'function') throw new TypeError(`factory must be a function returning a loop, got ${describe(factory)}`);
    const { platforms, priority = 0, loopClass, probe, replace = false } = checkOptions(
      options,
      ['platforms', 'priority', 'loopClass', 'probe', 'replace'],
      'registerBackend',
    );
    if (!replace && this.get(name) !== undefined) {
      throw new Error(`a backend named "${name}" is already registered; pass {replace: true} to replace it`);
    }
    if (platforms !== undefined && (!Array.isArray(platforms) || platforms.some((p) => typeof p !== 'string'))) {
      throw new TypeError(`platforms must be an array of platform names like 'linux', got ${describe(platforms)}`);
    }
    if (typeof priority !== 'number' || !Number.isFinite(priority)) {
      throw new TypeError(`priority must be a finite number, got ${describe(priority)}`);
    }
    if (loopClass !== undefined && typeof loopClass !== 'function') {
      throw new TypeError(`loopClass must be a class, got ${describe(loopClass)}`);
    }
    if (probe !== undefined && typeof probe !== 'function') throw new TypeError(`probe must be a function, got ${describe(probe)}`);
    const backend: Backend = {
      name,
      factory,
      platforms: platforms === undefined ? null : [...platforms],
      priority,
      loopClass: loopClass ?? null,
      probe: probe ?? null,
    };
    this.own.set(name, backend);
    return backend;
  }

  /** The backend registered under `name` here, else in a parent registry. */
  get(name: string): Backend | undefined {
    return this.own.get(name) ?? this.parent?.get(name);
  }

  /** Every backend, parents' first (in registration order), overridden ones replaced. */
  all(): Backend[] {
    const merged = new Map<string, Backend>();
    for (const backend of this.parent?.all() ?? []) merged.set(backend.name, backend);
    for (const backend of this.own.values()) merged.set(backend.name, backend);
    return [...merged.values()];
  }

  /** Each backend with whether it can run on this platform, in this process. */
  info(platform: string = process.platform): BackendInfo[] {
    return this.all().map((backend) => {
      const info: BackendInfo = { name: backend.name, available: true, priority: backend.priority };
      if (backend.loopClass !== null) info.loopClass = backend.loopClass;
      const reason = unavailableReason(backend, platform);
      if (reason !== null) {
        info.available = false;
        info.reason = reason;
      }
      return info;
    });
  }
}

function unavailableReason(backend: Backend, platform: string): string | null {
  if (backend.platforms !== null && !backend.platforms.includes(platform)) {
    return `runs on ${backend.platforms.join(', ')}, not ${platform}`;
  }
  if (backend.probe === null) return null;
  try {
    return backend.probe();
  } catch (error) {
    return `probe failed: ${error instanceof Error ? error.message : String(error)}`;
  }
}
