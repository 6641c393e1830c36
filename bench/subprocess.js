// `pnpm bench:subprocess`: spawn+wait of /bin/true per second and MiB/s through cat, on
// each loopkit loop, against Node's child_process (spawn, streams) and Python's
// asyncio/uvloop create_subprocess_exec. Every side runs in its own process (the baselines
// load nothing of loopkit), the kinds interleaved, median of BENCH_RUNS (default 5) runs;
// each run does the case once to warm up, then once timed. Prints rates and the ratio of
// each to Node's child_process. The loopkit sides take their loop from newEventLoop():
// `selector` is the policy's default here, proactor and uring are named by LOOPKIT_BACKEND.
// Knobs: BENCH_SPAWNS (default 200), BENCH_CAT_MIB (64), PYTHON (/usr/bin/python3), and
// --node=PATH or BENCH_NODE (the Node binary of every Node side).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UringProactor } from '@loopkit/proactor';
import { NODE, PYTHON, median, nodeVersion, pythonHas } from './harness.js';

const here = dirname(fileURLToPath(import.meta.url));
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const SPAWNS = Number(process.env.BENCH_SPAWNS ?? 200);
const CAT_MIB = Number(process.env.BENCH_CAT_MIB ?? 64);

const kinds = [
  { name: 'node child_process', cmd: (c, n) => [NODE, [join(here, 'subprocess-node.js'), c, n]] },
  { name: 'loopkit selector', cmd: (c, n) => [NODE, [join(here, 'subprocess-loopkit.js'), 'selector', c, n]] },
  { name: 'loopkit proactor', cmd: (c, n) => [NODE, [join(here, 'subprocess-loopkit.js'), 'proactor', c, n]] },
];
if (UringProactor.problem() === null) {
  kinds.push({ name: 'loopkit uring', cmd: (c, n) => [NODE, [join(here, 'subprocess-loopkit.js'), 'uring', c, n]] });
}
const skipped = [];
if (existsSync(PYTHON) && pythonHas('asyncio')) {
  kinds.push({ name: 'python asyncio', cmd: (c, n) => [PYTHON, [join(here, 'subprocess_bench.py'), 'asyncio', c, n]] });
  if (pythonHas('uvloop')) kinds.push({ name: 'python uvloop', cmd: (c, n) => [PYTHON, [join(here, 'subprocess_bench.py'), 'uvloop', c, n]] });
  else skipped.push(`python uvloop (no uvloop module for ${PYTHON}: apt install python3-uvloop)`);
} else {
  skipped.push(`python (${PYTHON} not found)`);
}

function once(kind, kase, n) {
  const [file, args] = kind.cmd(kase, String(n));
  const out = execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(out.trim().split('\n').at(-1)).rate;
}

const cases = [
  { kase: 'spawn', n: SPAWNS, title: `spawn+wait of /bin/true, ${SPAWNS} in a row`, unit: 'spawns/s' },
  { kase: 'cat', n: CAT_MIB, title: `${CAT_MIB} MiB through cat (64 KiB writes with drain, reads to EOF)`, unit: 'MiB/s' },
];

console.log(`subprocess: ${NODE} (${nodeVersion()})`);
let failed = false;
for (const { kase, n, title, unit } of cases) {
  const rates = new Map(kinds.map((k) => [k.name, []]));
  for (let run = 0; run < RUNS; run++) {
    for (const kind of kinds) rates.get(kind.name).push(once(kind, kase, n));
  }
  const base = median(rates.get(kinds[0].name));
  console.log(`\n${title} (median of ${RUNS}; ratio to node child_process)`);
  for (const kind of kinds) {
    const rate = median(rates.get(kind.name));
    const ratio = rate / base;
    const target = kind.name === 'loopkit selector' ? '  target >= 1.0x' : '';
    if (target && ratio < 1) failed = true;
    console.log(`${kind.name.padEnd(20)} ${rate.toFixed(1).padStart(9)} ${unit.padEnd(9)} ${ratio.toFixed(2)}x${target}`);
  }
}
for (const s of skipped) console.log(`skipped: ${s}`);
if (failed) console.log('\nthe selector loop missed its target (>= 1.0x node child_process) in at least one case');
