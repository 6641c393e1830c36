// blocking_io of asyncio-eventloop.rst's executor example, given to runInExecutor as
// {module, name}: vitest rewrites import() inside the test file's own functions, which then
// cannot run from their source text in a worker thread.
import * as fs from 'node:fs';

export function blockingIo() {
  const fd = fs.openSync('/dev/urandom', 'r');
  try {
    const buf = Buffer.alloc(100);
    return buf.subarray(0, fs.readSync(fd, buf));
  } finally {
    fs.closeSync(fd);
  }
}
