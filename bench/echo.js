// Echo benchmark (pnpm bench:echo): echo servers of several kinds (bench/echo-server.js)
// driven by one load generator (bench/loadgen.c, or bench/loadgen.js without a C compiler),
// each in its own process, pinned to its own CPU with taskset when there are two or more.
// For every message size x connection count, each server kind runs RUNS times (kinds
// interleaved); the table shows the median req/s and the ratio to Node's `net`. On Linux
// it also shows the server's CPU time per request (from /proc), which shared or busy
// machines distort far less than req/s.
//
//   node bench/echo.js [kind ...]          kinds: net (always), selector (default), proactor
//   env: BENCH_RUNS=3 BENCH_SECONDS=3 BENCH_WARMUP=0.5 BENCH_SIZES=1024,16384 BENCH_CONNS=10,100
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './harness.js';

const here = dirname(fileURLToPath(import.meta.url));
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 0.5);
const SIZES = (process.env.BENCH_SIZES ?? '1024,16384').split(',').map(Number);
const CONNS = (process.env.BENCH_CONNS ?? '10,100').split(',').map(Number);
const kinds = ['net', ...new Set(process.argv.slice(2).filter((k) => k !== 'net'))];
if (kinds.length === 1) kinds.push('selector');

// Server on CPU 0, load generator on CPU 1: they never compete for a core.
const pinned = availableParallelism() >= 2 && spawnSync('taskset', ['-c', '0', 'true']).status === 0;
const pin = (cpu, argv) => (pinned ? ['taskset', ['-c', String(cpu), ...argv]] : [argv[0], argv.slice(1)]);

function buildLoadgen() {
  const out = join(tmpdir(), `loopkit-loadgen-${process.getuid?.() ?? 0}`);
  mkdirSync(dirname(out), { recursive: true });
  try {
    execFileSync('cc', ['-O2', '-o', out, join(here, 'loadgen.c')], { stdio: 'ignore' });
    return { argv: [out], name: 'C (epoll)' };
  } catch {
    return { argv: [process.execPath, join(here, 'loadgen.js')], name: 'Node net (no C compiler found)' };
  }
}

function startServer(kind) {
  const [cmd, args] = pin(0, [process.execPath, join(here, 'echo-server.js'), kind]);
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let text = '';
    child.stdout.on('data', (chunk) => {
      text += chunk;
      const match = /PORT (\d+)/.exec(text);
      if (match) resolve({ child, port: Number(match[1]) });
    });
    child.on('exit', (code) => reject(new Error(`echo server '${kind}' exited with ${code} before listening`)));
  });
}

/** CPU seconds (user + system) the process has used so far; null where /proc is missing. */
const TICK = 0.01; // USER_HZ is 100 on Linux
function cpuSeconds(pid) {
  const file = `/proc/${pid}/stat`;
  if (!existsSync(file)) return null;
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const fields = readFileSync(file, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK;
}

/** One run: [req/s, server CPU microseconds per request or null]. */
async function runOnce(loadgen, kind, size, conns) {
  const { child, port } = await startServer(kind);
  try {
    const [cmd, args] = pin(1, [...loadgen.argv, '127.0.0.1', String(port), String(conns), String(size), String(WARMUP), String(SECONDS)]);
    const cpu0 = cpuSeconds(child.pid);
    const [rate, total] = execFileSync(cmd, args, { encoding: 'utf8' }).trim().split(' ').map(Number);
    const cpu1 = cpuSeconds(child.pid);
    return [rate, cpu0 === null || cpu1 === null ? null : ((cpu1 - cpu0) / total) * 1e6];
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)));
  }
}

const format = (rate) => `${(rate / 1000).toFixed(1)}k`;

const loadgen = buildLoadgen();
console.log(`echo: load generator ${loadgen.name}; ${pinned ? 'server on CPU 0, load generator on CPU 1' : 'not pinned'}; ` +
  `${SECONDS}s per run after ${WARMUP}s warm-up, median of ${RUNS}`);
const header = [
  'size', 'conns',
  ...kinds.map((k) => `${k} req/s`), ...kinds.slice(1).map((k) => `${k}/net`),
  ...kinds.map((k) => `${k} CPU µs/req`),
];
const rows = [];
for (const size of SIZES) {
  for (const conns of CONNS) {
    const rates = Object.fromEntries(kinds.map((k) => [k, []]));
    const costs = Object.fromEntries(kinds.map((k) => [k, []]));
    for (let i = 0; i < RUNS; i++) {
      for (const kind of kinds) {
        const [rate, cost] = await runOnce(loadgen, kind, size, conns);
        rates[kind].push(rate);
        if (cost !== null) costs[kind].push(cost);
      }
    }
    const medians = kinds.map((k) => median(rates[k]));
    const cpu = kinds.map((k) => (costs[k].length > 0 ? median(costs[k]).toFixed(1) : '-'));
    const row = [
      size >= 1024 ? `${size / 1024} KiB` : `${size} B`, String(conns),
      ...medians.map(format), ...medians.slice(1).map((m) => `${(m / medians[0]).toFixed(2)}x`), ...cpu,
    ];
    rows.push(row);
    console.log(row.join('  '));
  }
}
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cols) => `| ${cols.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
console.log(`\n${line(header)}\n${line(widths.map((w) => '-'.repeat(w)))}`);
for (const row of rows) console.log(line(row));
