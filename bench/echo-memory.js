// Memory per idle echo connection (pnpm bench:echo-memory, part of pnpm bench:echo): for each server kind, the
// server runs in its own process (bench/echo-server.js --memory, bench/echo_server.py
// --memory) and this process is the client: it opens BENCH_IDLE_CONNS (9000) connections,
// each sends 16 bytes and waits for their echo, then all stay open and idle. The server
// reports its RSS (and V8's heap used, Node kinds) after a full GC, before the connections
// and with them; the table gives RSS with them and RSS and heap per connection (the
// difference over the count). One run per kind by default (heap per connection repeats to
// the byte, RSS per connection within ~1 KB); BENCH_MEMORY_RUNS=n takes the median of n,
// kinds interleaved.
//
//   node bench/echo-memory.js [kind ...] [--node=PATH]
//   kinds: default proactor uring net asyncio uvloop (all by default); selector too
import * as net from 'node:net';
import { NODE, PYTHON, loadAverage, median, nodeVersion, positional, printMarkdown, pythonHas, startServer, stopServer } from './harness.js';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const RUNS = Number(process.env.BENCH_MEMORY_RUNS ?? 1);
const CONNS = Number(process.env.BENCH_IDLE_CONNS ?? 9000);
const AT_ONCE = 50; // connections being set up at a time: under every server's listen backlog (asyncio's and loopkit's default: 100)
const PING = Buffer.alloc(16, 'x');
const ALL = ['default', 'proactor', 'uring', 'net', 'asyncio', 'uvloop'];
const named = positional();
let kinds = named.length > 0 ? named : ALL;
const skipped = [];
if (!pythonHas('asyncio')) skipped.push('asyncio', 'uvloop');
else if (!pythonHas('uvloop')) skipped.push('uvloop');
kinds = kinds.filter((k) => !skipped.includes(k));

const argv = (kind) =>
  kind === 'asyncio' || kind === 'uvloop'
    ? [PYTHON, join(here, 'echo_server.py'), kind, '--memory']
    : [NODE, '--expose-gc', join(here, 'echo-server.js'), kind, '--memory'];

/** Ask the server for its memory (SIGUSR2) and wait for the MEM line: [rss, heap or NaN]. */
async function memoryOf(server) {
  const seen = server.lines.length;
  server.child.kill('SIGUSR2');
  while (server.lines.length === seen) await new Promise((resolve) => setTimeout(resolve, 20));
  const [, rss, heap] = server.lines[seen].split(' ');
  return [Number(rss), heap === '-' ? NaN : Number(heap)];
}

/** One connection that has made one echo round trip. */
function idleConnection(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', noDelay: true }, () => socket.write(PING));
    let got = 0;
    const onData = (data) => {
      got += data.length;
      if (got < PING.length) return;
      socket.off('data', onData);
      resolve(socket);
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

async function runOnce(kind) {
  const server = await startServer(argv(kind));
  const sockets = [];
  try {
    const [rssBefore, heapBefore] = await memoryOf(server);
    while (sockets.length < CONNS) {
      const batch = Math.min(AT_ONCE, CONNS - sockets.length);
      sockets.push(...(await Promise.all(Array.from({ length: batch }, () => idleConnection(server.port)))));
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    const [rss, heap] = await memoryOf(server);
    return { rss, rssPer: (rss - rssBefore) / CONNS, heapPer: (heap - heapBefore) / CONNS };
  } finally {
    for (const socket of sockets) socket.destroy();
    await stopServer(server.child);
  }
}

const started = Date.now();
console.log(`echo-memory: ${CONNS} idle echo connections, client in this process, each server in its own; ${NODE} (${nodeVersion()}); ` +
  `median of ${RUNS}; load average ${loadAverage()}` + (skipped.length > 0 ? `; skipped (no Python module): ${skipped.join(', ')}` : ''));
const runs = Object.fromEntries(kinds.map((k) => [k, []]));
for (let i = 0; i < RUNS; i++) {
  for (const kind of kinds) {
    const t0 = Date.now();
    runs[kind].push(await runOnce(kind));
    process.stdout.write(`  ${kind}: ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  }
}
const mb = (bytes) => (bytes / 1e6).toFixed(1);
printMarkdown(
  ['server', `RSS MB with ${CONNS}`, 'RSS KB per connection', 'heap KB per connection'],
  kinds.map((kind) => {
    const pick = (f) => median(runs[kind].map(f));
    const heap = pick((r) => r.heapPer);
    return [kind, mb(pick((r) => r.rss)), (pick((r) => r.rssPer) / 1e3).toFixed(2), Number.isNaN(heap) ? '-' : (heap / 1e3).toFixed(2)];
  }),
);
console.log(`${((Date.now() - started) / 1000).toFixed(0)} s`);
