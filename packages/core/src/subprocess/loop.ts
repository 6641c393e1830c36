/**
 * The loop-level subprocess and pipe methods every BaseEventLoop has (asyncio's
 * subprocess_exec, subprocess_shell, connect_read_pipe, connect_write_pipe): argument
 * checks and the protocol/transport handshake here, the transports from the loop's hooks
 * (`SubprocessHooks`), whose defaults are node:child_process and Node pipe sockets.
 */
import type { AbstractEventLoop } from '../events.js';
import type { Future } from '../futures.js';
import type { BaseProtocol } from '../protocols.js';
import type { Transport } from '../transports.js';
import { fs, net } from '../node-builtins.js';
import { checkCallback, describe } from '../validate.js';
import type { BaseSubprocessTransport } from './base-subprocess.js';
import { NodePipeTransport, type PipeDirection } from './node-pipe.js';
import { NodeSubprocessTransport } from './node-subprocess.js';
import type { SubprocessProtocol } from './protocols.js';
import { PIPE, SUBPROCESS_OPTIONS, execArgv, makeSpec, shellArgv, type SubprocessOptions, type SubprocessSpec } from './spec.js';

/** What a backend overrides to start children and open pipes its own way. */
export interface SubprocessHooks {
  /** Start the child of `spec` and return its transport; `waiter` resolves once its pipes are connected (asyncio's _make_subprocess_transport). */
  _makeSubprocessTransport(protocol: SubprocessProtocol, spec: SubprocessSpec, waiter: Future<void>): BaseSubprocessTransport;
  /** A read or write pipe transport owning `fd`; `waiter` resolves once connectionMade ran (asyncio's _make_read/write_pipe_transport). */
  _makePipeTransport(direction: PipeDirection, fd: number, protocol: BaseProtocol, waiter: Future<void>): Transport;
}

type HookedLoop = AbstractEventLoop & SubprocessHooks;

/** The fd of a pipe argument: a number, or an object with fileno(). */
export function pipeFd(pipe: unknown): number {
  let fd: unknown = pipe;
  if (pipe !== null && typeof pipe === 'object' && typeof (pipe as { fileno?: unknown }).fileno === 'function') {
    fd = (pipe as { fileno(): unknown }).fileno();
  }
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0) {
    throw new TypeError(`pipe must be a file descriptor or an object with fileno(), got ${describe(pipe)}`);
  }
  return fd;
}

/**
 * A spawn that failed because `cwd` is no directory names the cwd, as asyncio's
 * FileNotFoundError does (`filename` the cwd); Node's error names the program, which misleads.
 */
function blameMissingCwd(error: unknown, cwd: string | null): unknown {
  const failure = error as { code?: unknown; message?: unknown; path?: unknown } | null;
  if (cwd === null || failure === null || typeof failure !== 'object') return error;
  if (failure.code !== 'ENOENT' && failure.code !== 'ENOTDIR') return error;
  const stat = fs.statSync(cwd, { throwIfNoEntry: false });
  if (stat !== undefined && stat.isDirectory()) return error;
  const why = stat === undefined ? 'No such file or directory' : 'Not a directory';
  failure.message = `${why}: '${cwd}' (cwd) [${String(failure.message)}]`;
  failure.path = cwd;
  return error;
}

async function start(loop: HookedLoop, protocolFactory: unknown, spec: SubprocessSpec): Promise<[BaseSubprocessTransport, SubprocessProtocol]> {
  const protocol = (protocolFactory as () => SubprocessProtocol)();
  const waiter = loop.createFuture<void>();
  let transport: BaseSubprocessTransport;
  try {
    transport = loop._makeSubprocessTransport(protocol, spec, waiter);
  } catch (error) {
    throw blameMissingCwd(error, spec.cwd);
  }
  try {
    await waiter;
  } catch (error) {
    // asyncio's: a child that started is killed and reaped before the error goes on
    if (transport.getReturncode() === null && transport.getPid() !== null) {
      transport.close();
      await transport._wait();
    }
    throw blameMissingCwd(error, spec.cwd);
  }
  return [transport, protocol];
}

export async function subprocessExec(loop: HookedLoop, protocolFactory: unknown, program: unknown, args: unknown, options: SubprocessOptions | undefined): Promise<[BaseSubprocessTransport, SubprocessProtocol]> {
  checkCallback(protocolFactory, 'protocolFactory');
  const [file, argv] = execArgv(program, args);
  const spec = makeSpec(file, argv, options, 'subprocessExec', SUBPROCESS_OPTIONS, PIPE);
  return await start(loop, protocolFactory, spec);
}

export async function subprocessShell(loop: HookedLoop, protocolFactory: unknown, cmd: unknown, options: SubprocessOptions | undefined): Promise<[BaseSubprocessTransport, SubprocessProtocol]> {
  checkCallback(protocolFactory, 'protocolFactory');
  const [file, argv] = shellArgv(cmd);
  const spec = { ...makeSpec(file, argv, options, 'subprocessShell', SUBPROCESS_OPTIONS, PIPE), verbatim: true };
  return await start(loop, protocolFactory, spec);
}

/** connectReadPipe / connectWritePipe: `[transport, protocol]` once connectionMade ran. */
export async function connectPipe(loop: HookedLoop, direction: PipeDirection, protocolFactory: unknown, pipe: unknown): Promise<[Transport, BaseProtocol]> {
  checkCallback(protocolFactory, 'protocolFactory');
  const fd = pipeFd(pipe);
  const protocol = (protocolFactory as () => BaseProtocol)();
  const waiter = loop.createFuture<void>();
  const transport = loop._makePipeTransport(direction, fd, protocol, waiter);
  try {
    await waiter;
  } catch (error) {
    transport.close();
    throw error;
  }
  return [transport, protocol];
}

/** The default pipe transport: a Node socket opened on the fd (it owns the fd from now on). */
export function nodePipeTransport(loop: AbstractEventLoop, direction: PipeDirection, fd: number, protocol: BaseProtocol, waiter: Future<void>): Transport {
  const stream = new (net().Socket)({ fd, readable: direction === 'read', writable: direction === 'write' });
  return new NodePipeTransport(loop, stream, protocol, waiter, direction, { fileno: fd });
}

export function nodeSubprocessTransport(loop: AbstractEventLoop, protocol: SubprocessProtocol, spec: SubprocessSpec, waiter: Future<void>): BaseSubprocessTransport {
  return new NodeSubprocessTransport(loop, protocol, spec, waiter);
}
