/**
 * Source that installs the loop world as a copy of core older than task tracking and the
 * AgedSet made it (layout v1: an AsyncLocalStorage as taskContext, no taskTracking, a plain
 * Set of aged records). A child program runs it before importing this core.
 */
export const OLDER_WORLD_SOURCE = `
import { AsyncLocalStorage } from 'node:async_hooks';
Object.defineProperty(globalThis, Symbol.for('loopkit.world.v1'), { value: {
  createdBy: 'file:///older/core/dist/world.js', copies: ['file:///older/core/dist/world.js'],
  runningLoop: null, currentLoopResolver: null, defaultLoopFactory: null, currentLoopSetter: null,
  taskContext: new AsyncLocalStorage(),
  resumeSignal: { pending: false, task: null, waitingFor: null, goOn: null, lastEnded: null },
  taskCounter: 0, youngTasks: [], agedTasks: new Set(), finalizer: null, tlsProvider: null, policy: null, container: null,
} });
`;
