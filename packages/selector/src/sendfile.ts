/**
 * The OS's sendfile on a non-blocking socket (asyncio's unix_events.py
 * _sock_sendfile_native): one call per writability, until `count` bytes or the end of the
 * file. Used for loop.sockSendfile() on a user's socket and for loop.sendfile() on a socket
 * transport (whose buffer is empty and reading paused meanwhile).
 */
import { fstatSync } from './builtins.js';
import { SendfileNotAvailableError, toConnectionError, type Future } from '@loopkit/core';
import { EAGAIN, EINTR, errnoError } from '@loopkit/uv';

/** How one sendfile runs: the call, and watching the socket for writability (null: stop). */
export interface SendfileTarget {
  /** sendfile(2) of up to `n` bytes of the file from `offset`: bytes sent, 0 at the file's end, or -errno. */
  send(offset: number, n: number): number;
  /** Call `again` when the socket is writable (null: stop watching). */
  whenWritable(again: (() => void) | null): void;
}

/** The size of `fd` when it is a regular file; SendfileNotAvailableError otherwise (the loop then reads and writes). */
export function regularFileSize(fd: number): number {
  try {
    const stat = fstatSync(fd);
    if (stat.isFile()) return stat.size;
  } catch {
    // not a file the kernel can send from: the fallback reports the real error when it reads
  }
  throw new SendfileNotAvailableError('not a regular file');
}

/**
 * Send from `offset` to `count` bytes or the file's end (`size` bytes when it began) and
 * settle `fut` with the bytes sent. A failure before any byte went is
 * SendfileNotAvailableError (the loop falls back, and its writes report the socket's error).
 */
export function runSendfile(fut: Future<number>, target: SendfileTarget, offset: number, count: number | null, size: number): void {
  const block = count ?? size;
  if (block === 0) {
    fut.setResult(0);
    return;
  }
  let sent = 0;
  const step = (): void => {
    if (fut.done()) return;
    const n = count === null ? block : count - sent;
    if (n <= 0) return done();
    const r = target.send(offset + sent, n);
    if (r === 0) return done();
    if (r > 0) sent += r;
    else if (r !== -EAGAIN && r !== -EINTR) return fail(toConnectionError(errnoError(r, 'sendfile')) as Error);
    target.whenWritable(step);
  };
  const done = (): void => {
    target.whenWritable(null);
    fut.setResult(sent);
  };
  const fail = (error: Error): void => {
    target.whenWritable(null);
    if (sent > 0) fut.setException(error);
    else fut.setException(new SendfileNotAvailableError('os.sendfile call failed', { cause: error }));
  };
  fut.addDoneCallback(() => {
    if (fut.cancelled()) target.whenWritable(null);
  });
  step();
}
