// HTTP throughput: wrk against examples/http (an HTTP/1.1 server on loopkit Protocols) on
// the loop newEventLoop() gives and on each other backend by name (`--backend=NAME`, the
// policy's way), and against a Node `http` hello server run the same way (its own process,
// which never loads loopkit; same response body, same wrk settings). Prints req/s and the
// ratio to Node.
//
//   pnpm bench:http                     # wrk -t2 -c100 -d5s per server
//   node bench/http.js --node=$(scripts/bench-node.sh 24)   # every server on Node 24
//   BENCH_HTTP_DURATION=10 BENCH_HTTP_CONNECTIONS=200 node bench/http.js
//   BENCH_HTTP_PATH=/bytes/1048576 node bench/http.js   # 1 MiB responses (both servers serve /bytes/N)
//
// Needs wrk (apt-get install wrk) and a build (tsc -b) for examples/dist/http/server.js.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE, nodeVersion } from './harness.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const SERVER = path.join(ROOT, 'examples/dist/http/server.js');
const WRK = process.env.WRK ?? 'wrk';
const DURATION = Number(process.env.BENCH_HTTP_DURATION ?? 5);
const CONNECTIONS = Number(process.env.BENCH_HTTP_CONNECTIONS ?? 100);
const THREADS = Number(process.env.BENCH_HTTP_THREADS ?? 2);
const PATH = process.env.BENCH_HTTP_PATH ?? '/';

/** `node bench/http.js --serve-node`: the baseline, Node's own http module. */
function serveNode() {
  const body = Buffer.from('Hello, World!');
  // `/bytes/N`: N bytes of i % 251, as examples/http serves them.
  const pattern = Buffer.allocUnsafe(16 * 1024 * 1024);
  for (let i = 0; i < pattern.length; i++) pattern[i] = i % 251;
  const server = http.createServer((req, res) => {
    const bytes = /^\/bytes\/(\d{1,8})$/.exec(req.url);
    if (bytes !== null) {
      const data = pattern.subarray(0, Number(bytes[1]));
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': data.length });
      res.end(data);
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
    res.end(body);
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => {
    console.log(`listening on http://127.0.0.1:${server.address().port} (node:http)`);
  });
  const stop = () => server.close(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

const children = new Set();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** Start a server process; resolves to {child, port} once it prints its address. */
function startServer(args, env = {}) {
  const child = spawn(NODE, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} did not start: ${out}`)), 15_000);
    const onData = (d) => {
      out += d;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+) \((.*)\)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]), loopClass: m[2] });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(' ')} exited with ${code}: ${out}`));
    });
  });
}

async function stopServer(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

function wrk(port, seconds) {
  return new Promise((resolve, reject) => {
    const args = ['-t', String(THREADS), '-c', String(CONNECTIONS), '-d', `${seconds}s`, '--timeout', '5s', `http://127.0.0.1:${port}${PATH}`];
    const child = spawn(WRK, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`wrk exited with ${code}: ${out}`));
      const rate = /^Requests\/sec:\s+([\d.]+)/m.exec(out);
      const requests = /^\s*(\d+) requests in /m.exec(out);
      if (!rate || !requests) return reject(new Error(`unexpected wrk output: ${out}`));
      const errors = /^\s*Socket errors: (.*)$/m.exec(out);
      const non2xx = /^\s*Non-2xx or 3xx responses: (\d+)/m.exec(out);
      resolve({ rate: Number(rate[1]), requests: Number(requests[1]), errors: errors ? errors[1] : '', non2xx: non2xx ? Number(non2xx[1]) : 0 });
    });
  });
}

async function measure(name, args, env) {
  const { child, port, loopClass } = await startServer(args, env);
  try {
    await wrk(port, 1); // warm-up: JIT, connection setup
    const result = await wrk(port, DURATION);
    return { name, loopClass, ...result };
  } finally {
    await stopServer(child);
  }
}

async function main() {
  if (spawnSync(WRK, ['--version']).error) {
    console.error(`bench:http needs wrk on PATH (apt-get install wrk); set WRK=/path/to/wrk`);
    process.exit(1);
  }
  if (!fs.existsSync(SERVER)) {
    console.error(`${path.relative(ROOT, SERVER)} is missing: run tsc -b first (pnpm bench:http does)`);
    process.exit(1);
  }
  const what = PATH === '/' ? '"Hello, World!" (13 B)' : 'the bytes it names';
  console.log(`${NODE} (${nodeVersion()}); wrk -t${THREADS} -c${CONNECTIONS} -d${DURATION}s, GET ${PATH} -> ${what}, keep-alive; each server in its own process`);
  const baseline = await measure('node:http', [fileURLToPath(import.meta.url), '--serve-node'], {});
  const rows = [];
  // The loop newEventLoop() gives, then each other backend by name, as a user picks one.
  for (const backend of [undefined, 'proactor', 'uring']) {
    const args = [SERVER, '--port=0', ...(backend === undefined ? [] : [`--backend=${backend}`])];
    const name = backend === undefined ? 'examples/http (default)' : `examples/http (${backend})`;
    try {
      rows.push(await measure(name, args, {}));
    } catch (error) {
      console.log(`${name}: unavailable, skipped (${String(error.message).split('\n')[0]})`);
    }
  }
  rows.push(baseline);

  const header = ['server', 'loop', 'req/s', 'vs node:http', 'requests', 'socket errors', 'non-2xx'];
  const lines = rows.map((r) => [
    r.name,
    r.loopClass,
    r.rate.toFixed(0),
    `${(r.rate / baseline.rate).toFixed(2)}x`,
    String(r.requests),
    r.errors || 'none',
    String(r.non2xx),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cols) => cols.map((c, i) => c.padEnd(widths[i])).join('  ');
  console.log(fmt(header));
  for (const l of lines) console.log(fmt(l));
  if (rows.some((r) => r.errors || r.non2xx)) process.exitCode = 1;
}

if (process.argv.includes('--serve-node')) serveNode();
else await main();
