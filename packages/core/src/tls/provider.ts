/** The process's TLS engine: registered by a package that has one (core has none of its own). */
import type { TLSProvider } from './engine.js';
import { world } from '../world.js';

/** Make `p` the engine every loop uses for TLS (unless a loop overrides `_tlsProvider()`). First one wins unless `replace`. */
export function registerTLSProvider(p: TLSProvider, { replace = false }: { replace?: boolean } = {}): void {
  if (p === null || typeof p !== 'object' || typeof p.createContext !== 'function') {
    throw new TypeError('registerTLSProvider(provider): provider must have createContext(options, serverSide)');
  }
  // In the thread's loop world (world.ts): every copy of core sees the one registered.
  if (world.tlsProvider === null || replace) world.tlsProvider = p;
}

/** The registered engine, or null when no package registered one (TLS then fails with a clear error). */
export function getTLSProvider(): TLSProvider | null {
  return world.tlsProvider;
}
