/**
 * Read the tasks of a running Node process that uses loopkit, with no change to it:
 * wake its inspector (SIGUSR1, through `process._debugProcess`), find the port it opened,
 * talk to it on 127.0.0.1 only, evaluate one expression there (and in each worker thread,
 * through the inspector's NodeWorker domain), then close the inspector again.
 */
import type { ThreadSnapshot } from '@loopkit/core';
import { CdpClient, WorkerSession } from './cdp.js';
import { closeExpression } from './close-inspector.js';
import { AttachError, checkNodeProcess, checkSignallable, intendedPort, listeningPorts, portTaken } from './target.js';

export { AttachError };

const DEFAULT_INSPECTOR_PORT = 9229;

/**
 * Evaluated in each thread of the target: the introspection registry core puts on
 * globalThis (introspection.ts), as JSON; null where loopkit is not loaded.
 */
const SNAPSHOT_EXPRESSION = `(() => {
  const registry = globalThis[Symbol.for('loopkit.introspection.v1')];
  return registry === undefined ? null : JSON.stringify(registry.snapshot());
})()`;

export interface AttachOptions {
  /** how long to wait for the inspector to open and for each answer (ms; default 5000) */
  timeoutMs?: number;
}

export interface AttachResult {
  threads: ThreadSnapshot[];
  /** the inspector was open before we came, so it was left open */
  inspectorWasOpen: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface InspectorTarget {
  type: string;
  webSocketDebuggerUrl?: string;
}

/** The inspector's targets on 127.0.0.1:port, or null when nothing answers as an inspector. */
async function inspectorTargets(port: number, timeoutMs: number): Promise<InspectorTarget[] | null> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/json/list`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) return null;
    const list = (await response.json()) as unknown;
    return Array.isArray(list) && list.every((t) => typeof t === 'object' && t !== null && 'type' in t) ? list : null;
  } catch {
    return null;
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new AttachError(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** Wake the inspector of `pid` and tell its port; `open` false when it was open already. */
async function openInspector(pid: number, timeoutMs: number): Promise<{ port: number; opened: boolean }> {
  const before = listeningPorts(pid);
  if (before?.has(DEFAULT_INSPECTOR_PORT) && (await inspectorTargets(DEFAULT_INSPECTOR_PORT, 1000)) !== null) {
    return { port: DEFAULT_INSPECTOR_PORT, opened: false };
  }
  try {
    (process as unknown as { _debugProcess(pid: number): void })._debugProcess(pid);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EPERM') throw new AttachError(`permission denied: cannot signal process ${pid}`);
    if (code === 'ESRCH') throw new AttachError(`no such process: ${pid}`);
    throw new AttachError(`cannot wake the inspector of process ${pid}: ${(error as Error).message}`);
  }
  if (before === null) {
    // No /proc to read (not Linux, or not ours to read): Node's default port. The snapshot's
    // pid is checked later, so another process's inspector there is not taken for this one.
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if ((await inspectorTargets(DEFAULT_INSPECTOR_PORT, 500)) !== null) return { port: DEFAULT_INSPECTOR_PORT, opened: true };
      await sleep(50);
    }
    throw new AttachError(`process ${pid} did not open its inspector on 127.0.0.1:${DEFAULT_INSPECTOR_PORT} within ${timeoutMs} ms`);
  }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const now = listeningPorts(pid);
    for (const port of now ?? []) if (!before.has(port)) return { port, opened: true };
    await sleep(25);
  }
  // Nothing new: an inspector open before on another port (--inspect=PORT), or no port at all.
  for (const port of before) {
    if ((await inspectorTargets(port, 500)) !== null) return { port, opened: false };
  }
  const wanted = intendedPort(pid, DEFAULT_INSPECTOR_PORT);
  if (wanted !== 0 && portTaken(pid, wanted)) {
    throw new AttachError(
      `inspector port busy: process ${pid} could not open its inspector on port ${wanted}, ` +
        'which another process holds (stop that one, or start the target with --inspect-port=<a free port, or 0>)',
    );
  }
  throw new AttachError(`process ${pid} did not open its inspector within ${timeoutMs} ms`);
}

function parseSnapshot(result: any, where: string): ThreadSnapshot | null {
  if (result?.exceptionDetails !== undefined) {
    const text = result.exceptionDetails.exception?.description ?? result.exceptionDetails.text;
    throw new AttachError(`reading the tasks of ${where} failed: ${text}`);
  }
  const value = result?.result?.value;
  return typeof value === 'string' ? (JSON.parse(value) as ThreadSnapshot) : null;
}

const evaluate = (session: { send(method: string, params: object): Promise<any> }, expression: string): Promise<any> =>
  session.send('Runtime.evaluate', { expression, returnByValue: true, silent: true });

/** The snapshots of every thread of `pid` where loopkit is loaded, main thread first. */
async function readThreads(client: CdpClient, pid: number, timeoutMs: number): Promise<ThreadSnapshot[]> {
  const main = parseSnapshot(await withTimeout(evaluate(client, SNAPSHOT_EXPRESSION), timeoutMs, 'the main thread'), 'the main thread');
  if (main !== null && main.pid !== pid) {
    throw new AttachError(`the inspector found answers for process ${main.pid}, not ${pid}: the port is another process's`);
  }
  const sessions: string[] = [];
  const stop = client.onEvent((event) => {
    if (event.method === 'NodeWorker.attachedToWorker') sessions.push(event.params.sessionId as string);
  });
  // Attaching reports every worker alive now; a short pause lets the last reports in.
  await withTimeout(client.send('NodeWorker.enable', { waitForDebuggerOnStart: false }), timeoutMs, 'NodeWorker.enable');
  await sleep(100);
  stop();
  const threads: ThreadSnapshot[] = main === null ? [] : [main];
  try {
    for (const sessionId of sessions) {
      const worker = new WorkerSession(client, sessionId);
      const where = `worker session ${sessionId}`;
      try {
        const snapshot = parseSnapshot(await withTimeout(evaluate(worker, SNAPSHOT_EXPRESSION), timeoutMs, where), where);
        if (snapshot !== null) threads.push(snapshot);
      } catch (error) {
        // A worker that exited meanwhile has nothing left to show.
        if (!(error instanceof AttachError) || !/no answer/.test(error.message)) throw error;
      }
    }
  } finally {
    for (const sessionId of sessions) await client.send('NodeWorker.detach', { sessionId }).catch(() => undefined);
    await client.send('NodeWorker.disable').catch(() => undefined);
  }
  return threads;
}

/** Wait until `port` is closed in `pid` (true), or give up after `ms` (false). */
async function portClosed(pid: number, port: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ports = listeningPorts(pid);
    if (ports === null || !ports.has(port)) return true;
    if (Date.now() >= deadline) return false;
    await sleep(25);
  }
}

/** Every thread's tasks in process `pid`; AttachError names what went wrong. */
export async function attach(pid: number, options: AttachOptions = {}): Promise<AttachResult> {
  const timeoutMs = options.timeoutMs ?? 5000;
  if (!Number.isInteger(pid) || pid <= 0) throw new AttachError(`not a process id: ${pid}`);
  if (pid === process.pid) throw new AttachError(`process ${pid} is this loopkit command itself`);
  checkSignallable(pid);
  checkNodeProcess(pid);
  const { port, opened } = await openInspector(pid, timeoutMs);
  let client: CdpClient | null = null;
  try {
    const targets = await inspectorTargets(port, timeoutMs);
    const target = targets?.find((t) => t.type === 'node' && t.webSocketDebuggerUrl);
    if (target === undefined) throw new AttachError(`the inspector of process ${pid} on 127.0.0.1:${port} lists no Node target`);
    // Always 127.0.0.1, whatever host the inspector reports (it may be bound to 0.0.0.0).
    const url = new URL(target.webSocketDebuggerUrl!);
    url.hostname = '127.0.0.1';
    client = await CdpClient.connect(url.href, timeoutMs);
    const threads = await readThreads(client, pid, timeoutMs);
    if (threads.length === 0) {
      throw new AttachError(`no loopkit loaded in process ${pid}: no thread of it has loaded @loopkit/core (or one from before introspection)`);
    }
    return { threads, inspectorWasOpen: !opened };
  } finally {
    if (opened) {
      if (client !== null) await withTimeout(evaluate(client, closeExpression(port)), timeoutMs, 'closing the inspector').catch(() => undefined);
      client?.close();
      if (!(await portClosed(pid, port, timeoutMs))) {
        process.stderr.write(`loopkit: warning: the inspector of process ${pid} still listens on 127.0.0.1:${port}\n`);
      }
    } else {
      client?.close();
    }
  }
}
