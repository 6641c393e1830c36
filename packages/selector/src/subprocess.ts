/**
 * The selector loop's subprocess transport (asyncio's _UnixSubprocessTransport): core's
 * BaseSubprocessTransport with the child started natively (@loopkit/uv's spawnChild:
 * posix_spawn, pipes made non-blocking on our side), its pipes as SelectorPipeTransports
 * watched like sockets, and its exit seen by the loop's ChildWatcher (a pidfd on the
 * selector, or SIGCHLD). A spawn that fails throws from the constructor with the OS error
 * (ENOENT, EACCES), having left nothing open or running.
 */
import { BaseSubprocessTransport, type AbstractEventLoop, type BaseProtocol, type Future, type PipeDirection, type SubprocessProtocol, type SubprocessSpec, type Transport } from '@loopkit/core';
import { closeFd, reapChild, spawnChild, type SpawnedChild } from '@loopkit/uv';
import type { ChildWatcher } from './child-watcher.js';

/** What the transport needs of the selector loop. */
export interface SubprocessLoop extends AbstractEventLoop {
  readonly _childWatcher: ChildWatcher;
  _makePipeTransport(direction: PipeDirection, fd: number, protocol: BaseProtocol, waiter: Future<void>): Transport;
}

export class UnixSubprocessTransport extends BaseSubprocessTransport {
  // Set by _start, inside the base constructor: `declare`d so no initializer wipes it.
  declare private child: SpawnedChild;

  constructor(loop: SubprocessLoop, protocol: SubprocessProtocol, spec: SubprocessSpec, waiter: Future<void> | null) {
    super(loop, protocol, spec, waiter);
  }

  private get loop(): SubprocessLoop {
    return this._loop as SubprocessLoop;
  }

  /** Spawn the child natively (spawnChild) and have the loop's ChildWatcher report its exit; if it cannot, kill, reap and close everything, then throw. */
  protected _start(spec: SubprocessSpec): void {
    const child = spawnChild({ file: spec.file, argv: spec.argv, env: spec.env, cwd: spec.cwd, stdio: spec.stdio });
    this.child = child;
    this._pid = child.pid;
    try {
      this.loop._childWatcher.add(child.pid, (status) => this._processExited(status));
    } catch (error) {
      // no way to learn of its exit: do not leave it running, or its pipes open
      this.killAndReap();
      for (const fd of [child.stdin, child.stdout, child.stderr]) if (fd !== null) closeFd(fd);
      throw error;
    }
  }

  /** A SelectorPipeTransport on the child's pipe `fd` (0: write, 1/2: read), once its connectionMade ran. */
  protected async _connectPipe(fd: number, protocol: BaseProtocol): Promise<Transport> {
    const pipe = fd === 0 ? this.child.stdin : fd === 1 ? this.child.stdout : this.child.stderr;
    const waiter = this._loop.createFuture<void>();
    const transport = this.loop._makePipeTransport(fd === 0 ? 'write' : 'read', pipe!, protocol, waiter);
    await waiter;
    return transport;
  }

  /** process.kill() the (unreaped) child; ESRCH (reaped elsewhere) is ignored. */
  protected _signal(sig: string | number): void {
    // our child is unreaped here (sendSignal checks the returncode), so its pid is still
    // ours; ESRCH means someone else reaped it (a waitpid(-1) elsewhere): nothing to signal
    try {
      process.kill(this.child.pid, sig);
    } catch (error) {
      if ((error as { code?: string }).code !== 'ESRCH') throw error;
    }
  }

  /** Loop close: SIGKILL, then reap now; SIGKILL cannot be caught, so the wait is the kernel's teardown. */
  protected _killNow(): number | null {
    this.loop._childWatcher.remove(this.child.pid);
    return this.killAndReap();
  }

  private killAndReap(): number | null {
    try {
      process.kill(this.child.pid, 'SIGKILL');
    } catch {
      // it exited already: the reap below collects it
    }
    try {
      return reapChild(this.child.pid, true);
    } catch {
      return null; // reaped by someone else
    }
  }
}
