/** `loopkit info`: what this machine gets and why. */
import { createRequire } from 'node:module';
import { _world } from '@loopkit/core';
import { isAvailable, loadError } from '@loopkit/uv';
import { availableBackends, describeBackendChoice } from '@loopkit/policy';
import { nodeFeatures } from './features.js';

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

/** How the running task is followed across awaits (core's task-slot.ts), and why not the slot. */
function taskTracking(): string {
  const tracking = _world.taskTracking;
  if (tracking === undefined) return 'AsyncLocalStorage (the loop world was made by an older @loopkit/core)';
  return tracking.reason === null ? `${tracking.mechanism}` : `${tracking.mechanism} (${tracking.reason})`;
}

export function info(): void {
  const features = nodeFeatures();
  const rows: Array<[string, string]> = [
    ['loopkit', version],
    ['platform', `${process.platform} ${process.arch}`],
    ['node', process.version],
    ['async context', features.asyncContextFrame ? 'AsyncContextFrame' : 'async_hooks'],
    ['task tracking', taskTracking()],
    ['WebSocket', features.globalWebSocket ? 'global' : 'none'],
    ['native addon', isAvailable() ? 'loaded (@loopkit/uv)' : `missing: ${loadError() ?? 'unknown reason'}`],
    ['LOOPKIT_BACKEND', process.env.LOOPKIT_BACKEND || '(unset)'],
  ];
  try {
    const choice = describeBackendChoice();
    rows.push(['chosen backend', `${choice.name} (${choice.backend.loopClass?.name ?? 'custom loop'}): ${choice.reason}`]);
  } catch (error) {
    rows.push(['chosen backend', `none: ${(error as Error).message}`]);
  }
  for (const [key, value] of rows) console.log(`${key.padEnd(16)}${value}`);
  console.log('backends');
  for (const b of availableBackends()) {
    const status = b.available ? 'available' : `unavailable: ${b.reason}`;
    console.log(`  ${b.name.padEnd(14)}${(b.loopClass?.name ?? '').padEnd(20)}${status}`);
  }
}
