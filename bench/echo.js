// Echo benchmark (pnpm bench:echo): echo servers of several kinds driven by one closed-loop
// load generator (bench/loadgen.c, or bench/loadgen.js without a C compiler), each in its
// own process, the server pinned to CPU 0 and the load generator to CPU 1 (taskset) when
// there are two. Every connection sends one message, waits for its whole echo, and sends
// the next. For every size x connection count, each kind runs BENCH_RUNS times (kinds
// interleaved, a fresh server process per run); the tables give the median req/s with the
// ratios to the C server and to Node's `net`, the server's CPU time and minor page faults
// per request (from /proc), and the round-trip time (mean / p99 µs, as the load generator saw it).
//
// Kinds: c (bench/echo-server.c, compiled with cc at start: the reference), net (Node's
// net, no loopkit loaded), default (the loop the `loopkit` package's newEventLoop()
// gives), selector, proactor (NetProactor), uring (each through newEventLoop() with
// LOOPKIT_BACKEND naming it), asyncio and uvloop (bench/echo_server.py, Protocol based).
// Then "echo under a callSoon storm": the default loop's echo with and without a callSoon
// chain that never ends running on the same loop.
//
//   node bench/echo.js [kind ...] [--node=PATH]    c and net are always run
//   env: BENCH_RUNS=3 BENCH_SECONDS=1 BENCH_WARMUP=0.3 BENCH_SIZES=1024,16384,102400
//        BENCH_CONNS=1,10,100 BENCH_STORM_CONNS=1,100 (empty: no storm table) BENCH_NODE PYTHON
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE, PYTHON, compileBenchC, cpuSecondsOf, loadAverage, minorFaultsOf, median, nodeVersion, positional, printMarkdown, pythonHas, runLoadgen, startServer, stopServer } from './harness.js';

const here = dirname(fileURLToPath(import.meta.url));
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 1);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 0.3);
const list = (name, fallback) => (process.env[name] ?? fallback).split(',').filter(Boolean).map(Number);
const SIZES = list('BENCH_SIZES', '1024,16384,102400');
const CONNS = list('BENCH_CONNS', '1,10,100');
const STORM_CONNS = list('BENCH_STORM_CONNS', '1,100');
const ALL = ['c', 'net', 'default', 'proactor', 'uring', 'asyncio', 'uvloop'];
const named = positional();
const unknown = named.filter((k) => !ALL.includes(k) && k !== 'selector');
if (unknown.length > 0) {
  console.error(`echo: unknown kind(s) ${unknown.join(', ')}; kinds: ${[...ALL, 'selector'].join(', ')}`);
  process.exit(2);
}
let kinds = named.length > 0 ? ['c', 'net', ...new Set(named.filter((k) => k !== 'c' && k !== 'net'))] : ALL;
const skipped = [];
if (!pythonHas('asyncio')) skipped.push(...kinds.filter((k) => k === 'asyncio' || k === 'uvloop'));
else if (!pythonHas('uvloop')) skipped.push('uvloop');
kinds = kinds.filter((k) => !skipped.includes(k));

// Server on CPU 0, load generator on CPU 1: they never compete for a core.
const pinned = availableParallelism() >= 2 && spawnSync('taskset', ['-c', '0', 'true']).status === 0;
const pin = (cpu, argv) => (pinned ? ['taskset', ['-c', String(cpu), ...argv]] : [argv[0], argv.slice(1)]);

const loadgenC = compileBenchC('loadgen.c', 'loadgen');
const loadgen = loadgenC ? { argv: [loadgenC], name: 'C (epoll)' } : { argv: [NODE, join(here, 'loadgen.js')], name: 'Node net (no C compiler found)' };
const cServer = compileBenchC('echo-server.c', 'echo-server');
if (cServer === null) kinds = kinds.filter((k) => k !== 'c');

/** The command line of a server kind (echo-server.js's kinds, the C server, the Python ones). */
function serverArgv(kind, extra = []) {
  if (kind === 'c') return [cServer];
  if (kind === 'asyncio' || kind === 'uvloop') return [PYTHON, join(here, 'echo_server.py'), kind, ...extra];
  return [NODE, ...(extra.includes('--memory') ? ['--expose-gc'] : []), join(here, 'echo-server.js'), kind, ...extra];
}

/**
 * One run: {rate, cpu (server µs per request), faults (server minor faults per request), mean,
 * p99 (µs)}. The server's figures cover the timed part only, as req/s does: from the end of
 * the load generator's warm-up (a JIT-compiling server spends its start-up there) to its exit.
 */
async function runOnce(kind, size, conns) {
  const { child, port } = await startServer(pin(0, serverArgv(kind)).flat());
  try {
    const [cmd, args] = pin(1, [...loadgen.argv, '127.0.0.1', String(port), String(conns), String(size), String(WARMUP), String(SECONDS)]);
    const finished = runLoadgen(cmd, args);
    let warm = null;
    const timer = setTimeout(() => (warm = { cpu: cpuSecondsOf(child.pid), faults: minorFaultsOf(child.pid) }), WARMUP * 1000);
    const output = await finished.finally(() => clearTimeout(timer));
    const [rate, total, mean, p99] = output;
    if (![rate, total, mean, p99].every(Number.isFinite)) throw new Error(`load generator printed "${output.join(' ')}", not "rate total mean p99"`);
    const cpu1 = cpuSecondsOf(child.pid);
    const faults1 = minorFaultsOf(child.pid);
    return {
      rate,
      cpu: warm?.cpu == null ? null : ((cpu1 - warm.cpu) / total) * 1e6,
      faults: warm?.faults == null ? null : (faults1 - warm.faults) / total,
      mean,
      p99,
    };
  } finally {
    await stopServer(child);
  }
}

const k = (rate) => (rate >= 1000 ? `${(rate / 1000).toFixed(1)}k` : rate.toFixed(0));
const sizeText = (size) => (size >= 1024 ? `${size / 1024} KiB` : `${size} B`);

/** Every cell of `cells` ([size, conns]) on every kind, kinds interleaved; medians per cell and kind. */
async function measureCells(kindList, cells) {
  const out = [];
  for (const [size, conns] of cells) {
    const runs = Object.fromEntries(kindList.map((kind) => [kind, []]));
    for (let i = 0; i < RUNS; i++) {
      for (const kind of kindList) runs[kind].push(await runOnce(kind, size, conns));
    }
    const medians = {};
    for (const kind of kindList) {
      const pick = (f) => median(runs[kind].map(f).filter((v) => v !== null));
      medians[kind] = { rate: pick((r) => r.rate), cpu: pick((r) => r.cpu), faults: pick((r) => r.faults), mean: pick((r) => r.mean), p99: pick((r) => r.p99), rates: runs[kind].map((r) => r.rate) };
    }
    out.push({ size, conns, medians });
    process.stdout.write(`  ${sizeText(size)} x ${conns}: ${kindList.map((kind) => `${kind} ${k(medians[kind].rate)}`).join(', ')}\n`);
  }
  return out;
}

const started = Date.now();
console.log(`echo: ${NODE} (${nodeVersion()}); load generator ${loadgen.name}; ${pinned ? 'server on CPU 0, load generator on CPU 1' : 'not pinned'}; ` +
  `${SECONDS}s per run after ${WARMUP}s warm-up, median of ${RUNS}; load average at start ${loadAverage()}` +
  (skipped.length > 0 ? `; skipped (no Python module): ${skipped.join(', ')}` : '') + (cServer === null ? '; no C server (no cc)' : ''));
const cells = SIZES.flatMap((size) => CONNS.map((conns) => [size, conns]));
const results = await measureCells(kinds, cells);
const others = kinds.filter((kind) => kind !== 'c' && kind !== 'net');
const ratio = (a, b) => (b ? `${(a / b).toFixed(2)}` : '-');

console.log(`\nreq/s (median), each kind's ratio to the C server and to net in brackets; load average now ${loadAverage()}`);
printMarkdown(
  ['size x conns', ...kinds.map((kind) => `${kind} req/s`), ...others.map((kind) => `${kind}/C (/net)`)],
  results.map(({ size, conns, medians: m }) => [
    `${sizeText(size)} x ${conns}`,
    ...kinds.map((kind) => k(m[kind].rate)),
    ...others.map((kind) => `${ratio(m[kind].rate, m.c?.rate)} (${ratio(m[kind].rate, m.net.rate)})`),
  ]),
);
console.log('\nserver CPU µs per request (user + system, /proc), median');
printMarkdown(
  ['size x conns', ...kinds],
  results.map(({ size, conns, medians: m }) => [`${sizeText(size)} x ${conns}`, ...kinds.map((kind) => (Number.isNaN(m[kind].cpu) ? '-' : m[kind].cpu.toFixed(1)))]),
);
console.log('\nserver minor page faults per request (/proc), median, after the warm-up');
printMarkdown(
  ['size x conns', ...kinds],
  results.map(({ size, conns, medians: m }) => [`${sizeText(size)} x ${conns}`, ...kinds.map((kind) => (Number.isNaN(m[kind].faults) ? '-' : m[kind].faults.toFixed(2)))]),
);
console.log('\nround trip µs, mean / p99 (median of the runs); with 1 connection this is the latency');
printMarkdown(
  ['size x conns', ...kinds],
  results.map(({ size, conns, medians: m }) => [`${sizeText(size)} x ${conns}`, ...kinds.map((kind) => `${m[kind].mean.toFixed(0)} / ${m[kind].p99.toFixed(0)}`)]),
);

if (STORM_CONNS.length > 0) {
  console.log('\necho under a callSoon storm: the default loop\'s echo (1 KiB) while the same loop runs a callSoon chain that never ends');
  const storm = await measureCells(['default', 'storm'], STORM_CONNS.map((conns) => [1024, conns]));
  printMarkdown(
    ['size x conns', 'default req/s', 'storm req/s', 'storm/default', 'default mean / p99 µs', 'storm mean / p99 µs'],
    storm.map(({ size, conns, medians: m }) => [
      `${sizeText(size)} x ${conns}`, k(m.default.rate), k(m.storm.rate), `${ratio(m.storm.rate, m.default.rate)}x`,
      `${m.default.mean.toFixed(0)} / ${m.default.p99.toFixed(0)}`, `${m.storm.mean.toFixed(0)} / ${m.storm.p99.toFixed(0)}`,
    ]),
  );
}
console.log(`\n${((Date.now() - started) / 1000).toFixed(0)} s; load average at the end ${loadAverage()}`);
