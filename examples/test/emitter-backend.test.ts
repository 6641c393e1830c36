/**
 * The custom backend of examples/src/emitter-backend.ts runs the conformance kit, as a
 * backend in another repository would (packages/policy/README.md, "Write your own backend").
 * The kit finds what the loop can do (timers, tasks, transports in memory, subprocesses on
 * the node:child_process default) and skips the rest, saying why (no network: the emitter
 * loop does no socket I/O).
 */
import { describe, test } from 'vitest';
import { runConformance } from '@loopkit/conformance';
import { EmitterLoop } from '../src/emitter-backend.js';

runConformance(() => new EmitterLoop(), { test: { describe, test } });
