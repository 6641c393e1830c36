// Bytes a task in flight holds in (c) (bench/sched.js: 100k tasks each `await sleep(0)`,
// gathered), loopkit's side against plain Node's, each in its own process:
//   node bench/sched-heap.js [--node=PATH] [--kinds]
//   env: BENCH_TREE=<dir> (the loopkit side from another built tree), BENCH_SCALE (sizes)
// Each side runs its case once at a tenth of the size (as the timed benches warm up), then
// at full size, where it measures V8's used heap after two full collections: before the
// tasks exist, with every task suspended at its first await (loopkit: a callback queued
// after the first steps; plain Node: right after the async functions returned their
// promises), and once the gather (Promise.all) has its results with every task still held.
// With --kinds the suspended moment is also written as a heap snapshot, and the objects
// there at least one per two tasks are listed by kind (V8's node type and name), per task.
// Prints a table of bytes per task; the runner itself may be any Node.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import { NODE, loadAverage, nodeVersion, option, printMarkdown } from './harness.js';
import { sizes } from './sched-sizes.js';

const here = dirname(fileURLToPath(import.meta.url));
const side = option('side', undefined);

/** V8's used heap after full collections (the process runs with --expose-gc). */
function usedHeap() {
  globalThis.gc();
  globalThis.gc();
  return v8.getHeapStatistics().used_heap_size;
}

/** One side's run of `n` tasks; `at(moment)` is called at each moment named in the header. */
async function loopkitRun(n, at) {
  const tree = process.env.BENCH_TREE ? resolve(process.env.BENCH_TREE) : join(here, '..');
  const { gather, newEventLoop, sleep } = await import(pathToFileURL(join(tree, 'packages/loopkit/dist/index.js')).href);
  const loop = newEventLoop();
  const body = async () => {
    await sleep(0);
  };
  await loop.runUntilComplete(async () => {
    at('before');
    const all = [];
    for (let i = 0; i < n; i++) all.push(loop.createTask(body));
    const gathered = gather(...all);
    loop.callSoon(() => at('suspended')); // queued after every task's first step
    await gathered;
    at('done');
    return all.length; // `all` stays alive to here, as the tasks in the gather's results do
  });
  loop.close();
}

async function nodeRun(n, at) {
  const body = async () => {
    await new Promise((resolve) => setImmediate(resolve));
  };
  at('before');
  const all = [];
  for (let i = 0; i < n; i++) all.push(body());
  const gathered = Promise.all(all);
  at('suspended');
  await gathered;
  at('done');
  return all.length;
}

/** The child: prints one JSON line of bytes per task at each moment. */
async function child() {
  const run = side === 'loopkit' ? loopkitRun : nodeRun;
  const n = sizes.c;
  const snapshot = option('snapshot', undefined);
  await run(Math.max(1, Math.round(n / 10)), () => undefined);
  const heap = {};
  await run(n, (moment) => {
    heap[moment] = usedHeap();
    if (moment === 'suspended' && snapshot !== undefined) v8.writeHeapSnapshot(snapshot);
  });
  const perTask = (moment) => (heap[moment] - heap.before) / n;
  console.log(JSON.stringify({ side, n, suspended: perTask('suspended'), done: perTask('done'), node: process.version }));
}

/** Objects of a heap snapshot by kind, those at least one per two tasks: [kind, per task, bytes per task]. */
function kindsOf(file, n) {
  const snapshot = JSON.parse(readFileSync(file, 'utf8'));
  const { node_fields: fields, node_types: nodeTypes } = snapshot.snapshot.meta;
  const width = fields.length;
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((field) => fields.indexOf(field));
  const kinds = new Map();
  for (let i = 0; i < snapshot.nodes.length; i += width) {
    const type = nodeTypes[0][snapshot.nodes[i + typeAt]];
    // Strings and code by type only: their names are their text.
    const name = /string|code/.test(type) ? '' : snapshot.strings[snapshot.nodes[i + nameAt]].slice(0, 40);
    const kind = name === '' ? type : `${type} ${name}`;
    const entry = kinds.get(kind) ?? { count: 0, bytes: 0 };
    entry.count += 1;
    entry.bytes += snapshot.nodes[i + sizeAt];
    kinds.set(kind, entry);
  }
  return [...kinds]
    .filter(([, { count }]) => count >= n / 2)
    .sort((a, b) => b[1].bytes - a[1].bytes)
    .map(([kind, { count, bytes }]) => [kind, (count / n).toFixed(2), (bytes / n).toFixed(0)]);
}

async function runner() {
  const withKinds = process.argv.includes('--kinds');
  const dir = mkdtempSync(join(tmpdir(), 'loopkit-sched-heap-'));
  try {
    console.log(`(c) ${sizes.c} tasks, Node ${nodeVersion()}, load ${loadAverage()}`);
    const rows = [];
    const kinds = [];
    for (const name of ['loopkit', 'node']) {
      const snapshot = join(dir, `${name}.heapsnapshot`);
      const args = ['--expose-gc', fileURLToPath(import.meta.url), `--side=${name}`, ...(withKinds ? [`--snapshot=${snapshot}`] : [])];
      const result = JSON.parse(execFileSync(NODE, args, { env: process.env }).toString().trim().split('\n').pop());
      rows.push([name, result.suspended.toFixed(0), result.done.toFixed(0)]);
      if (withKinds) kinds.push([name, kindsOf(snapshot, sizes.c)]);
    }
    printMarkdown(['side', 'bytes a task, suspended', 'bytes a task, gathered (tasks held)'], rows);
    for (const [name, table] of kinds) {
      console.log(`\n${name}, suspended, by kind:`);
      printMarkdown(['kind', 'per task', 'bytes per task'], table);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await (side === undefined ? runner() : child());
