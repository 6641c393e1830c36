// Shared by the benchmarks: run a case several times, keep the median, print ratios.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
export const RUNS = Number(process.env.BENCH_RUNS ?? 5);

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Time `fn` (async) RUNS times; returns the median ops/s for `ops` operations per run. */
export async function measure(ops, fn) {
  const rates = [];
  for (let i = 0; i < RUNS; i++) {
    globalThis.gc?.();
    // One turn of Node's loop before timing: libuv caches its clock at the start of each
    // turn, and setTimeout counts from that cached time, so timers set right after a long
    // gc() would count from before it and fire early, flattering any setTimeout baseline.
    await new Promise((resolve) => setImmediate(resolve));
    const start = performance.now();
    await fn();
    rates.push(ops / ((performance.now() - start) / 1000));
  }
  return median(rates);
}

export function formatRate(rate) {
  if (rate >= 1e6) return `${(rate / 1e6).toFixed(2)}M/s`;
  if (rate >= 1e3) return `${(rate / 1e3).toFixed(1)}k/s`;
  return `${rate.toFixed(0)}/s`;
}

/** Print one table row per case: loopkit rate, baseline rate, ratio, target. */
export function printTable(title, rows) {
  console.log(`\n${title} (median of ${RUNS})`);
  const header = ['case', 'loopkit', 'baseline', 'ratio', 'target'];
  const lines = rows.map((r) => [r.name, formatRate(r.loopkit), formatRate(r.baseline), `${(r.loopkit / r.baseline).toFixed(2)}x`, r.target ?? '']);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cols) => cols.map((c, i) => c.padEnd(widths[i])).join('  ');
  console.log(fmt(header));
  for (const l of lines) console.log(fmt(l));
}

/**
 * The Node binary every Node side of a bench runs with (loopkit's and the baseline's):
 * `--node=PATH` on the command line, else BENCH_NODE, else this process's own. Use
 * `BENCH_NODE=$(scripts/bench-node.sh 24)` to measure on Node 24.
 */
export const NODE = process.argv.find((a) => a.startsWith('--node='))?.slice(7) || process.env.BENCH_NODE || process.execPath;

/** The Python with asyncio (and uvloop) for the Python baselines: PYTHON, else /usr/bin/python3. */
export const PYTHON = process.env.PYTHON ?? '/usr/bin/python3';

/** The command-line arguments that are not `--name=value` options. */
export const positional = () => process.argv.slice(2).filter((a) => !a.startsWith('--'));

/** The value of `--name=value` (a comma list is split), else `fallback`. */
export function option(name, fallback) {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  return arg === undefined ? fallback : arg.slice(name.length + 3);
}

/** The fields of /proc/<pid>/stat after the command name (which may hold spaces); null without /proc. */
function procStat(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  } catch {
    return null;
  }
}

/** User CPU seconds process `pid` has used so far, from /proc; null without it. */
export function userCpuSecondsOf(pid) {
  const fields = procStat(pid);
  return fields === null ? null : Number(fields[11]) / 100;
}

/** CPU seconds (user + system) process `pid` has used so far, from /proc; null without it. */
export function cpuSecondsOf(pid) {
  const fields = procStat(pid);
  // utime and stime are the 12th and 13th fields after the name, in USER_HZ (100) ticks.
  return fields === null ? null : (Number(fields[11]) + Number(fields[12])) / 100;
}

/** How long a load generator may run: a run takes seconds. */
const LOADGEN_LIMIT_MS = 120_000;

/** Run a load generator; resolves to its output line's numbers, rejects when it fails or hangs. */
export function runLoadgen(cmd, args) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { encoding: 'utf8', timeout: LOADGEN_LIMIT_MS, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      if (error !== null && error.killed) reject(new Error(`the load generator did not finish within ${LOADGEN_LIMIT_MS / 1000} s (a server stopped answering): killed`));
      else if (error !== null) reject(new Error(`the load generator failed: ${stderr.trim() || error.message}`));
      else resolve(stdout.trim().split(' ').map(Number));
    });
  });
}

/** Minor page faults process `pid` has taken so far (its threads included), from /proc; null without it. */
export function minorFaultsOf(pid) {
  const fields = procStat(pid);
  return fields === null ? null : Number(fields[7]);
}

/** The version of a Node binary (`v24.1.0`), asked once per binary. */
const versions = new Map();
export function nodeVersion(binary = NODE) {
  if (!versions.has(binary)) versions.set(binary, execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim());
  return versions.get(binary);
}

/** Whether `python` can import `module`. */
export function pythonHas(module, python = PYTHON) {
  try {
    execFileSync(python, ['-c', `import ${module}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The machine's load average now, for the header of every table. */
export const loadAverage = () => loadavg().map((l) => l.toFixed(2)).join(' ');

/** Print `rows` (arrays of strings) under `header` as a Markdown table. */
export function printMarkdown(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cols) => `| ${cols.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  console.log(line(header));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const row of rows) console.log(line(row));
}

export { reportMemory, reportTimed } from './case-report.js';

/** The server kinds bench/echo-server.js serves. */
export const NODE_ECHO_KINDS = ['net', 'default', 'selector', 'proactor', 'uring', 'storm', 'buffered'];
/** The kinds bench/echo_server.py serves (PYTHON's asyncio, and its uvloop), for the paired benches. */
export const PYTHON_ECHO_KINDS = ['asyncio', 'uvloop'];
/** The command line of a Python echo kind; exits (status 2) when PYTHON lacks the module it needs. */
export function pythonEchoArgv(script, kind) {
  if (!pythonHas(kind)) {
    console.error(`${script}: ${kind} needs ${PYTHON} with ${kind} (set PYTHON)`);
    process.exit(2);
  }
  return [PYTHON, join(dirname(fileURLToPath(import.meta.url)), 'echo_server.py'), kind];
}
/** The server kind of `kind` or `kind@tree`. */
export const kindOf = (spec) => spec.split('@')[0];
/** The echo-server.js that serves a Node kind: this tree's, or `tree`'s (a built copy) after an @. */
export function echoServerScript(spec) {
  const tree = spec.slice(kindOf(spec).length + 1);
  return join(tree === '' ? dirname(fileURLToPath(import.meta.url)) : join(resolve(tree), 'bench'), 'echo-server.js');
}

/**
 * The two server kinds (`kind[@tree]` each) a paired bench compares, from the command line;
 * `kinds` it takes, `builtIn` those served without echo-server.js (the C server). Anything
 * else prints `script`'s usage and exits 2.
 */
export function twoServerKinds(script, kinds, builtIn = []) {
  const [first, second, ...extra] = positional();
  const served = (spec) => kinds.includes(kindOf(spec)) && (builtIn.includes(kindOf(spec)) || existsSync(echoServerScript(spec)));
  if (first === undefined || second === undefined || first === second || extra.length > 0 || !served(first) || !served(second)) {
    console.error(`usage: node bench/${script} <first kind>[@tree] <second kind>[@tree] [--node=PATH]; kinds: ${kinds.join(', ')}`);
    process.exit(2);
  }
  return [first, second];
}

/** Start a server process (`argv`) that prints "PORT <n>" when it listens: resolves to {child, port, lines}. */
export function startServer(argv) {
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = [];
  return new Promise((resolve, reject) => {
    let text = '';
    let port = null;
    child.stdout.on('data', (chunk) => {
      text += chunk;
      const parts = text.split('\n');
      text = parts.pop();
      for (const line of parts) {
        const match = /^PORT (\d+)/.exec(line);
        if (match && port === null) {
          port = Number(match[1]);
          resolve({ child, port, lines });
        } else lines.push(line);
      }
    });
    child.on('exit', (code) => reject(new Error(`server '${argv.join(' ')}' exited with ${code} before listening`)));
  });
}

/** SIGTERM a server process and wait until it has exited (SIGKILL after 5 s, said on stderr). */
export async function stopServer(child) {
  const exited = new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', resolve)));
  child.kill('SIGTERM');
  const timer = setTimeout(() => {
    console.error(`server ${child.spawnargs.join(' ')} did not exit within 5 s of SIGTERM: killed`);
    child.kill('SIGKILL');
  }, 5000);
  await exited;
  clearTimeout(timer);
}

/**
 * Compile a C file of bench/ once per content (null without a compiler or a library): the
 * binary's name holds a hash of the source, and it is written under another name and then
 * renamed, so benches of other worktrees compiling their own versions at the same moment
 * cannot swap or truncate it.
 */
export function compileBenchC(source, name, libraries = []) {
  const path = join(dirname(fileURLToPath(import.meta.url)), source);
  const hash = createHash('sha256').update(readFileSync(path)).digest('hex').slice(0, 12);
  const out = join(tmpdir(), `loopkit-${name}-${process.getuid?.() ?? 0}-${hash}`);
  if (existsSync(out)) return out;
  const partial = `${out}.${process.pid}`;
  try {
    execFileSync('cc', ['-O2', '-o', partial, path, ...libraries], { stdio: 'ignore' });
    renameSync(partial, out);
    return out;
  } catch {
    return null;
  }
}
