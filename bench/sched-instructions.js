// Instructions per operation of a bench/sched.js case, counted by valgrind's callgrind
// rather than timed (bench/README.md, "Session 15 (s15-tasks)"): each side's process runs
// its warm-up and then a timed run of BENCH_TIMED_OPS, once with the case's size and once
// with 1; the difference, divided by the size, is what the timed run's operations cost, by
// kind of code (V8's collector, its optimizing compiler, its builtins, the JavaScript the JIT
// made, the rest of the process's C++). The processes run `--single-threaded` (the
// collector's and the compilers' work on the main thread, in a fixed order), so two counts of
// the same tree agree to ~0.5% where CPU time on this shared machine swings by 10%; what the
// collector does still depends on when incremental marking runs, which V8 paces by time.
//
//   node bench/sched-instructions.js <case> [--node=PATH]
//   env: BENCH_WARMUP_RUNS (3), BENCH_V8_FLAGS (extra flags for both sides, e.g.
//   `--min-semi-space-size=128 --max-semi-space-size=128` and BENCH_SCALE=0.5 for a run
//   with no collection in it), BENCH_TREE=<dir> (the loopkit side from another built tree)
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE, nodeVersion, positional } from './harness.js';
import { sizes } from './sched-sizes.js';

const here = dirname(fileURLToPath(import.meta.url));
const tree = process.env.BENCH_TREE ? join(resolve(process.env.BENCH_TREE), 'bench') : here;
const [kase] = positional();
if (!(kase in sizes) || kase === 'h' || kase === 'i' || kase === 'j') {
  console.error('usage: node bench/sched-instructions.js <a|b|c|d|e|f|g> [--node=PATH]');
  process.exit(2);
}
try {
  execFileSync('valgrind', ['--version'], { stdio: 'ignore' });
  execFileSync('which', ['callgrind_annotate'], { stdio: 'ignore' });
} catch {
  console.error('sched-instructions: needs valgrind (callgrind and callgrind_annotate)');
  process.exit(2);
}
const n = sizes[kase];
const flags = ['--expose-gc', '--single-threaded', ...(process.env.BENCH_V8_FLAGS ?? '').split(' ').filter(Boolean)];
const sides = [
  ['loopkit', [join(tree, 'sched-loopkit.js'), kase, 'policy']],
  ['node', [join(here, 'sched-node.js'), kase]],
];

/** The kind of code a function of callgrind_annotate's listing is. */
function kindOf(fn) {
  if (/^\?\?\?:0x/.test(fn)) return 'JavaScript (JIT code)';
  if (/Scaveng|EvacuationAllocator|SemiSpace|NewSpace|PretenuringHandler|RememberedSet|SlotSet|Evacuat/.test(fn)) return 'collector: scavenges';
  if (/Mark|Ephemeron|WeakObjects/.test(fn)) return 'collector: marking';
  if (/Sweep|FreeList|Compact|MemoryAllocator|Page::|Heap::|Heap_/.test(fn)) return 'collector: other';
  if (/compiler::|maglev|Maglev|Turbo|Pipeline|Zone/.test(fn)) return 'optimizing compilers';
  if (/Builtins_RecordWrite/.test(fn)) return 'write barrier (RecordWrite)';
  if (/Builtins_/.test(fn)) return 'builtins';
  if (/Runtime_/.test(fn)) return 'runtime calls';
  return 'other (C++, libc, addons)';
}

/** Instructions by kind of code for one process of `side`, its timed run sized `ops`. */
function count(script, ops) {
  const dir = mkdtempSync(join(tmpdir(), 'loopkit-sched-cg-'));
  try {
    const out = join(dir, 'cg.out');
    const env = { ...process.env, BENCH_TIMED_OPS: String(ops), BENCH_WARMUP_RUNS: process.env.BENCH_WARMUP_RUNS ?? '3' };
    const run = spawnSync('valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}`, NODE, ...flags, ...script], { env, encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`${script.join(' ')} under callgrind failed:\n${run.stderr.slice(-2000)}`);
    const listing = execFileSync('callgrind_annotate', ['--threshold=100', '--inclusive=no', out], { encoding: 'utf8', maxBuffer: 1 << 28 });
    const byKind = new Map();
    for (const line of listing.split('\n')) {
      const match = /^\s*([\d,]+) \([^)]*\)\s+(.*)$/.exec(line);
      if (match === null || match[2].includes('PROGRAM TOTALS')) continue;
      const kind = kindOf(match[2]);
      byKind.set(kind, (byKind.get(kind) ?? 0) + Number(match[1].replaceAll(',', '')));
    }
    return byKind;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const perOp = new Map();
for (const [side, script] of sides) {
  const [one, full] = [count(script, 1), count(script, n)];
  const kinds = new Map();
  for (const kind of new Set([...one.keys(), ...full.keys()])) kinds.set(kind, ((full.get(kind) ?? 0) - (one.get(kind) ?? 0)) / (n - 1));
  perOp.set(side, kinds);
}
const kinds = [...new Set([...perOp.get('loopkit').keys(), ...perOp.get('node').keys()])];
const total = (side) => [...perOp.get(side).values()].reduce((a, b) => a + b, 0);
const excess = (kind) => (perOp.get('loopkit').get(kind) ?? 0) - (perOp.get('node').get(kind) ?? 0);
kinds.sort((a, b) => excess(b) - excess(a)); // where loopkit's side does most more first
console.log(`(${kase}) instructions per operation, ${n} operations (${nodeVersion()}; ${flags.join(' ')})`);
console.log('| kind of code | loopkit | node | loopkit - node |\n|---|---|---|---|');
for (const kind of [...kinds, 'total']) {
  const [l, b] = kind === 'total' ? [total('loopkit'), total('node')] : [perOp.get('loopkit').get(kind) ?? 0, perOp.get('node').get(kind) ?? 0];
  console.log(`| ${kind} | ${l.toFixed(0)} | ${b.toFixed(0)} | ${(l - b).toFixed(0)} |`);
}
