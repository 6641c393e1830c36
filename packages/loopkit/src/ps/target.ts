/**
 * Checks on a process before its inspector is woken: SIGUSR1 kills a process that does not
 * handle it, so on Linux the process must be Node and catch that signal. And which TCP ports
 * it listens on, to tell the inspector's port when it opens (read from /proc, Linux only).
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';

/** A failure to attach, said plainly; the CLI prints the message and exits 1. */
export class AttachError extends Error {
  override name = 'AttachError';
}

const SIGUSR1_BIT = 1n << 9n; // signal 10; SigCgt's bit n-1 is signal n

function errno(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | null)?.code;
}

/** Throw AttachError unless `pid` exists and may be signalled by us. */
export function checkSignallable(pid: number): void {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if (errno(error) === 'ESRCH') throw new AttachError(`no such process: ${pid}`);
    if (errno(error) === 'EPERM') {
      throw new AttachError(`permission denied: process ${pid} belongs to another user (run loopkit ps as that user or as root)`);
    }
    throw error;
  }
}

/** Throw AttachError unless `pid` is a Node process that handles SIGUSR1 (checked on Linux). */
export function checkNodeProcess(pid: number): void {
  if (process.platform !== 'linux') return;
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch (error) {
    if (errno(error) === 'ENOENT') throw new AttachError(`no such process: ${pid}`);
    throw new AttachError(`permission denied: cannot read /proc/${pid}/status (${errno(error)})`);
  }
  const comm = /^Name:\s*(.*)$/m.exec(status)?.[1] ?? '?';
  let exe: string | null = null;
  try {
    exe = readlinkSync(`/proc/${pid}/exe`);
  } catch (error) {
    if (errno(error) === 'EACCES' || errno(error) === 'EPERM') {
      throw new AttachError(`permission denied: cannot read /proc/${pid}/exe (not allowed to inspect process ${pid})`);
    }
  }
  const program = exe ?? comm;
  if (!/node/i.test(basename(program))) throw new AttachError(`not a Node process: ${pid} runs ${program}`);
  const caught = /^SigCgt:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  if (caught !== undefined && (BigInt(`0x${caught}`) & SIGUSR1_BIT) === 0n) {
    throw new AttachError(
      `process ${pid} (${program}) does not handle SIGUSR1, so it has no inspector to wake ` +
        '(started with --disable-sigusr1, or a Node built without the inspector); the signal would kill it',
    );
  }
}

function socketInodes(pid: number): Set<string> | null {
  try {
    const inodes = new Set<string>();
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m !== null) inodes.add(m[1]!);
      } catch {
        // the descriptor closed meanwhile
      }
    }
    return inodes;
  } catch {
    return null;
  }
}

interface Listener {
  port: number;
  inode: string;
}

function tcpListeners(pid: number): Listener[] {
  const listeners: Listener[] = [];
  for (const table of ['tcp', 'tcp6']) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10 || cols[3] !== '0A') continue; // 0A: LISTEN
      listeners.push({ port: parseInt(cols[1]!.split(':')[1]!, 16), inode: cols[9]! });
    }
  }
  return listeners;
}

/** The TCP ports `pid` listens on; null when that cannot be read (not Linux, or not allowed). */
export function listeningPorts(pid: number): Set<number> | null {
  if (process.platform !== 'linux') return null;
  const inodes = socketInodes(pid);
  if (inodes === null) return null;
  return new Set(tcpListeners(pid).filter((l) => inodes.has(l.inode)).map((l) => l.port));
}

/** Whether some process (per the target's network namespace) listens on `port`. */
export function portTaken(pid: number, port: number): boolean {
  return tcpListeners(pid).some((l) => l.port === port);
}

const PORT_FLAG = /^--inspect(?:-port|-brk|-wait)?=(?:.*:)?(\d+)$/;

/** The port the target's inspector opens on (its --inspect-port, else Node's 9229). */
export function intendedPort(pid: number, fallback: number): number {
  if (process.platform !== 'linux') return fallback;
  const args: string[] = [];
  try {
    args.push(...readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0'));
    const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    const nodeOptions = env.find((e) => e.startsWith('NODE_OPTIONS='));
    if (nodeOptions !== undefined) args.unshift(...nodeOptions.slice('NODE_OPTIONS='.length).split(/\s+/));
  } catch {
    return fallback;
  }
  let port = fallback;
  for (const arg of args) {
    if (arg === '--') break;
    const m = PORT_FLAG.exec(arg);
    if (m !== null) port = Number(m[1]);
  }
  return port;
}
