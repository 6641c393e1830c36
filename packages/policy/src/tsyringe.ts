/**
 * tsyringe and its reflect polyfill, loaded with require() rather than imported.
 *
 * Both are CommonJS. An ES module importing a CommonJS package makes Node scan the package's
 * source for its export names (cjs-module-lexer, in JavaScript on Node 20 and 22), and the
 * scan over reflect-metadata's 64 KB and tsyringe's 30-odd files runs long enough for V8 to
 * optimize the scanner (an on-stack replacement of its main loop): that cost every
 * `import 'loopkit'` ~3.5 MB of RSS (the compiler thread's memory) on Node 20 and 22.
 * require() needs no scan.
 */
import { createRequire } from 'node:module';
import type * as Tsyringe from 'tsyringe';

const require = createRequire(import.meta.url);
// First: tsyringe checks for the polyfill when it loads.
require('reflect-metadata');
const tsyringe = require('tsyringe') as typeof Tsyringe;

export const { container, inject, injectable } = tsyringe;
