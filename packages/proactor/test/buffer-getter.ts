/**
 * How often a loop's read path calls a Buffer's `buffer` getter (a call into V8's C++ that
 * Buffer#subarray makes): a child process echoes on each case's loop to plain Node sockets in
 * the same process (whose reads never call the getter), 60 round trips per connection to warm
 * up and 60 counted. It also reports chunks that were not Buffers and any echo that came back
 * changed.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** One loop to count on: `makeLoop` is an expression over the names `imports` brings. */
export interface GetterCase {
  name: string;
  connections: number;
  makeLoop: string;
}

export interface GetterCounts {
  /** The getter's calls in each case's counted round trips, by case name. */
  counted: Record<string, number>;
  notBuffers: number;
  intact: boolean;
}

export function countBufferGetter(imports: string, cases: GetterCase[], timeoutMs: number): GetterCounts {
  const script = `
    import * as net from 'node:net';
    const { Protocol } = await import('@loopkit/core');
    ${imports}
    let calls = 0;
    const TypedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype);
    const getter = Object.getOwnPropertyDescriptor(TypedArrayPrototype, 'buffer').get;
    Object.defineProperty(TypedArrayPrototype, 'buffer', { configurable: true, get() { calls++; return getter.call(this); } });
    let notBuffers = 0;
    class Echo extends Protocol {
      connectionMade(t) { this.t = t; }
      dataReceived(d) { if (!Buffer.isBuffer(d)) notBuffers++; this.t.write(d); }
    }
    const counted = {};
    let intact = true;
    for (const [name, connections, makeLoop] of [${cases.map((c) => `[${JSON.stringify(c.name)}, ${c.connections}, () => ${c.makeLoop}]`).join(', ')}]) {
      const loop = makeLoop();
      await loop.runUntilComplete(async () => {
        const server = await loop.createServer(() => new Echo(), '127.0.0.1', 0);
        const port = server.sockets[0].getsockname().port;
        const peers = [];
        for (let i = 0; i < connections; i++) {
          const peer = net.connect({ port, host: '127.0.0.1', noDelay: true });
          await new Promise((resolve) => peer.once('connect', resolve));
          peers.push(peer);
        }
        const trips = (peer, seed) => new Promise((resolve) => {
          let n = 0;
          const message = () => Buffer.from('message ' + seed + ' ' + n + '.'.repeat(n % 7));
          const onData = (d) => {
            if (!d.equals(message())) intact = false;
            if (++n < 60) peer.write(message());
            else {
              peer.off('data', onData);
              resolve();
            }
          };
          peer.on('data', onData);
          peer.write(message());
        });
        await Promise.all(peers.map((peer, i) => trips(peer, i)));
        calls = 0;
        await Promise.all(peers.map((peer, i) => trips(peer, i + 10)));
        counted[name] = calls;
        for (const peer of peers) peer.destroy();
        server.close();
      });
      loop.close();
    }
    console.log(JSON.stringify({ counted, notBuffers, intact }));
  `;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, timeout: timeoutMs, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`the counting child failed (${result.status}): ${result.stderr}`);
  return JSON.parse(result.stdout) as GetterCounts;
}
