/**
 * Child process of connections.test.ts: opens COUNT idle connections to 127.0.0.1:PORT on
 * the named loop class (at most WINDOW connecting at once), holds them, then follows
 * commands on stdin (JSON lines): {"op": "close", "from": i, "to": j} closes connections
 * i..j-1 from this side; {"op": "await-lost"} waits until every connection is lost.
 * Replies are JSON lines on stdout; an {"error"} line reports a failure.
 * Usage: node idle-clients.mjs <LoopClass> <port> <count>
 */
import { Protocol, sleep } from '@loopkit/core';
import { nextCommand, runChild, say } from './child.mjs';
import { loopFactory } from './loops.mjs';

const [loopName, portText, countText] = process.argv.slice(2);
const port = Number(portText);
const count = Number(countText);
const WINDOW = 256;

class Idle extends Protocol {
  transport = null;
  lost = false;
  lostWith = undefined;
  eof = false;
  connectionMade(t) {
    this.transport = t;
  }
  dataReceived() {
    throw new Error('an idle connection received data');
  }
  eofReceived() {
    this.eof = true;
    return false;
  }
  connectionLost(exc) {
    this.lost = true;
    this.lostWith = exc;
  }
}

const loop = loopFactory(loopName)();
const reports = [];
loop.setExceptionHandler((_l, ctx) => reports.push(`${ctx.message}: ${ctx.exception}`));

await runChild(loop, async () => {
  const conns = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const [, protocol] = await loop.createConnection(() => new Idle(), '127.0.0.1', port);
      conns[i] = protocol;
    }
  };
  await Promise.all(Array.from({ length: WINDOW }, worker));
  say({ held: conns.filter((c) => c.transport !== null && !c.lost).length });
  for (;;) {
    const cmd = await nextCommand();
    if (cmd.op === 'close') {
      for (let i = cmd.from; i < cmd.to; i++) conns[i].transport.close();
      say({ closing: cmd.to - cmd.from });
    } else if (cmd.op === 'await-lost') {
      const deadline = Date.now() + 60_000;
      while (conns.some((c) => !c.lost)) {
        if (Date.now() > deadline) throw new Error(`${conns.filter((c) => !c.lost).length} connections never lost`);
        await sleep(0.01);
      }
      const errors = conns.filter((c) => c.lostWith !== null).map((c) => String(c.lostWith));
      say({ lost: conns.length, eofs: conns.filter((c) => c.eof).length, errors: errors.slice(0, 5), errorCount: errors.length, reports: reports.slice(0, 5) });
      return;
    } else {
      throw new Error(`unknown command ${JSON.stringify(cmd)}`);
    }
  }
});
