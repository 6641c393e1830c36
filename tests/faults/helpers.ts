/** Shared pieces of the fault suite: loop subjects, recording protocols, fd counting, child processes. */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Protocol, sleep, type AbstractEventLoop, type Future, type Transport } from '@loopkit/core';
import { LOOPS } from './loops.mjs';

export { Echo, Recorder, hasProcFd, openFds, pattern, portOf, type ServerLike } from '@loopkit/conformance/support';

export const HERE = path.dirname(fileURLToPath(import.meta.url));

export interface NetLoop {
  name: string;
  make: () => AbstractEventLoop;
}

/** Every network loop class; the ones not available here are listed with the reason. */
export const NET_LOOPS: Array<{ name: string; make: (() => AbstractEventLoop) | null; reason: string | null }> = LOOPS;

/** A test title that says why a loop class is skipped. */
export function title(subject: { name: string; reason: string | null }, what: string): string {
  return subject.reason === null ? `${subject.name}: ${what}` : `${subject.name} (skipped: ${subject.reason}): ${what}`;
}

/** Run `body` as the main task of a fresh loop (exception handler reports collected), then close it. */
export async function withLoop<T>(
  make: () => AbstractEventLoop,
  body: (loop: AbstractEventLoop, reports: Array<{ message: string; exception?: unknown }>) => Promise<T>,
): Promise<T> {
  const loop = make();
  const reports: Array<{ message: string; exception?: unknown }> = [];
  loop.setExceptionHandler((_loop, context) => {
    reports.push(context as { message: string; exception?: unknown });
  });
  try {
    return await loop.runUntilComplete(() => body(loop, reports));
  } finally {
    if (!loop.isRunning()) loop.close();
  }
}

/** Sleep on the loop until `cond` holds; throw after `timeout` seconds of wall time. */
export async function waitUntil(cond: () => boolean, timeout = 10, what = String(cond)): Promise<void> {
  const end = Date.now() + timeout * 1000;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`condition not met within ${timeout}s: ${what}`);
    await sleep(0.002);
  }
}

/** The process's soft and hard RLIMIT_NOFILE, from /proc/self/limits. */
export function nofileLimits(): { soft: number; hard: number } {
  const line = fs.readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'))!;
  const [soft, hard] = line.replace('Max open files', '').trim().split(/\s+/);
  const num = (s: string | undefined): number => (s === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(s));
  return { soft: num(soft), hard: num(hard) };
}

// Linux only: under Wine, Windows' Node would see the Linux host's files through drive Z:.
export const hasPrlimit = process.platform === 'linux' && ['/usr/bin/prlimit', '/bin/prlimit'].some((p) => fs.existsSync(p));

/**
 * A child node process running one of this folder's scripts, speaking JSON lines on
 * stdout (one message per line) and taking JSON lines on stdin. `nofile` lowers or raises
 * its RLIMIT_NOFILE with prlimit. Always `kill()` it in a finally block.
 */
export class Child {
  readonly proc: ChildProcess;
  private readonly messages: unknown[] = [];
  private waiters: Array<() => void> = [];
  stderr = '';
  exitCode: number | null = null;
  private exited = false;

  constructor(script: string, args: string[], options: { nofile?: number } = {}) {
    const node = process.execPath;
    const file = path.join(HERE, script);
    const [cmd, argv] =
      options.nofile === undefined ? [node, [file, ...args]] : ['prlimit', [`--nofile=${options.nofile}:${options.nofile}`, node, file, ...args]];
    this.proc = spawn(cmd, argv, { stdio: ['pipe', 'pipe', 'pipe'], cwd: path.resolve(HERE, '../..') });
    let pending = '';
    this.proc.stdout!.setEncoding('utf8');
    this.proc.stdout!.on('data', (text: string) => {
      pending += text;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (line.trim() !== '') this.messages.push(JSON.parse(line));
      }
      this.notify();
    });
    this.proc.stderr!.setEncoding('utf8');
    this.proc.stderr!.on('data', (text: string) => {
      this.stderr += text;
    });
    this.proc.on('exit', (code) => {
      this.exitCode = code;
      this.exited = true;
      this.notify();
    });
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  send(message: unknown): void {
    this.proc.stdin!.write(`${JSON.stringify(message)}\n`);
  }

  /**
   * The next message (in arrival order), waited for through a host promise (so it works
   * from inside a running loop, whose task awaits it as a plain promise).
   */
  async next<T = Record<string, unknown>>(timeoutMs = 30_000): Promise<T> {
    const end = Date.now() + timeoutMs;
    while (this.messages.length === 0) {
      if (this.exited) throw new Error(`child exited (${this.exitCode}) before sending a message; stderr:\n${this.stderr}`);
      const left = end - Date.now();
      if (left <= 0) throw new Error(`no message from the child within ${timeoutMs} ms; stderr:\n${this.stderr}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    const message = this.messages.shift() as T & { error?: string };
    if (typeof message === 'object' && message !== null && 'error' in message && message.error) {
      throw new Error(`child failed: ${message.error}`);
    }
    return message;
  }

  /** Wait for the child to exit (killing it after `timeoutMs`). */
  async exit(timeoutMs = 10_000): Promise<number | null> {
    const end = Date.now() + timeoutMs;
    while (!this.exited && Date.now() < end) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, end - Date.now()));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    if (!this.exited) this.kill();
    return this.exitCode;
  }

  kill(): void {
    if (!this.exited) this.proc.kill('SIGKILL');
  }
}
