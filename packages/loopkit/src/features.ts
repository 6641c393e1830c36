/**
 * What differs between the supported Node lines (20, 22, 24), detected from the running
 * Node itself and never inferred from `process.version`: a flag can turn a default off, and
 * a backport can bring a feature to an older line.
 */

/** The Node features `loopkit info` reports. Nothing in loopkit depends on them. */
export interface NodeFeatures {
  /**
   * Whether AsyncLocalStorage runs on AsyncContextFrame (the default from Node 24 on;
   * `--experimental-async-context-frame` on 22) rather than on async_hooks. Task tracking
   * (currentTask across awaits) works on both: the conformance suite runs on each line.
   */
  asyncContextFrame: boolean;
  /** Whether a global WebSocket client exists (Node 22 on; `--experimental-websocket` on 20). */
  globalWebSocket: boolean;
}

export function nodeFeatures(): NodeFeatures {
  return { asyncContextFrame: asyncContextFrame(), globalWebSocket: typeof (globalThis as { WebSocket?: unknown }).WebSocket === 'function' };
}

function asyncContextFrame(): boolean {
  // The runtime's own flags say whether the feature exists and which way it defaults:
  // a Node that offers --no-async-context-frame has it on unless told otherwise.
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  const known = process.allowedNodeEnvironmentFlags;
  if (known.has('--no-async-context-frame')) return !given.includes('--no-async-context-frame');
  if (known.has('--experimental-async-context-frame')) return given.includes('--experimental-async-context-frame');
  return false;
}
