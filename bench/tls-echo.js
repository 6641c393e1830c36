// TLS echo benchmark (the second half of `pnpm bench:echo`): TLS echo servers of several
// kinds driven by one TLS load generator, each in its own process, pinned to its own CPU
// with taskset (server on CPU 0, load generator on CPU 1), as bench/echo.js does for TCP.
// Same certificate (EC P-256, made by `openssl` for this run) and the same cipher on every
// kind: TLS 1.3, TLS_AES_128_GCM_SHA256 (the load generator offers nothing else).
//
// Kinds: tls (Node's tls module, the baseline), selector, proactor, uring (loopkit loops,
// bench/tls-echo-server.js), asyncio and uvloop (bench/tls_echo_server.py, /usr/bin/python3).
// For every message size x connection count the kinds run in RUNS rounds, one run of each
// kind per round, the order rotated from round to round (so no kind always follows the same
// neighbour or always opens a round). The table shows median req/s (and range), every
// kind's ratio to Node's tls (ratio of the medians), selector's ratios to tls and uvloop
// round by round (median and range of the per-round ratios: the runs of one round are
// seconds apart, so a slow phase of the machine weighs on both sides of such a ratio), the
// server's CPU time per request (median and range, from /proc, which a busy machine distorts
// far less than req/s) and the same ratios by it (tls's CPU per request over the kind's:
// above 1 when the kind is cheaper), minor page faults per request, the load generator's own
// CPU time per request against each kind (it must stay below the servers' for req/s to
// measure them), and the share of the timed run the server (all its threads) and the load
// generator spent runnable but waiting for their CPU (/proc schedstat): what the machine's
// other processes took from that run. The Node servers run on `--node=PATH` or BENCH_NODE
// (bench/harness.js), else on the node binary running this script. Target: selector >= 1.2x
// tls and >= 1.0x uvloop in every cell, by the median of the per-round req/s ratios.
//
// The C load generator counts the echoes from their TLS record headers once it has checked,
// on every connection, that each record holds length - 17 bytes (bench/tls-loadgen.c);
// `--verify` makes it decrypt and check every echo of the run instead (it then costs more).
//
//   node bench/tls-echo.js [--node=PATH] [--verify] [kind ...]   default: every kind available here
//   env: BENCH_RUNS=5 BENCH_SECONDS=3 BENCH_WARMUP=2 BENCH_SIZES=1024,65536 BENCH_CONNS=10,100
//        BENCH_NICE=-10 (opt-in: the bench's own scheduling group, see below)
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE, compileBenchC, cpuSecondsOf, loadAverage, median, minorFaultsOf, nodeVersion, positional, runLoadgen } from './harness.js';

const here = dirname(fileURLToPath(import.meta.url));

// BENCH_NICE=N: the bench, its servers and its load generators run in a scheduling group of
// their own (a new session: Linux's autogroup) with nice N. The scheduler shares a CPU
// between groups, not processes, so at nice 0 a busy neighbour's group takes half of the
// CPU a server or load generator needs, for every kind alike but not at the same moments
// (their req/s then mostly measures the neighbours); at -10 a group weighs about nine
// neighbours' groups. It takes that CPU from the neighbours: opt-in.
const NICE = process.env.BENCH_NICE;
if (NICE !== undefined && process.env.LOOPKIT_BENCH_GROUP !== NICE) {
  if (!/^-?\d+$/.test(NICE) || Number(NICE) < -20 || Number(NICE) > 19) {
    console.error(`tls-echo: BENCH_NICE must be an integer from -20 to 19, got '${NICE}'`);
    process.exit(2);
  }
  // detached: a new session, so a new autogroup that only this bench's processes share.
  const group = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit', detached: true, env: { ...process.env, LOOPKIT_BENCH_GROUP: NICE },
  });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => group.kill(signal));
  group.on('exit', (code) => process.exit(code ?? 1));
  await new Promise(() => {}); // the group's exit ends this process
}
if (NICE !== undefined) {
  try {
    writeFileSync('/proc/self/autogroup', NICE);
  } catch (error) {
    console.error(`tls-echo: cannot give the bench's scheduling group nice ${NICE} (BENCH_NICE; /proc/self/autogroup: ${error.code ?? error.message}): ` +
      'a lower nice needs CAP_SYS_NICE, and the kernel must schedule by autogroup');
    process.exit(1);
  }
}
// Five rounds: with three, one slow phase of the machine in two of them decides a median.
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
// A Node server on a busy machine is still compiling (and faulting in its heap) 1 s after the
// load starts: the figures are its steady state, after 2 s.
const WARMUP = Number(process.env.BENCH_WARMUP ?? 2);
const SIZES = (process.env.BENCH_SIZES ?? '1024,65536').split(',').map(Number);
const CONNS = (process.env.BENCH_CONNS ?? '10,100').split(',').map(Number);
const PYTHON = '/usr/bin/python3';
const VERIFY = process.argv.includes('--verify');

const pinned = availableParallelism() >= 2 && spawnSync('taskset', ['-c', '0', 'true']).status === 0;
const pin = (cpu, argv) => (pinned ? ['taskset', ['-c', String(cpu), ...argv]] : [argv[0], argv.slice(1)]);

/** Why a kind cannot run here, or null. */
function missing(kind) {
  if (kind === 'asyncio' || kind === 'uvloop') {
    const r = spawnSync(PYTHON, ['-c', kind === 'uvloop' ? 'import ssl, uvloop' : 'import ssl, asyncio']);
    return r.status === 0 ? null : `${PYTHON} cannot import ${kind === 'uvloop' ? 'uvloop' : 'ssl'}`;
  }
  if (kind === 'uring') {
    const r = spawnSync(NODE, ['-e', "import('@loopkit/proactor').then((m) => process.exit(m.UringProactor.problem() === null ? 0 : 1))"], { cwd: here });
    return r.status === 0 ? null : 'io_uring is not usable here';
  }
  return null;
}

const ALL = ['tls', 'selector', 'proactor', 'uring', 'asyncio', 'uvloop'];
const asked = positional();
const kinds = ['tls', ...new Set((asked.length > 0 ? asked : ALL).filter((k) => k !== 'tls'))].filter((k) => {
  const why = missing(k);
  if (why !== null) console.log(`tls-echo: skipping ${k}: ${why}`);
  return why === null;
});

/** A self-signed EC P-256 certificate for localhost, also the client's trust anchor. */
function makeCerts() {
  const dir = mkdtempSync(join(tmpdir(), 'loopkit-tls-bench-'));
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
    '-keyout', join(dir, 'server.key'), '-out', join(dir, 'server.pem'), '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost', '-addext', 'basicConstraints=critical,CA:TRUE',
  ], { stdio: 'ignore' });
  return dir;
}

function buildLoadgen() {
  const binary = compileBenchC('tls-loadgen.c', 'tls-loadgen', ['-lssl', '-lcrypto']);
  if (binary === null) return { argv: [NODE, join(here, 'tls-loadgen.js')], name: 'Node tls (no C compiler or no libssl-dev)' };
  return { argv: [binary], name: VERIFY ? 'C (epoll + OpenSSL), decrypting every echo' : 'C (epoll + OpenSSL), counting echoes from record headers' };
}

function startServer(kind, certdir) {
  const argv = kind === 'asyncio' || kind === 'uvloop'
    ? [PYTHON, join(here, 'tls_echo_server.py'), certdir, ...(kind === 'uvloop' ? ['--uvloop'] : [])]
    : [NODE, join(here, 'tls-echo-server.js'), kind, certdir];
  const [cmd, args] = pin(0, argv);
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let text = '';
    child.stdout.on('data', (chunk) => {
      text += chunk;
      const match = /PORT (\d+)/.exec(text);
      if (match) resolve({ child, port: Number(match[1]) });
    });
    child.on('exit', (code) => reject(new Error(`TLS echo server '${kind}' exited with ${code} before listening`)));
  });
}

/**
 * CPU seconds (user + system), minor page faults and seconds spent runnable but waiting for
 * a CPU (summed over its threads, from schedstat; null without it) of process `pid` so far,
 * or null.
 */
function usage(pid) {
  const cpu = cpuSecondsOf(pid);
  if (cpu === null) return null;
  return { cpu, faults: minorFaultsOf(pid), waited: runqueueWait(pid) };
}

function runqueueWait(pid) {
  let nanoseconds = 0;
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      // A thread may end between the listing and the read: it then counts for nothing.
      try {
        nanoseconds += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[1]);
      } catch {}
    }
  } catch {
    return null;
  }
  return nanoseconds / 1e9;
}

/**
 * One run: req/s, the server's CPU microseconds and minor page faults per request (null when
 * /proc is not there), the load generator's CPU microseconds per request, and the shares of
 * the run the server and the load generator waited for their CPU (null when unknown). The
 * server's figures cover the timed part only, as req/s does: from the end of the warm-up (a
 * JIT-compiling server spends its start-up there) to the load generator's exit.
 */
async function runOnce(loadgen, kind, size, conns, certdir) {
  const { child, port } = await startServer(kind, certdir);
  try {
    const [cmd, args] = pin(1, [...loadgen.argv, '127.0.0.1', String(port), String(conns), String(size), String(WARMUP), String(SECONDS), join(certdir, 'server.pem'), ...(VERIFY ? ['--verify'] : [])]);
    const finished = runLoadgen(cmd, args);
    let warm = null;
    const timer = setTimeout(() => (warm = usage(child.pid)), WARMUP * 1000);
    const [rate, , loadgenCost, loadgenWaitedMs] = await finished.finally(() => clearTimeout(timer));
    const after = usage(child.pid);
    const timed = rate * SECONDS;
    // The Node fallback load generator reports no wait.
    const loadgenWaited = loadgenWaitedMs === undefined || loadgenWaitedMs < 0 ? null : loadgenWaitedMs / 1000 / SECONDS;
    if (warm === null || after === null) return { rate, cost: null, faults: null, loadgenCost, serverWaited: null, loadgenWaited };
    const serverWaited = warm.waited === null || after.waited === null ? null : (after.waited - warm.waited) / SECONDS;
    return { rate, cost: ((after.cpu - warm.cpu) / timed) * 1e6, faults: (after.faults - warm.faults) / timed, loadgenCost, serverWaited, loadgenWaited };
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)));
  }
}

const format = (rate) => `${(rate / 1000).toFixed(1)}k`;
const ratio = (a, b) => `${(a / b).toFixed(2)}x`;

const certdir = makeCerts();
try {
  const loadgen = buildLoadgen();
  console.log(`tls-echo: Node ${nodeVersion()}; TLS 1.3 TLS_AES_128_GCM_SHA256, EC P-256; load generator ${loadgen.name}; ` +
    `${pinned ? 'server on CPU 0, load generator on CPU 1' : 'not pinned'}; ${NICE === undefined ? 'default scheduling' : `own scheduling group at nice ${NICE}`}; ${SECONDS}s per run after ${WARMUP}s warm-up, ${RUNS} rounds (kinds in rotated order), medians; load average ${loadAverage()}`);
  const others = kinds.slice(1);
  const vsUvloop = kinds.includes('selector') && kinds.includes('uvloop');
  // The target's ratios, taken round by round.
  const paired = kinds.includes('selector') ? ['tls', ...(vsUvloop ? ['uvloop'] : [])] : [];
  const header = [
    'size', 'conns', ...kinds.map((k) => `${k} req/s`), ...others.map((k) => `${k}/tls`),
    ...(vsUvloop ? ['selector/uvloop'] : []), ...paired.map((k) => `selector/${k} per round`),
    ...kinds.map((k) => `${k} CPU µs/req`),
    ...others.map((k) => `${k}/tls by CPU`), ...(vsUvloop ? ['selector/uvloop by CPU'] : []),
    ...kinds.map((k) => `${k} faults/req`), ...kinds.map((k) => `loadgen µs/req vs ${k}`),
    ...kinds.map((k) => `${k} run: % waiting for CPU (server / loadgen)`),
  ];
  const rows = [];
  let missed = 0;
  for (const size of SIZES) {
    for (const conns of CONNS) {
      const perKind = () => Object.fromEntries(kinds.map((k) => [k, []]));
      const rates = perKind();
      const costs = perKind();
      const faults = perKind();
      const loadgenCosts = perKind();
      const serverWaits = perKind();
      const loadgenWaits = perKind();
      for (let round = 0; round < RUNS; round++) {
        for (let j = 0; j < kinds.length; j++) {
          const kind = kinds[(round + j) % kinds.length];
          const run = await runOnce(loadgen, kind, size, conns, certdir);
          rates[kind].push(run.rate);
          if (run.cost !== null) costs[kind].push(run.cost);
          if (run.faults !== null) faults[kind].push(run.faults);
          loadgenCosts[kind].push(run.loadgenCost);
          if (run.serverWaited !== null) serverWaits[kind].push(run.serverWaited);
          if (run.loadgenWaited !== null) loadgenWaits[kind].push(run.loadgenWaited);
        }
      }
      const m = Object.fromEntries(kinds.map((k) => [k, median(rates[k])]));
      const c = Object.fromEntries(kinds.map((k) => [k, costs[k].length > 0 ? median(costs[k]) : null]));
      const roundRatios = Object.fromEntries(paired.map((k) => [k, rates.selector.map((rate, i) => rate / rates[k][i])]));
      const r = Object.fromEntries(paired.map((k) => [k, median(roundRatios[k])]));
      // Cost ratios the way round of the req/s ones: above 1 when the kind costs less CPU per request.
      const cheaper = (k, than) => (c[k] === null || c[than] === null ? '-' : ratio(c[than], c[k]));
      const span = (values, digits, scale = 1, unit = '') => values.length < 2 ? '' :
        ` (${(Math.min(...values) / scale).toFixed(digits)}-${(Math.max(...values) / scale).toFixed(digits)}${unit})`;
      const percent = (values) => (values.length > 0 ? (median(values) * 100).toFixed(0) : '-');
      if (paired.length > 0 && (r.tls < 1.2 || (vsUvloop && r.uvloop < 1))) missed += 1;
      const row = [
        size >= 1024 ? `${size / 1024} KiB` : `${size} B`, String(conns),
        ...kinds.map((k) => format(m[k]) + span(rates[k], 1, 1000)), ...others.map((k) => ratio(m[k], m.tls)),
        ...(vsUvloop ? [ratio(m.selector, m.uvloop)] : []),
        ...paired.map((k) => `${r[k].toFixed(2)}x${span(roundRatios[k], 2, 1, 'x')}`),
        ...kinds.map((k) => (c[k] !== null ? c[k].toFixed(1) + span(costs[k], 1) : '-')),
        ...others.map((k) => cheaper(k, 'tls')), ...(vsUvloop ? [cheaper('selector', 'uvloop')] : []),
        ...kinds.map((k) => (faults[k].length > 0 ? median(faults[k]).toFixed(2) : '-')),
        ...kinds.map((k) => median(loadgenCosts[k]).toFixed(1)),
        ...kinds.map((k) => `${percent(serverWaits[k])} / ${percent(loadgenWaits[k])}`),
      ];
      rows.push(row);
      console.log(row.join('  '));
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cols) => `| ${cols.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  console.log(`\n${line(header)}\n${line(widths.map((w) => '-'.repeat(w)))}`);
  for (const row of rows) console.log(line(row));
  console.log(`\nload average at the end: ${loadAverage()}`);
  if (kinds.includes('selector')) {
    console.log(`target (selector >= 1.2x tls${vsUvloop ? ' and >= 1.0x uvloop' : ''} in every cell, by the median per-round ratio): ${missed === 0 ? 'met' : `missed in ${missed} of ${rows.length} cells`}`);
  }
} finally {
  rmSync(certdir, { recursive: true, force: true });
}
