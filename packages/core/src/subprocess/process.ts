/**
 * The awaiting-code side of subprocesses (asyncio's subprocess.py): createSubprocessExec
 * and createSubprocessShell on the running loop, Process with its stdin StreamWriter and
 * stdout/stderr StreamReaders, and the protocol that feeds them.
 */
import { BrokenPipeError, ConnectionResetError } from '../errors.js';
import { getRunningLoop, type AbstractEventLoop } from '../events.js';
import type { Future } from '../futures.js';
import { gather } from '../gather.js';
import { DEFAULT_LIMIT, FlowControlProtocol, StreamReader, StreamWriter } from '../streams.js';
import { asBytes, type BytesLike, type Transport } from '../transports.js';
import { checkOptions, describe } from '../validate.js';
import { WaitingCall, registerWaitingCall } from '../waiting-calls.js';
import type { BaseSubprocessTransport } from './base-subprocess.js';
import { SUBPROCESS_OPTIONS, execArgv, shellArgv, type SubprocessOptions } from './spec.js';

/** The options of createSubprocessExec/Shell: the subprocess options plus the StreamReaders' `limit`. */
export interface CreateSubprocessOptions extends SubprocessOptions {
  /** The limit of the stdout/stderr StreamReaders (default 64 KiB). */
  limit?: number;
}

function brokenPipe(message: string): BrokenPipeError {
  const err = new BrokenPipeError(message);
  err.code = 'EPIPE';
  err.syscall = 'write';
  return err;
}

/** Feeds the child's output to StreamReaders, and its stdin StreamWriter's drain() (asyncio's SubprocessStreamProtocol). */
export class SubprocessStreamProtocol extends FlowControlProtocol {
  stdin: StreamWriter | null = null;
  stdout: StreamReader | null = null;
  stderr: StreamReader | null = null;
  private readonly _limit: number;
  private _transport: BaseSubprocessTransport | null = null;
  private _stdinPipe: Transport | null = null;
  private _processExited = false;
  private readonly _pipeFds: number[] = [];
  /** Settles when the stdin pipe is lost: writer.waitClosed() waits for it. */
  private readonly _stdinClosed: Future<void>;
  /** What a drain() after the stdin pipe was lost throws. */
  private _stdinLost: unknown = null;

  constructor(limit: number, loop: AbstractEventLoop) {
    super(loop);
    this._limit = limit;
    this._stdinClosed = loop.createFuture<void>();
  }

  /** The subprocess transport (the base class's signature names a stream transport). */
  override connectionMade(made: Transport | BaseSubprocessTransport): void {
    const transport = made as BaseSubprocessTransport;
    this._transport = transport;
    for (const fd of [1, 2]) {
      const pipe = transport.getPipeTransport(fd);
      if (pipe === null) continue;
      const reader = new StreamReader({ limit: this._limit, loop: this._loop });
      reader.setTransport(pipe);
      if (fd === 1) this.stdout = reader;
      else this.stderr = reader;
      this._pipeFds.push(fd);
    }
    const stdin = transport.getPipeTransport(0);
    if (stdin !== null) {
      this._stdinPipe = stdin;
      this.stdin = new StreamWriter(stdin, this, null, this._loop);
    }
  }

  /** Feed the child's output on fd 1 or 2 to its StreamReader. */
  pipeDataReceived(fd: number, data: Uint8Array): void {
    (fd === 1 ? this.stdout : fd === 2 ? this.stderr : null)?.feedData(data);
  }

  /** A pipe closed: stdin's writer is closed (later drain() throws), a reader gets EOF or `exc`; the transport closes once stdout/stderr are closed and the child exited. */
  pipeConnectionLost(fd: number, exc: unknown): void {
    if (fd === 0) {
      this._stdinLost = exc ?? brokenPipe("write EPIPE: the child's stdin is closed");
      this.stdin?.close();
      super.connectionLost(exc);
      if (exc === null || exc === undefined) this._stdinClosed.setResult(undefined);
      else {
        this._stdinClosed.setException(exc);
        this._stdinClosed.exception(); // also thrown by drain(): no "never retrieved" report
      }
      return;
    }
    const reader = fd === 1 ? this.stdout : fd === 2 ? this.stderr : null;
    if (reader !== null) {
      if (exc === null || exc === undefined) reader.feedEof();
      else reader.setException(exc);
    }
    const i = this._pipeFds.indexOf(fd);
    if (i >= 0) this._pipeFds.splice(i, 1);
    this._maybeCloseTransport();
  }

  /** The child exited: close the transport once its output pipes are closed too. */
  processExited(): void {
    this._processExited = true;
    this._maybeCloseTransport();
  }

  /**
   * A drain() on a stdin that is gone throws why it went (BrokenPipeError once the child
   * closed its end): waits for the pipe's loss to arrive when its transport is closing. A
   * Future wrapping the promise cancels the wait, as FlowControlProtocol's (waiting-calls.ts).
   */
  override _drainHelper(): Promise<void> {
    const call = new WaitingCall();
    return registerWaitingCall(this._drainStdin(call), call);
  }

  private async _drainStdin(call: WaitingCall): Promise<void> {
    if (this._stdinLost === null && this._stdinPipe?.isClosing()) {
      // not call.waiter: cancelling must not cancel this shared Future; the loss is on its way
      try {
        await this._stdinClosed;
      } catch {
        // the error is _stdinLost, thrown below
      }
      call.check();
    }
    if (this._stdinLost !== null) throw this._stdinLost;
    await call.during(super._drainHelper());
    // a drain waiting on a paused pipe is released by its loss too: that is no success
    if (this._stdinLost !== null) throw this._stdinLost;
  }

  /** @internal what stdin.waitClosed() waits for */
  _getCloseWaiter(): Future<void> {
    return this._stdinClosed;
  }

  private _maybeCloseTransport(): void {
    if (this._pipeFds.length === 0 && this._processExited && this._transport !== null) {
      this._transport.close();
      this._transport = null;
    }
  }
}

/** A child process started by createSubprocessExec/Shell (asyncio.subprocess.Process). */
export class Process {
  readonly pid: number;
  readonly stdin: StreamWriter | null;
  readonly stdout: StreamReader | null;
  readonly stderr: StreamReader | null;
  private readonly _transport: BaseSubprocessTransport;

  constructor(transport: BaseSubprocessTransport, protocol: SubprocessStreamProtocol, _loop?: AbstractEventLoop) {
    this._transport = transport;
    this.pid = transport.getPid();
    this.stdin = protocol.stdin;
    this.stdout = protocol.stdout;
    this.stderr = protocol.stderr;
  }

  /** null while the child runs; its exit code, or minus the signal number that killed it. */
  get returncode(): number | null {
    return this._transport.getReturncode();
  }

  /** Wait for the child to exit (and its pipes to close); cancelling it leaves the child running. */
  async wait(): Promise<number> {
    return await this._transport._wait();
  }

  /** Send `sig` to the child (asyncio's Process.send_signal()); nothing once it has exited. */
  sendSignal(sig: string | number): void {
    this._transport.sendSignal(sig);
  }

  /** Send SIGTERM to the child (asyncio's Process.terminate()). */
  terminate(): void {
    this._transport.terminate();
  }

  /** Send SIGKILL to the child (asyncio's Process.kill()). */
  kill(): void {
    this._transport.kill();
  }

  /**
   * Send `input` to stdin (then close it) while reading stdout and stderr to EOF, then wait
   * for the exit: `[stdout, stderr]`, null for a stream that is not PIPE. A child that stops
   * reading early is no error (BrokenPipeError is ignored). Cancelling it (a Future wrapping
   * the promise: `waitFor(proc.communicate(), t)`) stops the feeding, the reads and the wait,
   * as asyncio cancels the coroutine, and leaves the child running.
   */
  communicate(input: BytesLike | null = null): Promise<[Buffer | null, Buffer | null]> {
    const call = new WaitingCall();
    return registerWaitingCall(this._communicate(input, call), call);
  }

  private async _communicate(input: BytesLike | null, call: WaitingCall): Promise<[Buffer | null, Buffer | null]> {
    const bytes = input === null || input === undefined ? null : asBytes(input, 'input');
    const stdin = this.stdin;
    const feed = stdin !== null ? () => this._feedStdin(stdin, bytes) : null;
    const read = (fd: 1 | 2): (() => Promise<Buffer | null>) | null => {
      const reader = fd === 1 ? this.stdout : this.stderr;
      return reader === null ? null : () => this._readStream(fd, reader);
    };
    const jobs = [feed, read(1), read(2)].filter((j) => j !== null) as Array<() => Promise<unknown>>;
    const all = gather(...jobs);
    call.waiter = all; // cancelling the call cancels the feeding and the reads
    let results: unknown[];
    try {
      results = (await all) as unknown[];
    } finally {
      call.waiter = null;
    }
    call.check();
    let k = feed !== null ? 1 : 0;
    const out = this.stdout !== null ? (results[k++] as Buffer) : null;
    const err = this.stderr !== null ? (results[k++] as Buffer) : null;
    await call.during(this.wait());
    return [out, err];
  }

  /** `<Process pid>`, as asyncio's repr. */
  toString(): string {
    return `<Process ${this.pid}>`;
  }

  private async _feedStdin(stdin: StreamWriter, input: Uint8Array | null): Promise<void> {
    try {
      if (input !== null && input.length > 0) {
        stdin.write(input);
        await stdin.drain();
      }
    } catch (error) {
      if (!(error instanceof BrokenPipeError || error instanceof ConnectionResetError)) throw error;
    }
    try {
      stdin.close();
      await stdin.waitClosed();
    } catch (error) {
      if (!(error instanceof BrokenPipeError || error instanceof ConnectionResetError)) throw error;
    }
  }

  private async _readStream(fd: 1 | 2, reader: StreamReader): Promise<Buffer> {
    const output = await reader.read();
    this._transport.getPipeTransport(fd)?.close();
    return output;
  }
}

const CREATE_OPTIONS = [...SUBPROCESS_OPTIONS, 'limit'];

async function create(where: string, run: (loop: AbstractEventLoop, factory: () => SubprocessStreamProtocol, options: SubprocessOptions) => Promise<[unknown, unknown]>, options: CreateSubprocessOptions | undefined): Promise<Process> {
  const opts = checkOptions(options, CREATE_OPTIONS, where);
  const limit = opts.limit ?? DEFAULT_LIMIT;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit <= 0) {
    throw new TypeError(`limit must be a positive integer, got ${describe(limit)}`);
  }
  const loop = getRunningLoop();
  // asyncio's defaults here: each stream is the parent's own unless asked for
  const rest: SubprocessOptions = { stdin: opts.stdin ?? null, stdout: opts.stdout ?? null, stderr: opts.stderr ?? null };
  if (opts.cwd !== undefined) rest.cwd = opts.cwd;
  if (opts.env !== undefined) rest.env = opts.env;
  const [transport, protocol] = await run(loop, () => new SubprocessStreamProtocol(limit, loop), rest);
  return new Process(transport as BaseSubprocessTransport, protocol as SubprocessStreamProtocol, loop);
}

/** Run `program` with `args` (no shell): resolves to a Process. A missing program rejects with code ENOENT. */
export async function createSubprocessExec(program: string, args: readonly string[] = [], options?: CreateSubprocessOptions): Promise<Process> {
  execArgv(program, args); // bad arguments reject here, before the loop is looked up
  return await create('createSubprocessExec', (loop, factory, rest) => loop.subprocessExec(factory, program, args, rest), options);
}

/** Run `cmd` with /bin/sh -c (cmd.exe /c on Windows): resolves to a Process. */
export async function createSubprocessShell(cmd: string, options?: CreateSubprocessOptions): Promise<Process> {
  shellArgv(cmd);
  return await create('createSubprocessShell', (loop, factory, rest) => loop.subprocessShell(factory, cmd, rest), options);
}
