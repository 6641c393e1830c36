/**
 * Node built-ins by `require()`, not ES module import (the ES module namespace of a built-in
 * evaluates every lazy export: node:fs's `promises` alone loads ~30 internal modules). node:net
 * and node:dgram wait for the first NetProactor operation that needs them: a program on the
 * selector loop never loads them for this package (node:net: 2.0 MB of RSS on Node 20, 2.9
 * on Node 24; node:dgram ~0.3).
 */
import { createRequire } from 'node:module';

const load = createRequire(import.meta.url);

export const fs = load('node:fs') as typeof import('node:fs');

let netModule: typeof import('node:net') | null = null;

export function net(): typeof import('node:net') {
  return (netModule ??= load('node:net') as typeof import('node:net'));
}

export const dgram = (): typeof import('node:dgram') => load('node:dgram');
