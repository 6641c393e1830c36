// Where a one-connection echo round trip's wall time goes on the server, request by request
// (bench/README.md, "Session 25 (s25-latency)"). A ping-pong is mostly waiting, so CPU per
// request and instruction counts do not place its microseconds; syscall timestamps do. Two
// server kinds, alternated run by run (the order swapped every round), each driven by
// bench/loadgen.c with one connection as bench/echo.js pins them; over BENCH_SECONDS of each run,
// `perf record` of the server's syscall tracepoints and context switches, then per request on
// its main thread: the wake-up (the epoll wait that returned an event) to the read, the read, the
// read to the send, the send, the send to the next epoll wait, and the hold (the wake-up to the
// end of the send: what the server adds to its peer's wait), split by how long the server slept
// before the request (< 100 µs, >= 1 ms: a long sleep lets other processes take the core's
// caches); epoll waits and voluntary sleeps per request. Then the per-round ratios of the hold
// (second/first), by mean and by median, and their median.
//
//   node bench/echo-phases.js <first kind>[@tree] <second kind>[@tree] [--node=PATH]
//   env: BENCH_ROUNDS=4 BENCH_SECONDS=1 BENCH_WARMUP=1 BENCH_SIZE=1024
// Kinds as bench/echo-pair.js's (`c` is the C server). Needs perf with tracepoint access and
// x86-64's syscall numbers.
import { spawn, spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { NODE, NODE_ECHO_KINDS, compileBenchC, echoServerScript, kindOf, loadAverage, median, nodeVersion, runLoadgen, startServer, stopServer, twoServerKinds } from './harness.js';

const [first, second] = twoServerKinds('echo-phases.js', ['c', ...NODE_ECHO_KINDS], ['c']);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 1);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 1);
const SIZE = Number(process.env.BENCH_SIZE ?? 1024);
if (process.arch !== 'x64') {
  console.error('echo-phases: reads x86-64 syscall numbers; this is ' + process.arch);
  process.exit(2);
}
if (spawnSync('perf', ['--version'], { stdio: 'ignore' }).status !== 0) {
  console.error('echo-phases: needs perf');
  process.exit(2);
}
const loadgen = compileBenchC('loadgen.c', 'loadgen');
const cServer = compileBenchC('echo-server.c', 'echo-server');
if (loadgen === null || cServer === null) {
  console.error('echo-phases: needs cc for bench/loadgen.c and bench/echo-server.c');
  process.exit(2);
}
const pinned = availableParallelism() >= 2;
const pin = (cpu, argv) => (pinned ? ['taskset', '-c', String(cpu), ...argv] : argv);

/** x86-64: read, recvfrom; write, sendto; epoll_wait, epoll_pwait, epoll_pwait2. */
const READS = new Set([0, 45]);
const WRITES = new Set([1, 44]);
const EPOLLS = new Set([232, 281, 441]);

function serverArgv(spec) {
  return kindOf(spec) === 'c' ? [cServer] : [NODE, echoServerScript(spec), kindOf(spec)];
}

/** Run `cmd` to its end: its stdout. */
function output(cmd, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (err += chunk));
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')}: exit ${code}: ${err.trim()}`))));
  });
}

/** One run of `spec`: the perf script lines of its server over SECONDS, and the load generator's rate. */
async function traceRun(spec) {
  const { child, port } = await startServer(pin(0, serverArgv(spec)).flat());
  const data = `/tmp/echo-phases-${process.pid}-${child.pid}.data`;
  try {
    const [cmd, ...args] = pin(1, [loadgen, '127.0.0.1', String(port), '1', String(SIZE), String(WARMUP), String(SECONDS + 0.5)]);
    const finished = runLoadgen(cmd, args);
    await new Promise((resolve) => setTimeout(resolve, WARMUP * 1000));
    await output('perf', ['record', '-q', '-o', data, '-e', 'raw_syscalls:sys_enter,raw_syscalls:sys_exit,sched:sched_switch', '-p', String(child.pid), '--', 'sleep', String(SECONDS)]);
    const [rate] = await finished;
    const script = await output('perf', ['script', '-i', data, '-F', 'tid,time,event,trace']);
    return { lines: script.split('\n'), rate };
  } finally {
    await stopServer(child);
    spawnSync('rm', ['-f', data]);
  }
}

/** Per request phases of one run's trace (main thread: the thread with most events). */
function phases(lines) {
  const counts = new Map();
  for (const line of lines) {
    const tid = line.trim().split(/\s+/, 1)[0];
    if (tid) counts.set(tid, (counts.get(tid) ?? 0) + 1);
  }
  const main = [...counts].sort((a, b) => b[1] - a[1])[0]?.[0];
  const p = { wakeToRead: [], read: [], readToSend: [], send: [], sendToPoll: [], hold: [], holdAfterShort: [], holdAfterLong: [], epolls: 0, sleeps: 0, requests: 0 };
  let entered = null; // [nr, time]
  let pollEntered = null;
  let wake = null;
  let slept = 0;
  let readEnd = null;
  let sendEnd = null;
  for (const line of lines) {
    const fields = line.trim().split(/\s+/);
    if (fields[0] !== main) continue;
    const time = Number(fields[1].replace(/:$/, '')) * 1e6;
    if (line.includes('sched:sched_switch')) {
      if (/prev_state=S/.test(line)) p.sleeps++;
      continue;
    }
    const enter = /sys_enter: NR (\d+)/.exec(line);
    if (enter) {
      const nr = Number(enter[1]);
      entered = [nr, time];
      if (EPOLLS.has(nr)) {
        p.epolls++;
        pollEntered = time;
        if (sendEnd !== null) p.sendToPoll.push(time - sendEnd);
        sendEnd = null;
      } else if (READS.has(nr) && wake !== null && readEnd === null) p.wakeToRead.push(time - wake);
      else if (WRITES.has(nr) && readEnd !== null) {
        p.readToSend.push(time - readEnd);
        readEnd = null;
      }
      continue;
    }
    const exit = /sys_exit: NR (\d+) = (-?\d+)/.exec(line);
    if (exit === null || entered === null || entered[0] !== Number(exit[1])) continue;
    const nr = Number(exit[1]);
    const result = Number(exit[2]);
    if (EPOLLS.has(nr) && result > 0 && wake === null && pollEntered !== null) {
      wake = time;
      slept = time - pollEntered;
    } else if (READS.has(nr) && result > 0 && wake !== null) {
      p.read.push(time - entered[1]);
      readEnd = time;
    } else if (WRITES.has(nr) && result > 0 && wake !== null) {
      p.send.push(time - entered[1]);
      const hold = time - wake;
      p.hold.push(hold);
      if (slept < 100) p.holdAfterShort.push(hold);
      else if (slept >= 1000) p.holdAfterLong.push(hold);
      p.requests++;
      sendEnd = time;
      wake = null;
    }
    entered = null;
  }
  return p;
}

const mean = (values) => (values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length);
const fmt = (values) => (values.length === 0 ? '-' : `${median(values).toFixed(0)}/${mean(values).toFixed(0)}`);

console.log(`echo-phases: ${first} then ${second}, ${SIZE} B x 1; ${NODE} (${nodeVersion()}); ${ROUNDS} rounds of ${SECONDS} s traced after ${WARMUP} s; load average at start ${loadAverage()}`);
const runs = { [first]: [], [second]: [] };
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 === 0 ? [first, second] : [second, first];
  for (const spec of order) {
    const { lines, rate } = await traceRun(spec);
    runs[spec].push({ ...phases(lines), rate });
  }
}
console.log('µs per request, median/mean of each run; hold after a sleep of < 100 µs and of >= 1 ms (with how many requests)');
for (const spec of [first, second]) {
  console.log(`${spec}:`);
  for (const r of runs[spec]) {
    console.log(
      `  req/s ${Number(r.rate).toFixed(0)}: wake->read ${fmt(r.wakeToRead)}, read ${fmt(r.read)}, read->send ${fmt(r.readToSend)}, send ${fmt(r.send)}, ` +
        `send->poll ${fmt(r.sendToPoll)}; hold ${fmt(r.hold)} (short sleep ${fmt(r.holdAfterShort)} x${r.holdAfterShort.length}, long ${fmt(r.holdAfterLong)} x${r.holdAfterLong.length}); ` +
        `per request: epoll waits ${(r.epolls / r.requests).toFixed(2)}, sleeps ${(r.sleeps / r.requests).toFixed(2)} (${r.requests} requests)`,
    );
  }
}
const ratios = (pick) => runs[first].map((r, i) => pick(runs[second][i].hold) / pick(r.hold));
const byMean = ratios(mean);
const byMedian = ratios(median);
console.log(`${second}/${first} hold by mean per round: ${byMean.map((x) => x.toFixed(2)).join(' ')}; median ${median(byMean).toFixed(2)}x`);
console.log(`${second}/${first} hold by median per round: ${byMedian.map((x) => x.toFixed(2)).join(' ')}; median ${median(byMedian).toFixed(2)}x`);
console.log(`load average at the end ${loadAverage()}`);
