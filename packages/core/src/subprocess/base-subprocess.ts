/**
 * BaseSubprocessTransport (asyncio's base_subprocess.py): the portable part of a
 * subprocess transport. It owns the child's pipes (one pipe transport each, made by the
 * backend) and its exit, and drives the protocol in the documented order:
 * connectionMade, pipeDataReceived..., pipeConnectionLost once per pipe, processExited
 * once, connectionLost once; then wait() resolves.
 *
 * A backend subclass implements:
 * - `_start(spec)`: start the child and set `_pid`; throw the spawn error (code ENOENT,
 *   EACCES, ...) and leave nothing behind when it cannot run. It runs inside the base
 *   constructor, before the subclass's field initializers: fields it sets are `declare`d.
 * - `_connectPipe(fd, protocol)`: a transport for the child's pipe `fd` (0: write, 1/2:
 *   read) driving `protocol`; resolves once its connectionMade ran.
 * - `_signal(sig)`: deliver `sig` to the child (only called while it is unreaped).
 * - `_beforePipes()` (optional): awaited first; a backend whose spawn fails later (node's
 *   'error' event) rejects here, and the transport is then finished with no pid.
 * - `_killNow()`: the loop is closing: SIGKILL the child and reap it now if the backend
 *   can (return the exit status), else return null (the host reaps it later).
 * - `_keepAlive(on)` (optional): ref/unref host handles as the loop runs or stops.
 * Exit is reported by calling `_processExited(returncode)` (minus the signal number for a
 * signal death), once the child is reaped.
 */
import type { AbstractEventLoop } from '../events.js';
import type { Future } from '../futures.js';
import { logger } from '../log.js';
import { ProcessLookupError } from '../errors.js';
import { describe } from '../validate.js';
import { BaseProtocol } from '../protocols.js';
import type { Transport } from '../transports.js';
import { WaitingCall, registerWaitingCall } from '../waiting-calls.js';
import { SubprocessProtocol, SubprocessTransport } from './protocols.js';
import type { SubprocessSpec } from './spec.js';

/** A loop that closes the children still running when it closes (BaseEventLoop). */
export interface SubprocessOwner {
  /** Track a newly started child's transport, to close it if the loop closes first. */
  _subprocessStarted(transport: BaseSubprocessTransport): void;
  /** Stop tracking a transport: its child exited and connectionLost ran (or it never started). */
  _subprocessFinished(transport: BaseSubprocessTransport): void;
}

function isOwner(loop: object): loop is SubprocessOwner {
  return typeof (loop as Partial<SubprocessOwner>)._subprocessStarted === 'function';
}

type ProtocolCall = 'pipeDataReceived' | 'pipeConnectionLost' | 'processExited' | 'connectionLost';
type Call = [ProtocolCall, unknown[]];

/** The protocol of the pipe to the child's stdin (asyncio's WriteSubprocessPipeProto). */
class WritePipeProtocol extends BaseProtocol {
  pipe: Transport | null = null;
  disconnected = false;

  constructor(
    protected readonly proc: BaseSubprocessTransport,
    readonly fd: number,
  ) {
    super();
  }

  override connectionMade(transport: Transport): void {
    this.pipe = transport;
  }

  override connectionLost(exc: unknown): void {
    this.disconnected = true;
    this.proc._pipeConnectionLost(this.fd, exc);
  }

  override pauseWriting(): void {
    this.proc._protocolCall('pauseWriting');
  }

  override resumeWriting(): void {
    this.proc._protocolCall('resumeWriting');
  }
}

/** The protocol of a pipe from the child's stdout or stderr. */
class ReadPipeProtocol extends WritePipeProtocol {
  dataReceived(data: Uint8Array): void {
    this.proc._pipeDataReceived(this.fd, data);
  }

  /** EOF: nothing more will come, the pipe transport closes (falsy return). */
  eofReceived(): void {}
}

export abstract class BaseSubprocessTransport extends SubprocessTransport {
  protected readonly _loop: AbstractEventLoop;
  protected _protocol: SubprocessProtocol;
  protected _pid: number | null = null;
  protected _returncode: number | null = null;
  private _closed = false;
  private _finished = false;
  private _lost = false;
  private _pipesConnected = false;
  /** Callbacks made before connectionMade, run right after it (null once it was scheduled). */
  private _pendingCalls: Call[] | null = [];
  /** The loop is closing: callbacks run at once (it runs no more), or not at all before connectionMade. */
  private _syncCalls = false;
  /** connectionMade ran; `_queued` calls were scheduled and have not run yet. */
  private _made = false;
  private _queued = 0;
  /** Pipes failed to connect: the protocol hears nothing, wait() still resolves. */
  private _silent = false;
  private _exitWaiters: Array<Future<number>> = [];
  private readonly _pipes = new Map<number, WritePipeProtocol | null>();

  constructor(loop: AbstractEventLoop, protocol: SubprocessProtocol, spec: SubprocessSpec, waiter: Future<void> | null, extra?: Record<string, unknown>) {
    super(extra);
    this._loop = loop;
    this._protocol = protocol;
    spec.stdio.forEach((s, fd) => {
      if (s === 'pipe') this._pipes.set(fd, null);
    });
    this._start(spec);
    this._extra.subprocess = this._pid;
    if (loop.getDebug()) logger.debug(`process ${JSON.stringify(spec.argv)} created: pid ${this._pid}`);
    if (isOwner(loop)) loop._subprocessStarted(this);
    void this._connectPipes(waiter);
  }

  // ---- backend hooks ----
  /** Start the child from `spec` and set `_pid`; throw the spawn error, leaving nothing behind, if it cannot run. */
  protected abstract _start(spec: SubprocessSpec): void;
  /** A pipe transport for the child's `fd` (0: write, 1/2: read) driving `protocol`; resolves once its connectionMade ran. */
  protected abstract _connectPipe(fd: number, protocol: BaseProtocol): Promise<Transport>;
  /** Deliver `sig` to the child (only called while it is unreaped). */
  protected abstract _signal(sig: string | number): void;
  /** The loop is closing: SIGKILL the child and reap it now if possible (its exit status), else null. */
  protected abstract _killNow(): number | null;
  /**
   * @internal The loop started (true) or stopped (false) running: a backend whose child or
   * pipes hold host handles refs or unrefs them, so a stopped loop keeps nothing alive.
   */
  _keepAlive(_on: boolean): void {}
  /** Runs before the pipes are connected: a backend whose spawn reports its failure later rejects here. */
  protected async _beforePipes(): Promise<void> {}

  // ---- SubprocessTransport ----
  /** The child's process id (asyncio's get_pid()). */
  getPid(): number {
    return this._pid!;
  }

  getReturncode(): number | null {
    return this._returncode;
  }

  getPipeTransport(fd: number): Transport | null {
    return this._pipes.get(fd)?.pipe ?? null;
  }

  getProtocol(): SubprocessProtocol {
    return this._protocol;
  }

  setProtocol(protocol: SubprocessProtocol): void {
    this._protocol = protocol;
  }

  isClosing(): boolean {
    return this._closed;
  }

  /**
   * Send `sig` to the child. Once it has exited this does nothing while its pipes are still
   * open, and throws ProcessLookupError once the transport finished (connectionLost), as
   * asyncio 3.13's; its pid is never signalled again (it may be another process's by now).
   */
  sendSignal(sig: string | number): void {
    // Node's kill() takes a missing signal as SIGTERM; asyncio's os.kill refuses it.
    if (typeof sig !== 'string' && !Number.isInteger(sig)) throw new TypeError(`sig must be a signal number or name, got ${describe(sig)}`);
    if (this._lost) throw new ProcessLookupError(`process ${this._pid} has exited (returncode ${this._returncode}): no signal sent`);
    if (this._returncode !== null) return;
    this._signal(sig);
  }

  /** Send SIGTERM to the child (asyncio's terminate()); see sendSignal once it has exited. */
  terminate(): void {
    this.sendSignal('SIGTERM');
  }

  /** Send SIGKILL to the child (asyncio's kill()); see sendSignal once it has exited. */
  kill(): void {
    this.sendSignal('SIGKILL');
  }

  /** Close the pipes and kill the child if it still runs; the exit is still reaped and reported. */
  close(): void {
    if (this._closed) return;
    this._closed = true;
    for (const proto of this._pipes.values()) proto?.pipe?.close();
    if (this._returncode === null && this._pid !== null) {
      if (this._loop.getDebug()) logger.warning(`Close running child process: kill ${this}`);
      try {
        this._signal('SIGKILL');
      } catch {
        // it exited meanwhile: its exit is on the way
      }
    }
  }

  toString(): string {
    const state = this._closed ? ' closed' : '';
    const rc = this._returncode === null ? 'running' : `returncode=${this._returncode}`;
    return `<${this.constructor.name}${state} pid=${this._pid} ${rc}>`;
  }

  // ---- for awaiting code (Process) ----
  /**
   * The exit status, once the child exited and every pipe closed (at once if known). A
   * Future wrapping the promise (`waitFor(proc.wait(), t)`) cancels the wait, never the
   * child (waiting-calls.ts).
   */
  _wait(): Promise<number> {
    if (this._returncode !== null) return Promise.resolve(this._returncode);
    const call = new WaitingCall();
    return registerWaitingCall(this._waitForExit(call), call);
  }

  private async _waitForExit(call: WaitingCall): Promise<number> {
    const waiter = this._loop.createFuture<number>();
    this._exitWaiters.push(waiter);
    call.waiter = waiter;
    try {
      return await waiter;
    } finally {
      const at = this._exitWaiters.indexOf(waiter);
      if (at >= 0) this._exitWaiters.splice(at, 1);
    }
  }

  // ---- for the backend and the pipe protocols ----
  /** @internal The child was reaped. */
  _processExited(returncode: number): void {
    if (this._returncode !== null) return;
    if (this._loop.getDebug()) logger.debug(`${this} exited with return code ${returncode}`);
    this._returncode = returncode;
    this._tryFinish();
  }

  /** @internal */
  _pipeDataReceived(fd: number, data: Uint8Array): void {
    this._call('pipeDataReceived', fd, data);
  }

  /** @internal */
  _pipeConnectionLost(fd: number, exc: unknown): void {
    this._call('pipeConnectionLost', fd, exc);
    this._tryFinish();
  }

  /** @internal a flow-control call from the stdin pipe */
  _protocolCall(method: 'pauseWriting' | 'resumeWriting'): void {
    this._protocol[method]?.();
  }

  /**
   * @internal The loop is closing and runs no more callbacks: close the pipes, kill and
   * (where the backend can) reap the child, and report it all now, synchronously.
   */
  _closeNow(): void {
    if (this._lost) return;
    this._closed = true;
    this._syncCalls = true;
    for (const proto of this._pipes.values()) {
      const pipe = proto?.pipe as (Transport & { _closeNow?: () => void }) | null | undefined;
      if (pipe?._closeNow) pipe._closeNow();
      else pipe?.abort();
    }
    if (this._returncode === null && this._pid !== null) {
      const rc = this._killNow();
      if (rc !== null) this._processExited(rc);
    }
    if (!this._finished) {
      // a pipe never connected, or the host reaps the child later: report the end anyway
      this._finished = true;
      if (this._returncode !== null) this._call('processExited');
      this._call('connectionLost');
    }
  }

  // ---- internals ----
  private async _connectPipes(waiter: Future<void> | null): Promise<void> {
    try {
      await this._beforePipes();
      for (const fd of this._pipes.keys()) {
        const proto = fd === 0 ? new WritePipeProtocol(this, fd) : new ReadPipeProtocol(this, fd);
        this._pipes.set(fd, proto);
        proto.pipe = await this._connectPipe(fd, proto);
        if (this._closed) proto.pipe.close(); // close() came while it was connecting
      }
    } catch (error) {
      if (this._pid === null) {
        // the child never ran: nothing to report to the protocol, nothing to reap
        this._closed = this._finished = this._lost = true;
        if (isOwner(this._loop)) this._loop._subprocessFinished(this);
      } else {
        // the caller kills it and waits: finish on its exit and the pipes that did connect,
        // telling the protocol nothing (connectionMade never ran)
        this._silent = true;
        this._pendingCalls = null;
        for (const [fd, proto] of this._pipes) if (proto?.pipe == null) this._pipes.delete(fd);
        this._pipesConnected = true;
      }
      if (waiter !== null && !waiter.done()) waiter.setException(error);
      return;
    }
    if (this._syncCalls) return;
    this._loop.callSoon(this._connectionMade);
    for (const [method, args] of this._pendingCalls!) {
      this._queued += 1;
      this._loop.callSoon(this._runQueued, method, args);
    }
    this._pendingCalls = null;
    this._pipesConnected = true;
    if (waiter !== null) this._loop.callSoon(() => {
      if (!waiter.done()) waiter.setResult(undefined);
    });
    this._tryFinish();
  }

  private readonly _connectionMade = (): void => {
    this._made = true;
    this._protocol.connectionMade(this);
  };

  /**
   * Call a protocol method: queued until connectionMade, at once when the loop closes.
   * Otherwise at once when nothing scheduled is still ahead of it (a pipe's data reaches the
   * protocol in the same callback that read it, as a socket's does), else through callSoon
   * behind what is: the protocol sees every call in the order they were made.
   */
  private _call(method: ProtocolCall, ...args: unknown[]): void {
    if (this._syncCalls) {
      if (this._pendingCalls !== null) return; // connectionMade never ran: the protocol hears nothing
      this._runReporting(method, args);
    } else if (this._pendingCalls !== null) {
      this._pendingCalls.push([method, args]);
    } else if (this._made && this._queued === 0) {
      this._runReporting(method, args);
    } else {
      this._queued += 1;
      this._loop.callSoon(this._runQueued, method, args);
    }
  }

  /** A call made outside a loop callback (a Node 'exit' event, loop close): errors go to the exception handler, as a callback's would. */
  private _runReporting(method: ProtocolCall, args: unknown[]): void {
    try {
      this._run(method, args);
    } catch (error) {
      this._loop.callExceptionHandler({ message: `Exception in subprocess protocol ${method}()`, exception: error, protocol: this._protocol, transport: this });
    }
  }

  private readonly _runQueued = (method: ProtocolCall, args: unknown[]): void => {
    this._queued -= 1;
    this._run(method, args);
  };

  private readonly _run = (method: ProtocolCall, args: unknown[]): void => {
    if (method === 'connectionLost') this._callConnectionLost();
    else if (this._silent) return;
    else (this._protocol[method] as (...a: unknown[]) => void)(...args);
  };

  /** Every pipe closed and the child reaped: processExited, then connectionLost (once). */
  private _tryFinish(): void {
    if (this._finished || this._returncode === null || !this._pipesConnected) return;
    for (const proto of this._pipes.values()) if (proto === null || !proto.disconnected) return;
    this._finished = true;
    this._call('processExited');
    this._call('connectionLost');
  }

  private _callConnectionLost(): void {
    if (this._lost) return;
    this._lost = true;
    try {
      if (!this._silent) this._protocol.connectionLost(null);
    } finally {
      if (isOwner(this._loop)) this._loop._subprocessFinished(this);
      const waiters = this._exitWaiters;
      this._exitWaiters = [];
      if (!this._loop.isClosed()) {
        for (const waiter of waiters) if (!waiter.done()) waiter.setResult(this._returncode!);
      }
    }
  }
}
