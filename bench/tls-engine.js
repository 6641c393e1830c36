// The TLS engine alone (@loopkit/uv's OpenSSL engine, no socket, no loop): CPU time of the
// server side of one echo, as core's TLS layer drives it (each read of up to four records
// fed and decrypted in one feedAndRead, the plaintext written back with writeInto into one
// reused send buffer). A client engine in the same process makes and checks the traffic, outside the
// timed part. This separates the engine's cost from the loop's and from a busy machine's
// scheduling, which move bench/tls-echo.js's figures by 2-3x.
//
//   node bench/tls-engine.js [--node=PATH]   env: BENCH_RUNS=5 BENCH_SIZES=1024,65536
// Prints, per message size, the median (and range) over BENCH_RUNS processes of the CPU
// microseconds per echo and the process's minor page faults per echo.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE, median, nodeVersion } from './harness.js';

const RECORD = 16384 + 256 + 5;
const OPTIONS = { minVersion: 'TLSv1.3', ciphers: 'TLS_AES_128_GCM_SHA256' };

/** Child: echo `size`-byte messages `count` times; prints CPU µs and faults per echo. */
async function child(certdir, size, count) {
  const { tlsProvider } = await import('@loopkit/uv');
  const cert = readFileSync(join(certdir, 'server.pem'), 'utf8');
  const key = readFileSync(join(certdir, 'server.key'), 'utf8');
  const client = tlsProvider.createContext({ ...OPTIONS, ca: cert }, false).newEngine('localhost');
  const server = tlsProvider.createContext({ ...OPTIONS, key, cert }, true).newEngine(null);
  const move = (from, to) => {
    const out = from.takeOutgoing();
    if (out !== null) to.feed(out);
  };
  let c = client.handshake();
  let s = 'want-read';
  for (let i = 0; i < 10 && !(c === 'done' && s === 'done'); i++) {
    move(client, server);
    if (s !== 'done') s = server.handshake();
    move(server, client);
    if (c !== 'done') c = client.handshake();
  }
  move(server, client); // TLS 1.3 session tickets
  client.read();
  const message = Buffer.alloc(size, 'x');
  const readBuffer = Buffer.allocUnsafe(4 * RECORD);
  const sendBuffer = Buffer.allocUnsafe(16 * RECORD);
  let cpu = 0;
  const faultsBefore = process.resourceUsage().minorPageFault;
  for (let i = 0; i < count; i++) {
    client.write(message);
    const wire = Buffer.from(client.takeOutgoing());
    const start = process.cpuUsage();
    for (let off = 0; off < wire.length; off += readBuffer.length) {
      const n = wire.copy(readBuffer, 0, off, off + readBuffer.length);
      for (let data = server.feedAndRead(readBuffer.subarray(0, n)); data !== null; data = server.read()) {
        client.feed(sendBuffer.subarray(0, server.writeInto(data, sendBuffer)));
      }
      for (let k = server.takeInto(sendBuffer); k > 0; k = server.takeInto(sendBuffer)) client.feed(sendBuffer.subarray(0, k));
    }
    const spent = process.cpuUsage(start);
    cpu += spent.user + spent.system;
    let echoed = 0;
    for (let data = client.read(); data !== null; data = client.read()) echoed += data.length;
    if (echoed !== size) throw new Error(`echo of ${size} bytes came back as ${echoed}`);
  }
  const faults = process.resourceUsage().minorPageFault - faultsBefore;
  console.log(`${cpu / count} ${faults / count}`);
}

async function main() {
  const runs = Number(process.env.BENCH_RUNS ?? 5);
  const sizes = (process.env.BENCH_SIZES ?? '1024,65536').split(',').map(Number);
  const certdir = mkdtempSync(join(tmpdir(), 'loopkit-tls-engine-'));
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
      '-keyout', join(certdir, 'server.key'), '-out', join(certdir, 'server.pem'), '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost', '-addext', 'basicConstraints=critical,CA:TRUE',
    ], { stdio: 'ignore' });
    console.log(`tls-engine: Node ${nodeVersion()}; TLS 1.3 TLS_AES_128_GCM_SHA256; server side of one echo; median (range) of ${runs} processes`);
    for (const size of sizes) {
      const count = Math.max(2000, Math.round((1 << 30) / size / 2)); // about 0.5 GB each way
      const cpu = [];
      const faults = [];
      for (let i = 0; i < runs; i++) {
        const out = execFileSync(NODE, [fileURLToPath(import.meta.url), '--child', certdir, String(size), String(Math.min(count, 200000))], { encoding: 'utf8' });
        const [c, f] = out.trim().split(' ').map(Number);
        cpu.push(c);
        faults.push(f);
      }
      const range = (v, digits) => `${median(v).toFixed(digits)} (${Math.min(...v).toFixed(digits)}-${Math.max(...v).toFixed(digits)})`;
      console.log(`${size >= 1024 ? `${size / 1024} KiB` : `${size} B`}: CPU µs/echo ${range(cpu, 2)}, faults/echo ${range(faults, 2)}`);
    }
  } finally {
    rmSync(certdir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') await child(process.argv[3], Number(process.argv[4]), Number(process.argv[5]));
else await main();
