/**
 * Node built-ins by `require()`, not ES module import: the ES module namespace of a built-in
 * evaluates every lazy export (node:fs's `promises` alone loads ~30 internal modules: 2.9 MB
 * of RSS on Node 20, 4.1 on Node 24). node:net is loaded at once: node:tls, which
 * tls-options.ts loads at import (it says why), loads it anyway.
 */
import { createRequire } from 'node:module';

export const loadBuiltin = createRequire(import.meta.url);

export const { readFileSync, accessSync, statSync, constants: fsConstants } = loadBuiltin('node:fs') as typeof import('node:fs');
export const { syncBuiltinESMExports } = loadBuiltin('node:module') as typeof import('node:module');
export const { constants: osConstants } = loadBuiltin('node:os') as typeof import('node:os');

export const { isIP } = loadBuiltin('node:net') as typeof import('node:net');
