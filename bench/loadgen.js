// The load generator in Node (net), used by bench/echo.js when no C compiler is found;
// same arguments and output (rate, then round trips completed in all) as bench/loadgen.c:
//   node bench/loadgen.js HOST PORT CONNS SIZE WARMUP_S DURATION_S
import * as net from 'node:net';

const [host, port, conns, size, warmup, duration] = process.argv.slice(2);
const SIZE = Number(size);
const msg = Buffer.alloc(SIZE, 'x');
let completed = 0;

for (let i = 0; i < Number(conns); i++) {
  const socket = net.connect({ host, port: Number(port), noDelay: true }, () => socket.write(msg));
  let received = 0;
  socket.on('data', (data) => {
    received += data.length;
    if (received < SIZE) return;
    // Strict ping-pong: the whole echo is back, send the next message.
    received -= SIZE;
    completed += 1;
    socket.write(msg);
  });
  socket.on('error', (error) => {
    console.error(`loadgen: ${error.message}`);
    process.exit(1);
  });
}

setTimeout(() => {
  const atBegin = completed;
  setTimeout(() => {
    console.log(`${Math.round((completed - atBegin) / Number(duration))} ${completed}`);
    process.exit(0);
  }, Number(duration) * 1000);
}, Number(warmup) * 1000);
