/**
 * Heap per idle connection: a child process runs an echo server on one of the package's loops
 * and weighs its heap (snapshots, code and memory outside V8's heap left out) before and after
 * `count` connections, each after one echo round trip. The loop is in its own process so that
 * nothing the test runner or earlier tests keep is counted.
 */
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

const server = (loopClass: string): string => `
  import v8 from 'node:v8';
  import { createInterface } from 'node:readline';
  const { Protocol } = await import('@loopkit/core');
  const { ${loopClass}: Loop } = await import('@loopkit/proactor');
  class Echo extends Protocol {
    connectionMade(t) { this.t = t; }
    dataReceived(d) { this.t.write(d); }
  }
  /** The heap's self size past code and memory outside V8's heap (one number: keeping names would keep the snapshot's text). */
  function heapObjectBytes() {
    const stream = v8.getHeapSnapshot();
    let text = '';
    for (let chunk; (chunk = stream.read()) !== null; ) text += chunk;
    const snapshot = JSON.parse(text);
    const fields = snapshot.snapshot.meta.node_fields;
    const types = snapshot.snapshot.meta.node_types[0];
    const [type, size] = ['type', 'self_size'].map((field) => fields.indexOf(field));
    let total = 0;
    for (let i = 0; i < snapshot.nodes.length; i += fields.length) {
      const kind = types[snapshot.nodes[i + type]];
      if (kind !== 'code' && kind !== 'native' && kind !== 'synthetic') total += snapshot.nodes[i + size];
    }
    return total;
  }
  const loop = new Loop();
  await loop.runUntilComplete(async () => {
    const server = await loop.createServer(() => new Echo(), '127.0.0.1', 0);
    console.log('PORT ' + server.sockets[0].getsockname().port);
    const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
    await lines.next();
    const before = heapObjectBytes();
    console.log('READY');
    const count = Number((await lines.next()).value);
    console.log('BYTES ' + Math.round((heapObjectBytes() - before) / count));
    server.close();
  });
  process.exit(0);
`;

/** Bytes of heap objects each of `count` idle connections adds to a `loopClass` echo server (an export of @loopkit/proactor). */
export async function heapPerIdleConnection(loopClass: 'ProactorEventLoop' | 'UringEventLoop', count = 400): Promise<number> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', server(loopClass)], { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async (prefix: string): Promise<string> => {
    const { value } = await lines.next();
    if (typeof value !== 'string' || !value.startsWith(prefix)) throw new Error(`the server said ${String(value)}, not ${prefix}`);
    return value.slice(prefix.length).trim();
  };
  const sockets: net.Socket[] = [];
  try {
    const port = Number(await next('PORT'));
    const roundTrip = (): Promise<net.Socket> =>
      new Promise((resolve, reject) => {
        const socket = net.connect({ port, host: '127.0.0.1' }, () => socket.write('sixteen bytes...'));
        socket.once('data', () => resolve(socket));
        socket.once('error', reject);
      });
    // One connection first, so the shapes and tables every connection shares exist before counting.
    sockets.push(await roundTrip());
    child.stdin!.write('\n');
    await next('READY');
    while (sockets.length < count + 1) sockets.push(...(await Promise.all(Array.from({ length: Math.min(50, count + 1 - sockets.length) }, roundTrip))));
    await new Promise((resolve) => setTimeout(resolve, 200));
    child.stdin!.write(`${count}\n`);
    return Number(await next('BYTES'));
  } finally {
    for (const socket of sockets) socket.destroy();
    child.kill();
  }
}
