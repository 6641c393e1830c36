// User-space instructions per echo round trip, counted by valgrind's callgrind (bench/README.md,
// "Session 12 (s12-completion)"). CPU time cannot rank servers a microsecond apart on a machine
// other jobs load; an instruction count does not move with the load. Each server kind of
// bench/echo-server.js runs under callgrind with counting off; this process is the client
// (BENCH_CONNS connections, 1 by default, each sending BENCH_SIZE-byte messages, each once the
// whole echo of its last came back): BENCH_WARM round trips, then counting on for
// BENCH_REQUESTS round trips, then a dump (both spread evenly over the connections). Printed
// per kind: instructions per round trip on the main thread and on every thread. With several
// connections, the server (50x slower under valgrind) finds most of them ready at each
// wake-up, so the count is of a request's share of a fully batched wake-up.
//
// V8's optimizing compilers run on their own schedule under valgrind (50x slower), so their
// compile jobs land in the counted window and swamp it: by default the servers run with
// `--max-opt=1` (bytecode and baseline code, the same tier on Node 20 and 24), a count of the
// JavaScript work each path does rather than its optimized cost. BENCH_V8_FLAGS replaces it.
// The kernel's part (syscalls, faults) is not counted: BENCH_SYSCALLS=1 bench/echo.js has that.
//
//   node bench/echo-instructions.js <kind>[@dir] ... [--node=PATH]
//   env: BENCH_SIZE=1024 BENCH_CONNS=1 BENCH_WARM=5000 BENCH_REQUESTS=2000 BENCH_V8_FLAGS=--max-opt=1
//   BENCH_CALLGRIND_KEEP=<dir>: keep each kind's dumps in <dir>/<kind> (for callgrind_annotate)
// A kind written <kind>@<dir> runs <dir>/bench/echo-server.js (another built tree).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE, nodeVersion, positional } from './harness.js';

const here = dirname(fileURLToPath(import.meta.url));
const KINDS = ['net', 'default', 'selector', 'proactor', 'uring'];
const SIZE = Number(process.env.BENCH_SIZE ?? 1024);
const CONNS = Number(process.env.BENCH_CONNS ?? 1);
const WARM = Number(process.env.BENCH_WARM ?? 5000);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 2000);
const KEEP = process.env.BENCH_CALLGRIND_KEEP ?? '';
const V8_FLAGS = (process.env.BENCH_V8_FLAGS ?? '--max-opt=1').split(' ').filter(Boolean);

function serverOf(spec) {
  const at = spec.indexOf('@');
  if (at < 0) return { kind: spec, script: join(here, 'echo-server.js') };
  return { kind: spec.slice(0, at), script: join(resolve(spec.slice(at + 1)), 'bench', 'echo-server.js') };
}

const specs = positional();
const servers = specs.map(serverOf);
if (!Number.isInteger(CONNS) || CONNS < 1) {
  console.error(`echo-instructions: BENCH_CONNS must be a positive integer, got ${process.env.BENCH_CONNS}`);
  process.exit(2);
}
if (specs.length === 0 || servers.some((s) => !KINDS.includes(s.kind) || !existsSync(s.script))) {
  console.error(`usage: node bench/echo-instructions.js <kind>[@dir] ... [--node=PATH]; kinds: ${KINDS.join(', ')}`);
  process.exit(2);
}
try {
  execFileSync('callgrind_control', ['--version'], { stdio: 'ignore' });
} catch {
  console.error('echo-instructions: needs valgrind (callgrind and callgrind_control)');
  process.exit(2);
}

/** `count` round trips of SIZE bytes spread over `sockets`, all of them sending at once. */
function roundTripsOnAll(sockets, count) {
  return Promise.all(sockets.map((socket, i) => roundTrips(socket, Math.floor(count / sockets.length) + (i < count % sockets.length ? 1 : 0))));
}

/** `count` round trips of SIZE bytes on `socket`. */
function roundTrips(socket, count) {
  if (count === 0) return Promise.resolve();
  const message = Buffer.alloc(SIZE, 0x78);
  return new Promise((resolveAll, reject) => {
    let pending = SIZE;
    let left = count;
    const onData = (data) => {
      pending -= data.length;
      if (pending > 0) return;
      if (pending < 0) return reject(new Error(`echo overran the message by ${-pending} bytes`));
      if (--left === 0) {
        socket.off('data', onData);
        return resolveAll();
      }
      pending = SIZE;
      socket.write(message);
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(message);
  });
}

/** The counted instructions of callgrind's dumps in `dir`: the main thread's (thread 1) and every thread's. */
function countedInstructions(dir) {
  let main = 0;
  let all = 0;
  for (const name of readdirSync(dir)) {
    const totals = /^totals: (\d+)/m.exec(readFileSync(join(dir, name), 'utf8'));
    if (totals === null) continue;
    const n = Number(totals[1]);
    all += n;
    if (/-01$/.test(name)) main += n;
  }
  return { main, all };
}

async function measure({ kind, script }) {
  const dir = mkdtempSync(join(tmpdir(), 'loopkit-callgrind-'));
  const child = spawn('valgrind', ['--tool=callgrind', '--instr-atstart=no', '--separate-threads=yes', `--callgrind-out-file=${join(dir, 'cg.%p')}`, NODE, ...V8_FLAGS, script, kind], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  try {
    const port = await new Promise((resolvePort, reject) => {
      let out = '';
      child.stdout.on('data', (chunk) => {
        out += chunk;
        const m = /PORT (\d+)/.exec(out);
        if (m !== null) resolvePort(Number(m[1]));
      });
      child.once('exit', (code) => reject(new Error(`${kind}: server exited (${code}) before listening`)));
    });
    const sockets = [];
    for (let i = 0; i < CONNS; i++) {
      const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
      await new Promise((resolveConnect, reject) => socket.once('connect', resolveConnect).once('error', reject));
      sockets.push(socket);
    }
    await roundTripsOnAll(sockets, WARM);
    execFileSync('callgrind_control', ['-i', 'on', String(child.pid)], { stdio: 'ignore' });
    await roundTripsOnAll(sockets, REQUESTS);
    execFileSync('callgrind_control', ['-i', 'off', String(child.pid)], { stdio: 'ignore' });
    execFileSync('callgrind_control', ['-d', String(child.pid)], { stdio: 'ignore' });
    for (const socket of sockets) socket.destroy();
    const { main, all } = countedInstructions(dir);
    if (main === 0) throw new Error(`${kind}: callgrind counted nothing`);
    return { main: main / REQUESTS, all: all / REQUESTS };
  } finally {
    child.kill('SIGTERM');
    await new Promise((done) => (child.exitCode !== null ? done() : child.once('exit', done)));
    if (KEEP) {
      const kept = join(KEEP, `${kind}.${Date.now()}`);
      execFileSync('mkdir', ['-p', KEEP]);
      execFileSync('mv', [dir, kept]);
      console.log(`${kind}: dumps kept in ${kept}`);
    } else rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`echo-instructions: ${SIZE} B x ${CONNS}, ${WARM} round trips then ${REQUESTS} counted; ${NODE} (${nodeVersion()}) ${V8_FLAGS.join(' ')}`);
for (let i = 0; i < specs.length; i++) {
  const { main, all } = await measure(servers[i]);
  console.log(`${specs[i]}: ${Math.round(main)} instructions per round trip on the main thread, ${Math.round(all)} on every thread`);
}
