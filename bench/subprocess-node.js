// The baseline of `pnpm bench:subprocess`: Node's own child_process (spawn, streams), in a
// process that loads nothing of loopkit. Usage: node subprocess-node.js spawn|cat <n>
// Prints one JSON line: {rate} (spawns/s, or MiB/s through cat).
import { spawn } from 'node:child_process';

const [, , kase, arg] = process.argv;
const n = Number(arg);

function exited(child) {
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', resolve);
  });
}

async function spawns() {
  for (let i = 0; i < n; i++) await exited(spawn('/bin/true', [], { stdio: 'ignore' }));
}

/** n MiB into cat in 64 KiB writes, honouring backpressure, while reading all of it back. */
async function cat() {
  const chunk = Buffer.alloc(64 * 1024, 120);
  const child = spawn('/bin/cat', [], { stdio: ['pipe', 'pipe', 'ignore'] });
  let got = 0;
  const read = new Promise((resolve) => {
    child.stdout.on('data', (d) => (got += d.length));
    child.stdout.on('end', resolve);
  });
  for (let i = 0; i < n * 16; i++) {
    if (!child.stdin.write(chunk)) await new Promise((resolve) => child.stdin.once('drain', resolve));
  }
  child.stdin.end();
  await read;
  await exited(child);
  if (got !== n * 1024 * 1024) throw new Error(`cat returned ${got} bytes`);
}

const run = kase === 'spawn' ? spawns : cat;
await run(); // warm-up
const start = performance.now();
await run();
const seconds = (performance.now() - start) / 1000;
console.log(JSON.stringify({ rate: n / seconds }));
