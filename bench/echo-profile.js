// Where two echo servers' CPU per request differs, by function (bench/README.md, "Session 18
// (s18-uring)"): CPU time ranks servers only to ~5% on a loaded machine and callgrind counts
// user space alone, so this samples each server with `perf record -e cpu-clock` (kernel and
// user space, JavaScript named through `--perf-basic-prof`) while bench/loadgen.c drives it,
// the two kinds alternated run by run as bench/echo-pair.js does, a fresh server per run. Each
// function's samples are divided by the requests served in the sampled window: nanoseconds
// per request. Printed: each kind's total and its share per binary (kernel, node, libc, JIT,
// the addons), then the functions whose cost per request differs most between the two.
//
//   node bench/echo-profile.js <first kind>[@tree] <second kind>[@tree] [--node=PATH]
// Kinds: bench/echo-server.js's, `c` (bench/echo-server.c, issue 13's reference), `asyncio` and
// `uvloop` (bench/echo_server.py, PYTHON).
//   env: BENCH_ROUNDS=3 BENCH_SECONDS=4 BENCH_WARMUP=0.7 BENCH_SIZE=1024 BENCH_CONNS=10 BENCH_TOP=40
// Needs `perf` with access to the server's samples (root, or perf_event_paranoid <= 1); a
// virtual machine without a PMU still has the cpu-clock software event.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { NODE, NODE_ECHO_KINDS, PYTHON_ECHO_KINDS, compileBenchC, echoServerScript, kindOf, loadAverage, nodeVersion, pythonEchoArgv, runLoadgen, startServer, stopServer, twoServerKinds } from './harness.js';

const BUILT_IN = ['c', ...PYTHON_ECHO_KINDS];
const [first, second] = twoServerKinds('echo-profile.js', [...NODE_ECHO_KINDS, ...BUILT_IN], BUILT_IN);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 0.7);
const SIZE = Number(process.env.BENCH_SIZE ?? 1024);
const CONNS = Number(process.env.BENCH_CONNS ?? 10);
const TOP = Number(process.env.BENCH_TOP ?? 40);
try {
  execFileSync('perf', ['--version'], { stdio: 'ignore' });
} catch {
  console.error('echo-profile: needs perf');
  process.exit(2);
}
const loadgen = compileBenchC('loadgen.c', 'loadgen');
const cServer = compileBenchC('echo-server.c', 'echo-server');
if (loadgen === null || cServer === null) {
  console.error('echo-profile: needs cc for bench/loadgen.c and bench/echo-server.c');
  process.exit(2);
}
const pinned = availableParallelism() >= 2;
const pin = (cpu, argv) => (pinned ? ['taskset', '-c', String(cpu), ...argv] : argv);
const work = mkdtempSync(join(tmpdir(), 'echo-profile-'));

/** Resolves when `child` exits; rejects on a nonzero status. */
function exited(child, what) {
  return new Promise((resolveExit, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolveExit() : reject(new Error(`${what} exited with ${code}`))));
  });
}

/** Nanoseconds per request by "binary symbol" from one perf.data, for `requests` requests. */
function costs(data, requests) {
  const report = execFileSync('perf', ['report', '-i', data, '--stdio', '--no-children', '--sort', 'dso,sym', '-F', 'period,dso,sym'], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const byName = new Map();
  for (const line of report.split('\n')) {
    const match = /^\s*(\d+)\s+(.*\S)\s*$/.exec(line);
    if (match === null) continue;
    // One name for a JIT function across runs: perf names the map by the server's thread id.
    const name = match[2].replace(/\[JIT\] tid \d+/, '[JIT]').replace(/\s+/g, ' ');
    byName.set(name, (byName.get(name) ?? 0) + Number(match[1]) / requests);
  }
  return byName;
}

/** The command line that serves `spec` (a Node kind with its JavaScript named for perf). */
function serverArgv(spec) {
  const kind = kindOf(spec);
  if (kind === 'c') return [cServer];
  if (PYTHON_ECHO_KINDS.includes(kind)) return pythonEchoArgv('echo-profile', kind);
  return [NODE, '--perf-basic-prof', echoServerScript(spec), kind];
}

/** One sampled run of `spec`: its nanoseconds per request by function. */
async function profileOnce(spec, index) {
  const { child, port } = await startServer(pin(0, serverArgv(spec)));
  const data = join(work, `${index}.data`);
  try {
    const [cmd, ...args] = pin(1, [loadgen, '127.0.0.1', String(port), String(CONNS), String(SIZE), String(WARMUP), String(SECONDS + 1)]);
    const finished = runLoadgen(cmd, args);
    await new Promise((r) => setTimeout(r, WARMUP * 1000));
    const perf = spawn('perf', ['record', '-q', '-e', 'cpu-clock', '-p', String(child.pid), '-o', data, '--', 'sleep', String(SECONDS)], { stdio: 'ignore' });
    await exited(perf, 'perf record');
    const [rate] = await finished;
    // The load generator's rate holds over its timed part, which spans the sampled window.
    return costs(data, rate * SECONDS);
  } finally {
    await stopServer(child);
  }
}

/** The mean of each function's cost over a kind's runs. */
function meanOf(runs) {
  const sum = new Map();
  for (const run of runs) for (const [name, ns] of run) sum.set(name, (sum.get(name) ?? 0) + ns / runs.length);
  return sum;
}

console.log(`echo-profile: ${first} against ${second}, ${SIZE} B x ${CONNS}; ${NODE} (${nodeVersion()}); ${ROUNDS} rounds of ${SECONDS} s sampled after ${WARMUP} s; load average at start ${loadAverage()}`);
const runs = { [first]: [], [second]: [] };
try {
  for (let round = 0, index = 0; round < ROUNDS; round++) {
    for (const spec of round % 2 === 0 ? [first, second] : [second, first]) runs[spec].push(await profileOnce(spec, index++));
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
const a = meanOf(runs[first]);
const b = meanOf(runs[second]);
const total = (m) => [...m.values()].reduce((s, v) => s + v, 0);
const binaryOf = (name) => (name.startsWith('[JIT]') ? '[JIT]' : name.split(' [')[0]);
const byBinary = (m) => {
  const out = new Map();
  for (const [name, ns] of m) out.set(binaryOf(name), (out.get(binaryOf(name)) ?? 0) + ns);
  return out;
};
const signed = (v) => (v >= 0 ? '+' : '') + v.toFixed(0);
const row = (x, y, name) => `${x.toFixed(0).padStart(8)} ${y.toFixed(0).padStart(8)} ${signed(y - x).padStart(8)}  ${name}`;
console.log(`ns per request: ${first} ${total(a).toFixed(0)}, ${second} ${total(b).toFixed(0)} (${(total(b) / total(a)).toFixed(2)}x)`);
console.log(`${'first'.padStart(8)} ${'second'.padStart(8)} ${'diff'.padStart(8)}  by binary`);
const binA = byBinary(a);
const binB = byBinary(b);
for (const name of [...new Set([...binA.keys(), ...binB.keys()])].sort((x, y) => (binB.get(y) ?? 0) + (binA.get(y) ?? 0) - (binB.get(x) ?? 0) - (binA.get(x) ?? 0))) {
  console.log(row(binA.get(name) ?? 0, binB.get(name) ?? 0, name));
}
console.log(`${'first'.padStart(8)} ${'second'.padStart(8)} ${'diff'.padStart(8)}  the ${TOP} functions that differ most`);
const names = [...new Set([...a.keys(), ...b.keys()])].sort((x, y) => Math.abs((b.get(y) ?? 0) - (a.get(y) ?? 0)) - Math.abs((b.get(x) ?? 0) - (a.get(x) ?? 0)));
for (const name of names.slice(0, TOP)) console.log(row(a.get(name) ?? 0, b.get(name) ?? 0, name));
console.log(`load average at the end ${loadAverage()}`);
