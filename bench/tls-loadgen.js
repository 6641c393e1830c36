// The TLS load generator in Node (tls), used by bench/tls-echo.js when bench/tls-loadgen.c
// cannot be built (no C compiler or no OpenSSL headers); same arguments and output (it
// always decrypts every echo, so a trailing --verify changes nothing):
//   node bench/tls-loadgen.js HOST PORT CONNS SIZE WARMUP_S DURATION_S CAFILE
import { readFileSync } from 'node:fs';
import * as tls from 'node:tls';

const [host, port, conns, size, warmup, duration, cafile] = process.argv.slice(2);
const SIZE = Number(size);
const msg = Buffer.alloc(SIZE, 'x');
const ca = readFileSync(cafile, 'utf8');
let completed = 0;

for (let i = 0; i < Number(conns); i++) {
  const options = { host, port: Number(port), ca, servername: 'localhost', minVersion: 'TLSv1.3', ciphers: 'TLS_AES_128_GCM_SHA256' };
  const socket = tls.connect(options, () => {
    socket.setNoDelay(true);
    socket.write(msg);
  });
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
    console.error(`tls-loadgen: ${error.message}`);
    process.exit(1);
  });
}

setTimeout(() => {
  const atBegin = completed;
  setTimeout(() => {
    const { user, system } = process.cpuUsage();
    const cost = completed > 0 ? (user + system) / completed : 0;
    console.log(`${Math.round((completed - atBegin) / Number(duration))} ${completed} ${cost.toFixed(1)}`);
    process.exit(0);
  }, Number(duration) * 1000);
}, Number(warmup) * 1000);
