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
//        BENCH_SYSCALLS=1: also count the server's syscalls per request (perf stat on syscall
//        tracepoints, so root or perf_event_paranoid <= -1): a figure the machine's load moves
//        far less than CPU time
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
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

/**
 * Syscalls counted per request with BENCH_SYSCALLS=1: [label, tracepoint, filter]. An epoll_pwait
 * that returns EINTR is counted apart: io_uring's task work interrupts the one a sleeping
 * thread is in (see bench/README.md, "Session 11 (s11b-latency)").
 */
const SYSCALLS = [
  ['epoll_wait', 'syscalls:sys_enter_epoll_wait', null],
  ['epoll', 'syscalls:sys_enter_epoll_pwait', null],
  ['EINTR', 'syscalls:sys_exit_epoll_pwait', 'ret == -4'],
  ['recv', 'syscalls:sys_enter_recvfrom', null],
  ['read', 'syscalls:sys_enter_read', null],
  ['send', 'syscalls:sys_enter_sendto', null],
  ['write', 'syscalls:sys_enter_write', null],
  ['writev', 'syscalls:sys_enter_writev', null],
  ['uring', 'syscalls:sys_enter_io_uring_enter', null],
];
const countSyscalls = process.env.BENCH_SYSCALLS === '1' && perfCanCount();

/** Whether `perf stat` can count syscall tracepoints here (said on stderr when it cannot). */
function perfCanCount() {
  const probe = spawnSync('perf', ['stat', '-x,', '-e', SYSCALLS[0][1], '--', 'true'], { encoding: 'utf8' });
  if (probe.status === 0 && !/not supported|<not counted>/.test(probe.stderr)) return true;
  console.error(`echo: BENCH_SYSCALLS=1 needs perf with syscall tracepoints (${(probe.error?.message ?? probe.stderr.trim().split('\n')[0]) || 'unavailable'}): no syscall table`);
  return false;
}

/**
 * Attach `perf stat` to `pid` (every thread) with its counters off; the returned counter's
 * enable() and disable() switch them (each resolves once perf acknowledged it), so the window
 * is the CPU figure's, from the end of the warm-up (once perf enabled its counters: the
 * promise gives that moment, null if perf exited) to the load generator's exit. stop()
 * resolves to {label: count}.
 */
function attachSyscallCounter(pid) {
  const dir = mkdtempSync(join(tmpdir(), 'loopkit-echo-syscalls-'));
  const out = join(dir, 'counts.csv');
  const events = SYSCALLS.flatMap(([, event, filter]) => (filter === null ? ['-e', event] : ['-e', event, '--filter', filter]));
  // fd 3: commands to perf; fd 4: its acknowledgements.
  const perf = spawn('perf', ['stat', '-x,', '-D', '-1', '--control', 'fd:3,4', ...events, '-p', String(pid), '-o', out], { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'] });
  const exited = new Promise((resolve) => perf.once('exit', resolve));
  perf.stdio[3].on('error', () => {}); // perf gone (it failed to attach): exited says so
  // Resolves to the moment perf acknowledged `word`, or null when perf exited first.
  const command = (word) =>
    Promise.race([
      new Promise((resolve) => {
        perf.stdio[4].once('data', () => resolve(performance.now()));
        perf.stdio[3].write(`${word}\n`);
      }),
      exited.then(() => null),
    ]);
  return {
    enable: () => command('enable'),
    disable: () => command('disable'),
    async stop() {
      if (perf.exitCode === null && perf.signalCode === null) perf.kill('SIGINT');
      await exited;
      if (!existsSync(dir)) return {}; // stopped before
      try {
        if (!existsSync(out)) return {}; // perf failed to attach: the table shows '-'
        // One line per event, in the order given: "count,unit,event,..."
        const lines = readFileSync(out, 'utf8').split('\n').filter((line) => line.includes('syscalls:'));
        return Object.fromEntries(SYSCALLS.map(([label], i) => [label, Number(lines[i]?.split(',')[0]) || 0]));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

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
  const counter = countSyscalls ? attachSyscallCounter(child.pid) : null;
  try {
    const [cmd, args] = pin(1, [...loadgen.argv, '127.0.0.1', String(port), String(conns), String(size), String(WARMUP), String(SECONDS)]);
    const finished = runLoadgen(cmd, args);
    let warm = null;
    let counting = null;
    const timer = setTimeout(() => {
      warm = { cpu: cpuSecondsOf(child.pid), faults: minorFaultsOf(child.pid) };
      counting = counter?.enable();
    }, WARMUP * 1000);
    const output = await finished.finally(() => clearTimeout(timer));
    const endedAt = performance.now();
    const [rate, total, mean, p99] = output;
    if (![rate, total, mean, p99].every(Number.isFinite)) throw new Error(`load generator printed "${output.join(' ')}", not "rate total mean p99"`);
    const cpu1 = cpuSecondsOf(child.pid);
    const faults1 = minorFaultsOf(child.pid);
    let syscalls = null;
    if (counter !== null && counting !== null) {
      const enabledAt = await counting;
      const disabled = enabledAt === null ? null : await counter.disable();
      const counts = await counter.stop();
      // perf takes a moment to enable its counters: the requests in its window, at the run's rate.
      const requests = disabled === null ? 0 : rate * ((endedAt - enabledAt) / 1000);
      if (requests > 0) syscalls = Object.fromEntries(Object.entries(counts).map(([label, count]) => [label, count / requests]));
    }
    return {
      rate,
      cpu: warm?.cpu == null ? null : ((cpu1 - warm.cpu) / total) * 1e6,
      faults: warm?.faults == null ? null : (faults1 - warm.faults) / total,
      syscalls,
      mean,
      p99,
    };
  } finally {
    await counter?.stop(); // a no-op once stopped
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
      const syscalls = countSyscalls ? Object.fromEntries(SYSCALLS.map(([label]) => [label, pick((r) => r.syscalls?.[label] ?? null)])) : null;
      medians[kind] = { syscalls, rate: pick((r) => r.rate), cpu: pick((r) => r.cpu), faults: pick((r) => r.faults), mean: pick((r) => r.mean), p99: pick((r) => r.p99), rates: runs[kind].map((r) => r.rate), p99s: runs[kind].map((r) => r.p99) };
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
/** A kind's syscalls per request as the tables print them (BENCH_SYSCALLS=1). */
const shown = (m) => SYSCALLS.map(([label]) => [label, m.syscalls[label]]).filter(([, n]) => n >= 0.005).map(([label, n]) => `${label} ${n.toFixed(2)}`).join(', ');
if (countSyscalls) {
  console.log('\nserver syscalls per request (perf stat on tracepoints, every thread, after the warm-up), median; EINTR: epoll_pwait calls interrupted');
  printMarkdown(
    ['size x conns', ...kinds],
    results.map(({ size, conns, medians: m }) => [`${sizeText(size)} x ${conns}`, ...kinds.map((kind) => shown(m[kind]) || '-')]),
  );
}
console.log('\nround trip µs, mean / p99 (median of the runs); with 1 connection this is the latency');
printMarkdown(
  ['size x conns', ...kinds],
  results.map(({ size, conns, medians: m }) => [`${sizeText(size)} x ${conns}`, ...kinds.map((kind) => `${m[kind].mean.toFixed(0)} / ${m[kind].p99.toFixed(0)}`)]),
);

if (STORM_CONNS.length > 0) {
  console.log('\necho under a callSoon storm: the default loop\'s echo (1 KiB) while the same loop runs a callSoon chain that never ends');
  const storm = await measureCells(['default', 'storm'], STORM_CONNS.map((conns) => [1024, conns]));
  // Each storm run follows a default run: the median of those pairs' ratios, with their range,
  // says how steady the ratio is (a ratio of the two medians hides a swing of either side).
  const pairRatios = (m) => m.storm.rates.map((rate, i) => rate / m.default.rates[i]);
  const range = (values) => `${Math.min(...values).toFixed(2)}-${Math.max(...values).toFixed(2)}`;
  printMarkdown(
    ['size x conns', 'default req/s', 'storm req/s', 'storm/default', 'per run (range)', 'default runs (k req/s)', 'storm runs', 'default mean / p99 µs', 'storm mean / p99 µs', 'storm p99 per run (ms)'],
    storm.map(({ size, conns, medians: m }) => [
      `${sizeText(size)} x ${conns}`, k(m.default.rate), k(m.storm.rate), `${ratio(m.storm.rate, m.default.rate)}x`,
      `${median(pairRatios(m)).toFixed(2)}x (${range(pairRatios(m))})`,
      m.default.rates.map((rate) => (rate / 1000).toFixed(1)).join(' '), m.storm.rates.map((rate) => (rate / 1000).toFixed(1)).join(' '),
      `${m.default.mean.toFixed(0)} / ${m.default.p99.toFixed(0)}`, `${m.storm.mean.toFixed(0)} / ${m.storm.p99.toFixed(0)}`,
      m.storm.p99s.map((p99) => (p99 / 1000).toFixed(1)).join(' '),
    ]),
  );
  if (countSyscalls) {
    console.log('\nunder the storm, server syscalls per request (as above)');
    printMarkdown(
      ['size x conns', 'default', 'storm'],
      storm.map(({ size, conns, medians: m }) => [`${sizeText(size)} x ${conns}`, shown(m.default) || '-', shown(m.storm) || '-']),
    );
  }
}
console.log(`\n${((Date.now() - started) / 1000).toFixed(0)} s; load average at the end ${loadAverage()}`);
