/**
 * Child process of emfile.test.ts (started under `prlimit --nofile=N`): an echo server on
 * the named loop class. Commands on stdin (JSON lines):
 *   {"op": "exhaust"}  open /dev/null until open() fails with EMFILE, keep those fds
 *   {"op": "release"}  close them again
 *   {"op": "status"}   report isServing() and the exception handler's reports
 *   {"op": "quit"}     close the server and the loop, exit 0
 * Replies are JSON lines on stdout; {"error"} reports a failure.
 * Usage: node emfile-server.mjs <LoopClass>
 */
import * as fs from 'node:fs';
import { Protocol } from '@loopkit/core';
import { nextCommand, runChild, say } from './child.mjs';
import { loopFactory } from './loops.mjs';

class Echo extends Protocol {
  connectionMade(t) {
    this.t = t;
  }
  dataReceived(d) {
    this.t.write(d);
  }
}

const loop = loopFactory(process.argv[2])();
const reports = [];
loop.setExceptionHandler((_l, ctx) => reports.push({ message: ctx.message, code: ctx.exception?.code ?? null }));
const fillers = [];

await runChild(loop, async () => {
  const server = await loop.createServer(() => new Echo(), '127.0.0.1', 0);
  say({ port: server.sockets[0].getsockname().port, fds: fs.readdirSync('/proc/self/fd').length });
  for (;;) {
    const cmd = await nextCommand();
    if (cmd.op === 'exhaust') {
      let code = null;
      for (;;) {
        try {
          fillers.push(fs.openSync('/dev/null', 'r'));
        } catch (error) {
          code = error.code;
          break;
        }
      }
      say({ filled: fillers.length, code });
    } else if (cmd.op === 'release') {
      for (const fd of fillers.splice(0)) fs.closeSync(fd);
      say({ released: true });
    } else if (cmd.op === 'status') {
      say({ serving: server.isServing(), reports });
    } else if (cmd.op === 'quit') {
      server.close();
      await server.waitClosed();
      say({ quit: true });
      return;
    } else {
      throw new Error(`unknown command ${JSON.stringify(cmd)}`);
    }
  }
});
