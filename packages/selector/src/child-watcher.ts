/**
 * How the selector loop learns that a child exited, without polling (asyncio's
 * PidfdChildWatcher, and its signal-driven watchers where there is no pidfd).
 *
 * - pidfd (Linux >= 5.3): one fd per child, registered on the loop's selector; it polls
 *   readable once the child exited. The child is then reaped with waitpid(pid) and the fd
 *   closed. Works on any thread (worker_threads included).
 * - SIGCHLD where pidfd_open is missing (or LOOPKIT_CHILD_WATCHER=sigchld): a process
 *   'SIGCHLD' listener makes the loop try waitpid(pid, WNOHANG) for each of its children.
 *   One check runs right after a child is added too: it may have exited before.
 *
 * Only our own pids are ever waited for, so Node's child_process (libuv reaps its own by
 * pid) and this watcher never take each other's children. A child someone else reaped
 * (ECHILD) is reported with status 255, as asyncio does.
 */
import { Handle, logger } from '@loopkit/core';
import { closeFd, pidfdOpen, reapChild } from '@loopkit/uv';

/** What the watcher needs of its loop. */
export interface WatcherLoop {
  _setReader(fd: number, handle: Handle | null): boolean;
  callSoon(callback: () => void): unknown;
  callSoonThreadsafe(callback: () => void): unknown;
  isClosed(): boolean;
}

type ExitCallback = (returncode: number) => void;

interface Watched {
  callback: ExitCallback;
  /** the pidfd, or -1 when SIGCHLD watches this child */
  pidfd: number;
}

/** The status of a child we cannot reap (someone else did): asyncio reports 255. */
const UNKNOWN_STATUS = 255;

/** Reports our children's exits to the loop via a pidfd on its selector, or SIGCHLD where there is none (asyncio's PidfdChildWatcher and its signal-driven watchers). */
export class ChildWatcher {
  private readonly children = new Map<number, Watched>();
  private sigchldChildren = 0;
  private listening = false;

  constructor(private readonly loop: WatcherLoop & ConstructorParameters<typeof Handle>[2]) {}

  /** Call `callback(returncode)` once `pid` (our unreaped child) has exited and been reaped. */
  add(pid: number, callback: ExitCallback): void {
    const pidfd = process.env.LOOPKIT_CHILD_WATCHER === 'sigchld' ? null : pidfdOpen(pid);
    if (pidfd !== null) {
      this.children.set(pid, { callback, pidfd });
      this.loop._setReader(pidfd, new Handle(this.pidfdReady, [pid], this.loop));
      return;
    }
    this.children.set(pid, { callback, pidfd: -1 });
    this.sigchldChildren += 1;
    if (!this.listening) {
      process.on('SIGCHLD', this.onSigchld);
      this.listening = true;
    }
    this.loop.callSoon(this.checkAll);
  }

  /** Stop watching `pid` (it was reaped elsewhere, e.g. synchronously at loop close). */
  remove(pid: number): void {
    const watched = this.children.get(pid);
    if (watched === undefined) return;
    this.children.delete(pid);
    if (watched.pidfd >= 0) {
      this.loop._setReader(watched.pidfd, null);
      closeFd(watched.pidfd);
    } else if (--this.sigchldChildren === 0 && this.listening) {
      process.off('SIGCHLD', this.onSigchld);
      this.listening = false;
    }
  }

  /** Loop close: forget every child (their transports reaped them already). */
  close(): void {
    for (const pid of [...this.children.keys()]) this.remove(pid);
  }

  private readonly pidfdReady = (pid: number): void => {
    this.tryReap(pid);
  };

  private readonly onSigchld = (): void => {
    // Node runs signal listeners on its own loop: hand over to ours
    if (!this.loop.isClosed()) this.loop.callSoonThreadsafe(this.checkAll);
  };

  private readonly checkAll = (): void => {
    for (const [pid, watched] of [...this.children]) if (watched.pidfd < 0) this.tryReap(pid);
  };

  private tryReap(pid: number): void {
    const watched = this.children.get(pid);
    if (watched === undefined) return;
    let status: number | null;
    try {
      status = reapChild(pid);
    } catch (error) {
      logger.warning(`Unknown child process pid ${pid} (${String(error)}), will report returncode ${UNKNOWN_STATUS}`);
      status = UNKNOWN_STATUS;
    }
    if (status === null) return; // still running (a SIGCHLD for another child)
    this.remove(pid);
    watched.callback(status);
  }
}
