// The load generator in Node (net), used by bench/echo.js when no C compiler is found;
// same arguments and output (rate, round trips completed in all, mean and p99 round trip
// in microseconds) as bench/loadgen.c:
//   node bench/loadgen.js HOST PORT CONNS SIZE WARMUP_S DURATION_S
import * as net from 'node:net';

const [host, port, conns, size, warmup, duration] = process.argv.slice(2);
const SIZE = Number(size);
const msg = Buffer.alloc(SIZE, 'x');
let completed = 0;
let measuring = false;
const roundTrips = [];

for (let i = 0; i < Number(conns); i++) {
  let started = performance.now();
  const socket = net.connect({ host, port: Number(port), noDelay: true }, () => {
    started = performance.now();
    socket.write(msg);
  });
  let received = 0;
  socket.on('data', (data) => {
    received += data.length;
    if (received < SIZE) return;
    // Strict ping-pong: the whole echo is back, send the next message.
    received -= SIZE;
    completed += 1;
    const now = performance.now();
    if (measuring) roundTrips.push((now - started) * 1000);
    started = now;
    socket.write(msg);
  });
  socket.on('error', (error) => {
    console.error(`loadgen: ${error.message}`);
    process.exit(1);
  });
}

setTimeout(() => {
  const atBegin = completed;
  measuring = true;
  setTimeout(() => {
    const sorted = Float64Array.from(roundTrips).sort();
    const mean = sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length);
    const p99 = sorted.length > 0 ? sorted[Math.floor(sorted.length * 0.99)] : 0;
    console.log(`${Math.round((completed - atBegin) / Number(duration))} ${completed} ${mean.toFixed(1)} ${p99.toFixed(1)}`);
    process.exit(0);
  }, Number(duration) * 1000);
}, Number(warmup) * 1000);
