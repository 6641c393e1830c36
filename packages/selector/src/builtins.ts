/**
 * Node built-ins by `require()`, not ES module import: the ES module namespace of a built-in
 * evaluates every lazy export (node:fs's `promises` alone loads ~30 internal modules: 2.9 MB
 * of RSS on Node 20, 4.1 on Node 24).
 */
import { createRequire } from 'node:module';

const load = createRequire(import.meta.url);

export const { fstatSync } = load('node:fs') as typeof import('node:fs');
export const { constants: osConstants } = load('node:os') as typeof import('node:os');
