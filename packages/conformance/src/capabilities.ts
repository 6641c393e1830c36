/**
 * What a loop can do, found by asking one loop made for the purpose (then closed), as
 * asyncio's test mixin skips by what a loop class supports. Each absent capability keeps
 * the reason it is absent, and a skipped test quotes it:
 * "skipped: the loop has no readiness (addReader raised NotImplementedError)".
 *
 * Detection is synchronous, because test registration is: a call that can fail at once
 * (addReader, addSignalHandler, _tlsProvider) is made; for the I/O methods that are async
 * (createServer, ...), "absent" means the loop still has core's default, which rejects
 * with NotImplementedError.
 */
import { AbstractEventLoop, BaseEventLoop, NotImplementedError } from '@loopkit/core';
import { uv } from './support/uv.js';

export const CAPABILITIES = [
  'virtualTime',
  'readiness',
  'completions',
  'network',
  'unixSockets',
  'udp',
  'signals',
  'subprocesses',
  'tls',
  'threads',
] as const;

/**
 * - virtualTime: time() is virtual and timers fire instantly and exactly (TestLoop's `advance`)
 * - readiness: addReader/addWriter work (a selector loop)
 * - completions: I/O completes through a proactor (`_proactor`, asyncio's proactor loops)
 * - network: TCP (createServer, createConnection, sock*, getaddrinfo)
 * - unixSockets: createUnixServer / createUnixConnection
 * - udp: createDatagramEndpoint
 * - signals: addSignalHandler
 * - subprocesses: subprocessExec and pipes (BaseEventLoop has a node:child_process default)
 * - tls: a TLS engine (`_tlsProvider()`, by default the registered provider)
 * - threads: runInExecutor on worker threads
 */
export type Capability = (typeof CAPABILITIES)[number];
export type Capabilities = Record<Capability, boolean>;

/** The capabilities found, and for each absent one why it is absent. */
export interface Detected {
  caps: Capabilities;
  why: Partial<Record<Capability, string>>;
}

type Loop = AbstractEventLoop & Record<string, unknown>;

/** The I/O methods BaseEventLoop leaves to backends: its versions only raise NotImplementedError. */
const BACKEND_METHODS = new Set(['createConnection', 'createServer', 'createUnixConnection', 'createUnixServer', 'createDatagramEndpoint', 'addReader']);

/** null when `loop[method]` is implemented; else why not (it is core's NotImplementedError default). */
function overridden(loop: Loop, method: string): string | null {
  const own = loop[method];
  if (typeof own !== 'function') return `${method} is missing`;
  const defaults = [(AbstractEventLoop.prototype as unknown as Loop)[method]];
  if (BACKEND_METHODS.has(method)) defaults.push((BaseEventLoop.prototype as unknown as Loop)[method]);
  return defaults.includes(own) ? `${method} is core's default, which raises NotImplementedError` : null;
}

/** What a call that should work raised, in a skip reason's words. */
function raised(method: string, error: unknown): string {
  const name = error instanceof NotImplementedError ? 'NotImplementedError' : error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return `${method} raised ${name}`;
}

/** A pollable fd for the readiness probe: a socket pair from @loopkit/uv, when it loaded. */
function pollableFd(): { fd: number; close(): void } | null {
  if (uv !== null && uv.isAvailable()) {
    const [a, b] = uv.socketpair();
    return { fd: a.fileno(), close: () => (a.close(), b.close()) };
  }
  return null;
}

function probeReadiness(loop: Loop): string | null {
  const probe = pollableFd();
  // Without a pollable fd here, ask the method itself: core's default always raises.
  if (probe === null) return overridden(loop, 'addReader');
  try {
    (loop.addReader as (fd: number, cb: () => void) => void)(probe.fd, () => {});
    (loop.removeReader as (fd: number) => boolean)(probe.fd);
    return null;
  } catch (error) {
    return raised('addReader', error);
  } finally {
    probe.close();
  }
}

function probeSignals(loop: Loop): string | null {
  if (process.platform === 'win32') return 'Windows has no POSIX signals to handle';
  try {
    // SIGWINCH: harmless to listen for, and nobody sends it during the probe.
    (loop.addSignalHandler as (sig: string, cb: () => void) => void)('SIGWINCH', () => {});
    (loop.removeSignalHandler as (sig: string) => boolean)('SIGWINCH');
    return null;
  } catch (error) {
    return raised('addSignalHandler', error);
  }
}

function probeTls(loop: Loop): string | null {
  const provider = typeof loop._tlsProvider === 'function' ? (loop._tlsProvider as () => unknown)() : null;
  return provider === null || provider === undefined ? 'no TLS provider is registered (_tlsProvider() gave null: @loopkit/uv has no TLS engine here)' : null;
}

export function detectCapabilities(make: () => AbstractEventLoop): Detected {
  const loop = make() as Loop;
  try {
    const absent: Record<Capability, string | null> = {
      virtualTime: typeof loop.advance === 'function' ? null : 'time() is real (no advance(): it is not a TestLoop-like virtual clock)',
      readiness: probeReadiness(loop),
      completions:
        typeof (loop._proactor as { select?: unknown } | undefined)?.select === 'function' ? null : 'no _proactor (completions are how a proactor loop does I/O)',
      network: overridden(loop, 'createServer') ?? overridden(loop, 'createConnection'),
      unixSockets: overridden(loop, 'createUnixServer') ?? overridden(loop, 'createUnixConnection'),
      udp: overridden(loop, 'createDatagramEndpoint'),
      signals: probeSignals(loop),
      subprocesses: overridden(loop, 'subprocessExec'),
      tls: probeTls(loop),
      threads: overridden(loop, 'runInExecutor'),
    };
    const caps = Object.fromEntries(CAPABILITIES.map((c) => [c, absent[c] === null])) as Capabilities;
    const why = Object.fromEntries(CAPABILITIES.filter((c) => absent[c] !== null).map((c) => [c, absent[c]!]));
    return { caps, why };
  } finally {
    loop.close();
  }
}
