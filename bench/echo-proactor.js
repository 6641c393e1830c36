// Echo round trips on ProactorEventLoop (NetProactor) against plain Node `net`.
// Both sides run in this process: CONNS clients each send a MSG-byte message, wait for
// its echo, and repeat ROUNDS times. Target: NetProactor >= 0.9x Node net.
// Both use TCP_NODELAY (loopkit's TCP transports set it, as asyncio's do). The two kinds
// run alternately (after one warm-up run each), so machine load hits both alike.
//
// Two rows: "steady" lets V8 collect garbage when it wants; "forced GC" runs a full GC
// before each run (harness.measure's way). With nothing alive between runs, that GC
// frees the hidden classes of loopkit's objects and V8 drops the optimized code built on
// them ("weak objects" deopts), so each short run pays to optimize loopkit again.
import * as net from 'node:net';
import { Protocol } from '@loopkit/core';
import { ProactorEventLoop } from '@loopkit/proactor';
import { median, printTable, RUNS } from './harness.js';

const CONNS = Number(process.env.BENCH_CONNS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2000);
const MSG = Buffer.alloc(Number(process.env.BENCH_MSG ?? 64), 'x');
const OPS = CONNS * ROUNDS;

class Echo extends Protocol {
  connectionMade(t) {
    this.t = t;
  }
  dataReceived(d) {
    this.t.write(d);
  }
}

class PingPong extends Protocol {
  constructor(done) {
    super();
    this.done = done;
    this.left = ROUNDS;
    this.got = 0;
  }
  connectionMade(t) {
    this.t = t;
    t.write(MSG);
  }
  dataReceived(d) {
    this.got += d.length;
    if (this.got < MSG.length) return;
    this.got -= MSG.length;
    if (--this.left === 0) this.done.setResult();
    else this.t.write(MSG);
  }
}

async function proactorRun() {
  const loop = new ProactorEventLoop();
  await loop.runUntilComplete(async () => {
    const server = await loop.createServer(() => new Echo(), '127.0.0.1', 0);
    const port = server.sockets[0].getsockname().port;
    const dones = [];
    const transports = [];
    for (let i = 0; i < CONNS; i++) {
      const done = loop.createFuture();
      dones.push(done);
      const [t] = await loop.createConnection(() => new PingPong(done), '127.0.0.1', port);
      transports.push(t);
    }
    for (const d of dones) await d;
    for (const t of transports) t.close();
    server.close();
    await server.waitClosed();
  });
  loop.close();
}

async function nodeRun() {
  const server = net.createServer({ noDelay: true }, (s) => s.on('data', (d) => s.write(d)));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  await Promise.all(
    Array.from({ length: CONNS }, () => new Promise((resolve) => {
      const c = net.connect({ port, host: '127.0.0.1', noDelay: true }, () => c.write(MSG));
      let left = ROUNDS;
      let got = 0;
      c.on('data', (d) => {
        got += d.length;
        if (got < MSG.length) return;
        got -= MSG.length;
        if (--left === 0) {
          c.end();
          resolve();
        } else c.write(MSG);
      });
    })),
  );
  await new Promise((resolve) => server.close(resolve));
}

/** Ops/s of one run of `fn`, after a full GC when `forceGc`. */
async function rate(fn, forceGc) {
  if (forceGc) globalThis.gc?.();
  const start = performance.now();
  await fn();
  return OPS / ((performance.now() - start) / 1000);
}

/** Median ops/s of each kind over RUNS alternating runs, after one warm-up run each. */
async function compare(forceGc) {
  await proactorRun();
  await nodeRun();
  const loop = [];
  const base = [];
  for (let i = 0; i < RUNS; i++) {
    loop.push(await rate(proactorRun, forceGc));
    base.push(await rate(nodeRun, forceGc));
  }
  return { loopkit: median(loop), baseline: median(base) };
}

const steady = await compare(false);
const rows = [{ name: 'ProactorEventLoop (NetProactor) vs node:net, steady', ...steady, target: '>= 0.9x' }];
if (globalThis.gc) rows.push({ name: '  the same, forced full GC before each run', ...(await compare(true)) });
printTable(`echo round trips: ${CONNS} connections x ${ROUNDS} x ${MSG.length} B`, rows);
