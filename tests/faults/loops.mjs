/**
 * The network loop classes the fault suite runs on, for the test files and for the child
 * processes they start (plain JS so `node` runs it without a build step). The selector
 * loop needs the @loopkit/uv addon.
 */
import { ProactorEventLoop } from '@loopkit/proactor';
import { SelectorEventLoop } from '@loopkit/selector';
import { isAvailable } from '@loopkit/uv';

/** @type {Array<{name: string, make: (() => any) | null, reason: string | null}>} */
export const LOOPS = [
  { name: 'ProactorEventLoop', make: () => new ProactorEventLoop(), reason: null },
  {
    name: 'SelectorEventLoop',
    make: isAvailable() ? () => new SelectorEventLoop() : null,
    reason: isAvailable() ? null : 'the @loopkit/uv addon did not load',
  },
];

/** The factory for a loop class by name; throws when it is not available here. */
export function loopFactory(name) {
  const entry = LOOPS.find((l) => l.name === name);
  if (entry === undefined) throw new Error(`unknown loop class ${name}`);
  if (entry.make === null) throw new Error(`${name} is not available: ${entry.reason}`);
  return entry.make;
}
