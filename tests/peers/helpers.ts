/**
 * Shared by the real-peer tests: the loop classes to run on, free loopback ports, child
 * processes that are always killed, and line waits with deadlines.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import type { AbstractEventLoop, StreamReader, StreamWriter } from '@loopkit/core';
import { ProactorEventLoop, UringEventLoop, UringProactor } from '@loopkit/proactor';

export interface PeerLoop {
  name: string;
  /** LOOPKIT_BACKEND value that selects this loop in a child process. */
  backend: string;
  /** null when runnable, else why not. */
  missing: string | null;
  make: () => AbstractEventLoop;
}

async function selectorLoop(): Promise<PeerLoop> {
  const entry: PeerLoop = {
    name: 'SelectorEventLoop',
    backend: 'selector',
    missing: null,
    make: () => {
      throw new Error('SelectorEventLoop is not available');
    },
  };
  try {
    const mod = (await import('@loopkit/selector')) as Record<string, unknown>;
    const cls = mod.SelectorEventLoop as (new () => AbstractEventLoop) | undefined;
    if (typeof cls !== 'function') {
      entry.missing = '@loopkit/selector does not export SelectorEventLoop yet';
      return entry;
    }
    entry.make = () => new cls();
    // Make one to be sure the native binding loads on this machine.
    entry.make().close();
  } catch (error) {
    entry.missing = `@loopkit/selector failed to load: ${(error as Error).message}`;
  }
  return entry;
}

const uringProblem = UringProactor.problem();

/** Every loop the peers run against: a loop that cannot run here carries `missing`. */
export const LOOPS: PeerLoop[] = [
  { name: 'ProactorEventLoop', backend: 'proactor', missing: null, make: () => new ProactorEventLoop() },
  await selectorLoop(),
  { name: 'UringEventLoop', backend: 'uring', missing: uringProblem === null ? null : `io_uring: ${uringProblem}`, make: () => new UringEventLoop() },
];

for (const loop of LOOPS) {
  if (loop.missing !== null) console.warn(`[peers] skipping ${loop.name}: ${loop.missing}`);
}

/**
 * Run `body` as the main task of a fresh loop, closing the loop afterwards. Anything the
 * loop reports to its exception handler is collected in `reports`.
 */
export async function onLoop<T>(
  subject: PeerLoop,
  body: (loop: AbstractEventLoop, reports: Array<Record<string, unknown>>) => Promise<T>,
): Promise<T> {
  const loop = subject.make();
  const reports: Array<Record<string, unknown>> = [];
  loop.setExceptionHandler((_loop, context) => {
    reports.push(context as Record<string, unknown>);
  });
  try {
    return await loop.runUntilComplete(() => body(loop, reports));
  } finally {
    loop.close();
  }
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** null when `file` is an executable, else a sentence saying it is missing. */
export function missingBinary(file: string): string | null {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return null;
  } catch {
    return `${file} is not installed (apt-get install the peer, as .ci/run does)`;
  }
}

/** null when `/usr/bin/python3 -c code` succeeds, else why not. */
export function missingPython(code: string, what: string): string | null {
  const bin = missingBinary(PYTHON);
  if (bin !== null) return bin;
  const r = spawnSync(PYTHON, ['-c', code], { encoding: 'utf8', timeout: 10_000 });
  return r.status === 0 ? null : `${what} is not importable by ${PYTHON}: ${(r.stderr || r.error?.message || '').trim()}`;
}

export const PYTHON = '/usr/bin/python3';

/** A child process whose output is collected, killed for sure by `stop()`. */
export class Child {
  readonly proc: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private waiters: Array<() => void> = [];

  constructor(command: string, args: string[], options: SpawnOptions = {}) {
    this.proc = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], ...options });
    this.proc.stdout!.setEncoding('utf8');
    this.proc.stderr!.setEncoding('utf8');
    this.proc.stdout!.on('data', (d: string) => {
      this.stdout += d;
      this.notify();
    });
    this.proc.stderr!.on('data', (d: string) => {
      this.stderr += d;
      this.notify();
    });
    this.exited = new Promise((resolve) => {
      this.proc.once('exit', (code, signal) => {
        this.notify();
        resolve({ code, signal });
      });
      this.proc.once('error', (error) => {
        this.stderr += `spawn error: ${error.message}\n`;
        this.notify();
        resolve({ code: -1, signal: null });
      });
    });
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Wait until stdout (or stderr) matches `pattern`; throws on exit or after `seconds`. */
  async waitFor(pattern: RegExp, seconds = 10, stream: 'stdout' | 'stderr' = 'stdout'): Promise<RegExpMatchArray> {
    const deadline = Date.now() + seconds * 1000;
    for (;;) {
      const m = this[stream].match(pattern);
      if (m !== null) return m;
      if (!this.running) throw new Error(`${this.describe()} exited before printing ${pattern}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.describe()} did not print ${pattern} within ${seconds} s`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Wait for the exit, killing the process after `seconds`. */
  async wait(seconds: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), seconds * 1000);
    });
    const result = await Promise.race([this.exited, timedOut]);
    clearTimeout(timer);
    if (result === 'timeout') {
      await this.stop();
      throw new Error(`${this.describe()} did not finish within ${seconds} s`);
    }
    return result;
  }

  /** SIGTERM, then SIGKILL after a grace period; resolves once the process is gone. */
  async stop(graceSeconds = 2): Promise<void> {
    if (!this.running) return;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceSeconds * 1000);
    await this.exited;
    clearTimeout(timer);
  }

  describe(): string {
    const tail = (s: string): string => s.trim().split('\n').slice(-5).join(' | ');
    return `${this.proc.spawnargs.join(' ')} (stdout: ${tail(this.stdout) || '-'}; stderr: ${tail(this.stderr) || '-'})`;
  }
}

/** Reject with a clear message when `promise` takes longer than `seconds`. */
export async function within<T>(seconds: number, what: string, promise: PromiseLike<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${seconds} s`)), seconds * 1000);
  });
  try {
    return await Promise.race([promise, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/** What a hashing echo handler saw on one connection. */
export interface EchoRecord {
  bytes: number;
  sha256: string;
}

/**
 * A streams handler that echoes every chunk back (with drain) until EOF, then records how
 * many bytes it saw and their SHA-256 in `received`, and closes.
 */
export function hashingEcho(received: EchoRecord[]): (reader: StreamReader, writer: StreamWriter) => Promise<void> {
  return async (reader, writer) => {
    const hash = createHash('sha256');
    let bytes = 0;
    for (;;) {
      const chunk = await reader.read(1 << 16);
      if (chunk.length === 0) break;
      hash.update(chunk);
      bytes += chunk.length;
      writer.write(chunk);
      await writer.drain();
    }
    received.push({ bytes, sha256: hash.digest('hex') });
    writer.close();
    await writer.waitClosed();
  };
}
