// pnpm bench:sched: scheduling as a user runs it. Every (case, side, run) is its own
// process, the sides interleaved, median of BENCH_RUNS (3):
// - loopkit: bench/sched-loopkit.js, its loop from the `loopkit` package's newEventLoop()
//   (`--loop=proactor,uring` adds a column per backend, chosen with LOOPKIT_BACKEND), and
//   the same case on BaseEventLoop alone as a reference column;
// - node: bench/sched-node.js, the case as written without loopkit, in a process that
//   loads none of it (no AsyncLocalStorage promise hooks);
// - asyncio and uvloop: bench/sched_bench.py on /usr/bin/python3 (PYTHON), for (a), (c),
//   (d), (i), (j).
// Rates are ops per CPU second of the measured process (user + system over the timed run,
// after a warm-up run of a tenth of the size in the same process), which the machine's
// other jobs distort far less than wall-clock time; (h) is by wall clock (it waits on
// worker threads). A second
// table gives the wall-clock rates. (i) and (j) give the RSS (MB) of the process holding
// 100k idle tasks after a full GC: lower is better.
//
//   node bench/sched.js [case letters, e.g. a c]  [--loop=default,proactor,uring]
//                       [--node=PATH | BENCH_NODE=PATH]  env: BENCH_RUNS, BENCH_SCALE,
//                       BENCH_WARMUP_RUNS, PYTHON
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sizes } from './sched-sizes.js';
import { NODE, PYTHON, loadAverage, median, nodeVersion, option, positional, printMarkdown, pythonHas } from './harness.js';

const here = dirname(fileURLToPath(import.meta.url));
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const node20 = Number(nodeVersion().slice(1).split('.')[0]) < 22;

/**
 * The cases: what the loopkit side does, the node baseline, which Python sides exist, and
 * the targets (issue 13), each a ratio of the default loop's figure to one side's.
 */
const cases = [
  { key: 'a', name: '(a) 1M callSoon chain vs setImmediate chain', python: true, targets: [['node', 3], ['uvloop', 2]] },
  { key: 'b', name: '(b) 1M callSoon at once vs 1M setImmediate', targets: [['node', 1]] },
  { key: 'c', name: '(c) 100k tasks, await sleep(0), gather vs async fns + setImmediate promise, Promise.all', python: true, targets: [['node', 1]] },
  { key: 'd', name: '(d) 1M Future create/setResult/await vs Promise', python: true, targets: [['asyncio', node20 ? 1 : 1.5]] },
  { key: 'e', name: '(e) 100k callLater <= 10 ms, half cancelled vs setTimeout/clearTimeout', targets: [['node', 1.3]] },
  { key: 'f', name: '(f) 100k tasks through gather vs Promise.all of async fns', targets: [] },
  { key: 'g', name: '(g) Queue(1000), 1M items vs hand-rolled promise channel', targets: [] },
  { key: 'h', name: '(h) 20 run()s, one executor call each vs 20 new Workers (wall clock)', clock: 'wall', targets: [['node', 10]] },
  { key: 'i', name: '(i) 100k idle tasks on Event.wait(), RSS MB vs async fns on one pending promise', memory: true, python: true, targets: [['asyncio', 1]] },
  { key: 'j', name: '(j) 100k idle tasks in sleep(3600), RSS MB vs async fns on a 1 h setTimeout promise', memory: true, python: true, targets: [['asyncio', 1]] },
];

const only = positional();
const chosen = cases.filter((c) => only.length === 0 || only.includes(c.key));
const loops = option('loop', 'default').split(',');
const withPython = pythonHas('asyncio');
const withUvloop = withPython && pythonHas('uvloop');

/** The sides of one case: [name, file, args, env]. */
function sides(c) {
  const list = loops.map((loop) => {
    const env = { ...process.env };
    if (loop === 'default') delete env.LOOPKIT_BACKEND;
    else env.LOOPKIT_BACKEND = loop;
    return [loop, NODE, ['--expose-gc', join(here, 'sched-loopkit.js'), c.key, 'policy'], env];
  });
  list.push(['base', NODE, ['--expose-gc', join(here, 'sched-loopkit.js'), c.key, 'base'], process.env]);
  list.push(['node', NODE, ['--expose-gc', join(here, 'sched-node.js'), c.key], process.env]);
  if (c.python && withPython) list.push(['asyncio', PYTHON, [join(here, 'sched_bench.py'), 'asyncio', c.key, String(sizes[c.key])], process.env]);
  if (c.python && withUvloop) list.push(['uvloop', PYTHON, [join(here, 'sched_bench.py'), 'uvloop', c.key, String(sizes[c.key])], process.env]);
  return list;
}

/** One process's figures: {rate, wallRate} or {rss}, and the loop class it ran. */
function once([, file, args, env]) {
  const out = execFileSync(file, args, { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 });
  const lines = out.trim().split('\n').map((l) => JSON.parse(l));
  const result = lines.at(-1);
  const loop = lines.find((l) => l.loop)?.loop;
  if (result.rss !== undefined) return { rss: result.rss / 1e6, growth: (result.rss - result.rssBefore) / 1e6, loop };
  return { rate: result.ops / result.cpu, wallRate: result.ops / result.wall, loop };
}

const started = Date.now();
console.log(`sched: ${NODE} (${nodeVersion()}), python ${withPython ? PYTHON : 'missing'}${withUvloop ? ' with uvloop' : ''}; ` +
  `one process per case, side and run, median of ${RUNS}; load average at start ${loadAverage()}`);
const results = new Map(chosen.map((c) => [c.key, new Map()]));
const loopNames = new Map();
for (let run = 0; run < RUNS; run++) {
  for (const c of chosen) {
    for (const side of sides(c)) {
      const figures = once(side);
      if (figures.loop && loops.includes(side[0])) loopNames.set(side[0], figures.loop);
      const all = results.get(c.key);
      if (!all.has(side[0])) all.set(side[0], []);
      all.get(side[0]).push(figures);
    }
    process.stdout.write(`  run ${run + 1}/${RUNS}: ${c.name.split(' vs ')[0]} done\n`);
  }
}

const rateText = (r) => (r >= 1e6 ? `${(r / 1e6).toFixed(2)}M` : r >= 1e3 ? `${(r / 1e3).toFixed(1)}k` : r.toFixed(1));
/** "median (min-max)" of one figure over the runs. */
function cell(list, pick, text) {
  if (list === undefined) return '-';
  const values = list.map(pick);
  const [low, high] = [Math.min(...values), Math.max(...values)];
  return `${text(median(values))} (${text(low)}-${text(high)})`;
}
const medianOf = (list, pick) => (list === undefined ? undefined : median(list.map(pick)));

function table(clock) {
  const columns = [...loops, 'base', 'node', 'asyncio', 'uvloop'];
  const title = (k) => (loops.includes(k) ? `loopkit ${k === 'default' ? 'default' : k} (${loopNames.get(k) ?? '?'})` : k === 'base' ? 'BaseEventLoop' : k === 'node' ? 'node baseline' : k);
  const header = ['case', ...columns.map(title), 'ratio (first loop / side)', 'target'];
  const rows = [];
  let missed = 0;
  for (const c of chosen) {
    const all = results.get(c.key);
    const pick = c.memory ? (f) => f.rss : clock === 'cpu' && c.clock !== 'wall' ? (f) => f.rate : (f) => f.wallRate;
    const text = c.memory ? (v) => v.toFixed(0) : rateText;
    const mine = medianOf(all.get(loops[0]), pick);
    const ratios = [];
    const targets = [];
    for (const side of ['node', 'asyncio', 'uvloop']) {
      const theirs = medianOf(all.get(side), pick);
      if (theirs !== undefined) ratios.push(`${(mine / theirs).toFixed(2)}x ${side}`);
    }
    for (const [side, bound] of c.targets) {
      const theirs = medianOf(all.get(side), pick);
      if (theirs === undefined) continue;
      const ratio = mine / theirs;
      const met = c.memory ? ratio <= bound : ratio >= bound;
      if (!met) missed += 1;
      targets.push(`${c.memory ? '<=' : '>='} ${bound}x ${side}: ${met ? 'met' : 'MISSED'}`);
    }
    rows.push([c.name, ...columns.map((k) => cell(all.get(k), pick, text)), ratios.join(', '), targets.join('; ')]);
  }
  printMarkdown(header, rows);
  return missed;
}

console.log(`\nBy CPU time: ops per CPU second (median (min-max) of ${RUNS}); memory rows: RSS MB; load average now ${loadAverage()}`);
const missed = table('cpu');
console.log(`\nBy wall clock: ops per second`);
table('wall');
const growth = chosen.filter((c) => c.memory);
if (growth.length > 0) {
  console.log('\nRSS growth per idle task (bytes; RSS after minus RSS before making them, median):');
  for (const c of growth) {
    const all = results.get(c.key);
    const parts = [...all.keys()].map((k) => `${k} ${((medianOf(all.get(k), (f) => f.growth) * 1e6) / sizes[c.key]).toFixed(0)}`);
    console.log(`  ${c.name.split(',')[0]}: ${parts.join(', ')}`);
  }
}
console.log(`\n${missed} target(s) missed (by CPU time); ${((Date.now() - started) / 1000).toFixed(0)} s`);
