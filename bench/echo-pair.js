// Paired echo runs (bench/README.md, "Session 11 (s11b-latency)"): two server kinds of
// bench/echo-server.js on one cell, alternated run by run (the order swapped every round), a
// fresh server per run, pinned as bench/echo.js pins them. On a machine other jobs load, two
// runs of the same server differ by 20% and more; a ratio taken within a round, where both
// ran under the same load, moves less. Prints each kind's CPU µs per request (user + system,
// and user alone, from /proc), minor page faults per request (from /proc, after the warm-up, as
// bench/echo.js counts them) and req/s, then the per-round ratios second/first and their median;
// then each run's req/s and CPU busy (CPU seconds per second) and the per-round req/s ratios.
//
//   node bench/echo-pair.js <first kind> <second kind> [--node=PATH]
// A kind may name the tree whose echo-server.js serves it, `default@/tmp/old-tree` (a copy of
// the repository, built), to pair a change against the code it changes; `c` is the C server
// (bench/echo-server.c), the reference of issue 13's echo targets; `c-idle-poll` the same server
// polling as libuv with idle-time metrics (one epoll_wait with timeout 0 before each blocking one).
// `asyncio` and `uvloop` are bench/echo_server.py's (PYTHON, default /usr/bin/python3).
//   env: BENCH_ROUNDS=8 BENCH_SECONDS=2 BENCH_WARMUP=0.5 BENCH_SIZE=1024 BENCH_CONNS=1
import { availableParallelism } from 'node:os';
import { NODE, NODE_ECHO_KINDS, PYTHON_ECHO_KINDS, compileBenchC, cpuSecondsOf, echoServerScript, kindOf, loadAverage, median, minorFaultsOf, nodeVersion, pythonEchoArgv, runLoadgen, startServer, stopServer, twoServerKinds, userCpuSecondsOf } from './harness.js';

/** The kinds bench/echo-server.c serves. */
const C_KINDS = ['c', 'c-idle-poll'];
const [first, second] = twoServerKinds('echo-pair.js', [...C_KINDS, ...NODE_ECHO_KINDS, ...PYTHON_ECHO_KINDS], [...C_KINDS, ...PYTHON_ECHO_KINDS]);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 8);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 0.5);
const SIZE = Number(process.env.BENCH_SIZE ?? 1024);
const CONNS = Number(process.env.BENCH_CONNS ?? 1);

const pinned = availableParallelism() >= 2;
const pin = (cpu, argv) => (pinned ? ['taskset', '-c', String(cpu), ...argv] : argv);
const loadgen = compileBenchC('loadgen.c', 'loadgen');
const cServer = compileBenchC('echo-server.c', 'echo-server');
if (loadgen === null || cServer === null) {
  console.error('echo-pair: needs cc for bench/loadgen.c and bench/echo-server.c');
  process.exit(2);
}

/** The command line that serves `kind` or `kind@tree` (that tree's echo-server.js). */
function serverArgv(spec) {
  const kind = kindOf(spec);
  if (kind === 'c') return [cServer];
  if (kind === 'c-idle-poll') return [cServer, 'idle-poll'];
  if (PYTHON_ECHO_KINDS.includes(kind)) return pythonEchoArgv('echo-pair', kind);
  return [NODE, echoServerScript(spec), kind];
}

/** One run of `spec`: {rate, cpu, user, faults} (µs and minor faults per request over the timed part, as bench/echo.js counts it). */
async function runOnce(spec) {
  const argv = pin(0, serverArgv(spec));
  const { child, port } = await startServer(argv);
  try {
    const [cmd, ...args] = pin(1, [loadgen, '127.0.0.1', String(port), String(CONNS), String(SIZE), String(WARMUP), String(SECONDS)]);
    const finished = runLoadgen(cmd, args);
    let warm = null;
    const timer = setTimeout(() => (warm = { cpu: cpuSecondsOf(child.pid), user: userCpuSecondsOf(child.pid), faults: minorFaultsOf(child.pid) }), WARMUP * 1000);
    const [rate, total] = await finished.finally(() => clearTimeout(timer));
    if (warm === null || !(total > 0)) throw new Error(`${spec}: no timed requests (load generator: ${rate} ${total})`);
    return {
      rate,
      cpu: ((cpuSecondsOf(child.pid) - warm.cpu) / total) * 1e6,
      user: ((userCpuSecondsOf(child.pid) - warm.user) / total) * 1e6,
      faults: (minorFaultsOf(child.pid) - warm.faults) / total,
    };
  } finally {
    await stopServer(child);
  }
}

console.log(`echo-pair: ${first} then ${second}, ${SIZE} B x ${CONNS}; ${NODE} (${nodeVersion()}); ${ROUNDS} rounds of ${SECONDS} s after ${WARMUP} s; load average at start ${loadAverage()}`);
const runs = { [first]: [], [second]: [] };
for (let round = 0; round < ROUNDS; round++) {
  for (const kind of round % 2 === 0 ? [first, second] : [second, first]) runs[kind].push(await runOnce(kind));
}
const fixed = (values) => values.map((v) => v.toFixed(1)).join(' ');
for (const kind of [first, second]) {
  const r = runs[kind];
  console.log(`${kind}: CPU µs/request ${fixed(r.map((x) => x.cpu))} (median ${median(r.map((x) => x.cpu)).toFixed(1)}); ` +
    `user ${fixed(r.map((x) => x.user))} (median ${median(r.map((x) => x.user)).toFixed(1)}); ` +
    `faults/request ${r.map((x) => x.faults.toFixed(2)).join(' ')} (median ${median(r.map((x) => x.faults)).toFixed(2)}); req/s median ${median(r.map((x) => x.rate)).toFixed(0)}`);
  // CPU seconds per second of the run: below the other kind's at a lower rate, the server waited (for the load generator, or for events).
  const busy = r.map((x) => (x.cpu * x.rate) / 1e6);
  console.log(`${kind}: req/s ${r.map((x) => x.rate.toFixed(0)).join(' ')}; CPU busy (s/s) ${busy.map((v) => v.toFixed(2)).join(' ')} (median ${median(busy).toFixed(2)})`);
}
{
  const ratios = runs[first].map((a, i) => runs[second][i].rate / a.rate);
  console.log(`${second}/${first} req/s per round: ${ratios.map((v) => v.toFixed(2)).join(' ')}; median ${median(ratios).toFixed(2)}x`);
}
for (const field of ['cpu', 'user']) {
  const ratios = runs[first].map((a, i) => runs[second][i][field] / a[field]);
  console.log(`${second}/${first} ${field === 'cpu' ? 'CPU' : 'user CPU'} per round: ${ratios.map((v) => v.toFixed(2)).join(' ')}; median ${median(ratios).toFixed(2)}x`);
}
console.log(`load average at the end ${loadAverage()}`);
