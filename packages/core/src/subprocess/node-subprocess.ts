/**
 * The default subprocess transport: node:child_process under core's BaseSubprocessTransport.
 * Every loop built on BaseEventLoop gets it unless its backend starts children itself (the
 * selector does, natively); the proactor uses it as it is. libuv starts and reaps the child
 * (its own SIGCHLD handler, by pid), and its stdio sockets become NodePipeTransports.
 *
 * One difference from a native backend: Node cannot point a child's stderr at the pipe it
 * makes for its stdout, so `stderr: STDOUT` with `stdout: PIPE` makes two pipes and feeds
 * both into the stdout transport, in the order they are read (the order of bytes within
 * each stream is kept; the interleaving of the two is as the reads saw it).
 */
import type { ChildProcess, StdioOptions } from 'node:child_process';
import type { Duplex, Readable } from 'node:stream';
import type { AbstractEventLoop } from '../events.js';
import type { Future } from '../futures.js';
import type { BaseProtocol } from '../protocols.js';
import type { Transport } from '../transports.js';
import { childProcess, os, stream } from '../node-builtins.js';
import { BaseSubprocessTransport } from './base-subprocess.js';
import { HeldStream, NodePipeTransport } from './node-pipe.js';
import type { SubprocessProtocol } from './protocols.js';
import type { StdioSpec, SubprocessSpec } from './spec.js';

const SIGKILL = os.constants.signals.SIGKILL;

/** The status asyncio reports: the exit code, or minus the number of the signal that killed it. */
export function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return -(os.constants.signals[signal!] ?? 0);
}

/** Both streams as one, ending when both ended; the sources pause while it is full. */
function merge(a: Readable, b: Readable): Duplex {
  const out = new (stream().PassThrough)();
  let open = 2;
  for (const source of [a, b]) {
    source.on('data', (data: Buffer) => {
      if (!out.write(data)) {
        source.pause();
        out.once('drain', () => source.resume());
      }
    });
    source.on('end', () => {
      if (--open === 0) out.end();
    });
    source.on('error', (err) => out.destroy(err));
  }
  out.on('close', () => {
    a.destroy();
    b.destroy();
  });
  return out;
}

export class NodeSubprocessTransport extends BaseSubprocessTransport {
  // Set by _start, which runs inside the base constructor: `declare`d, so no field
  // initializer runs after it and wipes them.
  declare private child: ChildProcess;
  declare private mergeStderr: boolean;
  /** Resolves once the child runs; rejects with the spawn error (ENOENT, EACCES, ...). */
  declare private started: Promise<void>;
  /** The output of fd 1 and 2, held from spawn until their transports exist. */
  declare private held: Map<number, HeldStream>;

  constructor(loop: AbstractEventLoop, protocol: SubprocessProtocol, spec: SubprocessSpec, waiter: Future<void> | null) {
    super(loop, protocol, spec, waiter);
  }

  /** Spawn the child with node:child_process and hold its stdout/stderr until their transports exist; a failed spawn is reported later, by _beforePipes. */
  protected _start(spec: SubprocessSpec): void {
    const [stdin, stdout, stderr] = spec.stdio;
    const node = (s: StdioSpec): 'pipe' | 'ignore' | 'inherit' | number =>
      s === 'pipe' ? 'pipe' : s === 'devnull' ? 'ignore' : s === 'inherit' ? 'inherit' : (s as number);
    let err: 'pipe' | 'ignore' | 'inherit' | number;
    this.mergeStderr = false;
    if (stderr === 'stdout') {
      // fd 1 of ours when stdout is inherited; see the module comment for a piped stdout
      err = stdout === 'inherit' ? 1 : node(stdout);
      this.mergeStderr = stdout === 'pipe';
    } else {
      err = node(stderr);
    }
    const stdio: StdioOptions = [node(stdin), node(stdout), err];
    const child = childProcess().spawn(spec.file, spec.argv.slice(1), {
      argv0: spec.argv[0],
      cwd: spec.cwd ?? undefined,
      env: spec.envObject ?? process.env,
      stdio,
      windowsVerbatimArguments: spec.verbatim,
    });
    this.child = child;
    this.started = new Promise<void>((resolve, reject) => {
      if (child.pid !== undefined) resolve();
      // A failed spawn is reported as 'error' on the next tick, with code ENOENT, EACCES, ...
      child.once('error', reject);
    });
    // Later 'error' events (a failed kill) must not be unhandled: kill() reports its own.
    this.started.catch(() => {});
    if (child.pid !== undefined) this._pid = child.pid;
    this.held = new Map();
    if (child.stdout) this.held.set(1, new HeldStream(this.mergeStderr ? merge(child.stdout, child.stderr!) : (child.stdout as Duplex)));
    if (child.stderr && !this.mergeStderr) this.held.set(2, new HeldStream(child.stderr as Duplex));
    child.on('exit', (code, signal) => this._processExited(exitStatus(code, signal)));
  }

  /** A NodePipeTransport over the child's stdio stream `fd` (0: write, 1/2: read), once its connectionMade ran. */
  protected async _connectPipe(fd: number, protocol: BaseProtocol): Promise<Transport> {
    const source = fd === 0 ? (this.child.stdin as Duplex) : this.held.get(fd)!;
    const waiter = this._loop.createFuture<void>();
    const transport = new NodePipeTransport(this._loop, source, protocol, waiter, fd === 0 ? 'write' : 'read');
    await waiter;
    return transport;
  }

  /** Connecting pipes also waits for the spawn, so a failed one rejects even with no pipe. */
  protected override async _beforePipes(): Promise<void> {
    await this.started;
    this._pid = this.child.pid!;
    this._extra.subprocess = this._pid;
  }

  /** The child's handle and its stdio sockets keep Node alive only while the loop runs. */
  override _keepAlive(on: boolean): void {
    const child = this.child;
    if (child.pid === undefined) return;
    if (on) child.ref();
    else child.unref();
    for (const stream of [child.stdin, child.stdout, child.stderr] as Array<{ ref?(): void; unref?(): void } | null>) {
      if (on) stream?.ref?.();
      else stream?.unref?.();
    }
  }

  /** process.kill() the child; ESRCH (reaped, its 'exit' event still queued) is ignored. */
  protected _signal(sig: string | number): void {
    if (this.child.pid === undefined) return;
    try {
      process.kill(this.child.pid, sig);
    } catch (error) {
      // libuv reaped it and its 'exit' event is still queued: the exit is on the way
      if ((error as { code?: string }).code !== 'ESRCH') throw error;
    }
  }

  /**
   * SIGKILL now; libuv reaps the child on its own. SIGKILL cannot be caught, so -9 is the
   * status it will have, unless Node already saw it exit (then that status).
   */
  protected _killNow(): number | null {
    const child = this.child;
    if (child.pid === undefined) return null;
    if (child.exitCode !== null || child.signalCode !== null) return exitStatus(child.exitCode, child.signalCode);
    child.kill('SIGKILL');
    return -SIGKILL;
  }
}
