/**
 * A fast plain-Node client for paused-reader.test.ts: connects to argv's port (TLS when
 * argv[3] is 'tls', trusting argv[5]'s CA file), then writes `argv[4]` bytes of
 * pattern(n, 41) in 64 KiB writes as fast as its socket drains. Commands on stdin:
 * {"cmd":"report"} answers {"accepted"} (bytes whose write the kernel took, as Node reports
 * it), {"cmd":"end"} ends the stream once everything is written and exits.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import * as readline from 'node:readline';
import { pattern } from '@loopkit/conformance/support';

const [portArg, mode, totalArg, caFile] = process.argv.slice(2);
const say = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);
const data = pattern(Number(totalArg), 41);
const CHUNK = 64 * 1024;
let written = 0;
let accepted = 0;
let ending = false;

const socket =
  mode === 'tls'
    ? tls.connect({ port: Number(portArg), host: '127.0.0.1', ca: fs.readFileSync(caFile), servername: 'localhost' }, pump)
    : net.connect(Number(portArg), '127.0.0.1', pump);
socket.on('error', (error) => {
  say({ error: String(error) });
  process.exit(1);
});
socket.on('drain', pump);

function pump() {
  while (written < data.length) {
    const chunk = data.subarray(written, written + CHUNK);
    written += chunk.length;
    const more = socket.write(chunk, () => (accepted += chunk.length));
    if (!more) return;
  }
  if (ending) socket.end(() => process.exit(0));
}

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const { cmd } = JSON.parse(line);
  if (cmd === 'report') say({ accepted });
  else if (cmd === 'end') {
    ending = true;
    pump();
  }
});
