/**
 * sendfile the way a proactor without a native one does it: read the file in chunks and
 * post each as a send, until `count` bytes (or the end of the file) went out. Shared by
 * every proactor of this package; cancelling `fut` cancels the send in flight.
 */
import { fs } from './builtins.js';
import type { Future } from '@loopkit/core';

const SENDFILE_CHUNK = 64 * 1024;

/** What the proactor gives: the op's future, and how it posts one send. */
export interface SendfileOp {
  fut: Future<number> & { _onCancel: (() => void) | null };
  send(chunk: Buffer): Future<number>;
  /** Run a read's continuation in the proactor's completion context (or drop it once closed). */
  complete(continuation: () => void): void;
}

export function sendfileBySends(op: SendfileOp, fd: number, offset: number, count: number | null): void {
  const { fut } = op;
  const buf = Buffer.allocUnsafe(SENDFILE_CHUNK);
  let sent = 0;
  let current: Future<number> | null = null;
  fut._onCancel = () => current?.cancel();
  const readNext = (): void => {
    const want = count === null ? SENDFILE_CHUNK : Math.min(SENDFILE_CHUNK, count - sent);
    if (want === 0) {
      fut.setResult(sent);
      return;
    }
    fs.read(fd, buf, 0, want, offset + sent, (err, n) => {
      op.complete(() => {
        if (fut.done()) return;
        if (err !== null) fut.setException(err);
        else if (n === 0) fut.setResult(sent);
        else sendChunk(buf.subarray(0, n));
      });
    });
  };
  const sendChunk = (chunk: Buffer): void => {
    current = op.send(chunk);
    current.addDoneCallback((f) => {
      if (fut.done()) return;
      if (f.cancelled()) fut.cancel();
      else if (f.exception() !== null) fut.setException(f.exception());
      else {
        const took = f.result();
        sent += took;
        if (took < chunk.length) sendChunk(chunk.subarray(took));
        else readNext();
      }
    });
  };
  readNext();
}
