/**
 * What an idle UringEventLoop connection holds, and the extra info it no longer makes at once:
 * the peer's address is kept from when the connection was made, so it is still reported once
 * the peer reset it.
 */
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Protocol, sleep, type Transport } from '@loopkit/core';
import { UringEventLoop, UringProactor } from '@loopkit/proactor';
import { runOn } from './run-loop.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

async function until(ready: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (ready()) return;
    await sleep(0.01);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe.skipIf(UringProactor.problem() !== null)('an idle UringEventLoop connection', () => {
  it("makes its extra info when first asked for, from the peer's address read when the connection was made: after the peer's reset too", async () => {
    await runOn(new UringEventLoop(), async (loop) => {
      const seen: Array<[unknown, unknown]> = [];
      const socketSays: unknown[] = [];
      const made: Transport[] = [];
      class AsksAtLost extends Protocol {
        transport: Transport | null = null;
        override connectionMade(transport: Transport): void {
          this.transport = transport;
          made.push(transport);
        }
        override connectionLost(): void {
          seen.push([this.transport!.getExtraInfo('sockname'), this.transport!.getExtraInfo('peername')]);
          try {
            socketSays.push(this.transport!.getExtraInfo<{ getpeername(): unknown }>('socket')!.getpeername());
          } catch (error) {
            socketSays.push((error as { code?: unknown }).code);
          }
        }
      }
      const server = await loop.createServer(() => new AsksAtLost(), '127.0.0.1', 0);
      const port = (server.sockets[0]!.getsockname() as { port: number }).port;
      const local = { address: '127.0.0.1', family: 'IPv4', port };
      // A peer that resets before anyone asked: the socket can no longer tell its address by then.
      const resetter = net.connect(port, '127.0.0.1');
      await new Promise((resolve) => resetter.once('connect', resolve));
      await until(() => made.length === 1, 'accepted');
      // Not made while nobody asks (the info and two address objects: 160 bytes per idle connection).
      expect(Object.keys((made[0] as unknown as { _extra: object })._extra)).toEqual([]);
      const resetterPort = resetter.localPort;
      resetter.resetAndDestroy();
      await until(() => seen.length === 1, 'connectionLost after the reset');
      expect(seen[0]).toEqual([local, { address: '127.0.0.1', family: 'IPv4', port: resetterPort }]);
      expect(socketSays[0]).toBe('ENOTCONN');
      // Asked while open: the same objects every time, equal to what the socket itself gives.
      const peer = net.connect(port, '127.0.0.1');
      await new Promise((resolve) => peer.once('connect', resolve));
      await until(() => made.length === 2, 'accepted');
      const transport = made[1]!;
      const sock = transport.getExtraInfo('socket') as { getsockname(): unknown; getpeername(): unknown };
      expect(transport.getExtraInfo('peername')).toEqual(sock.getpeername());
      expect(transport.getExtraInfo('sockname')).toEqual(sock.getsockname());
      expect(transport.getExtraInfo('peername')).toBe(transport.getExtraInfo('peername'));
      expect(transport.getExtraInfo('peername')).toEqual({ address: '127.0.0.1', family: 'IPv4', port: peer.localPort });
      // Closed by us without anyone asking: made before the socket closed, so still there after.
      const closer = net.connect(port, '127.0.0.1');
      await new Promise((resolve) => closer.once('connect', resolve));
      await until(() => made.length === 3, 'accepted');
      const closerPort = closer.localPort;
      made[2]!.close();
      await until(() => seen.length === 2, 'connectionLost after close()');
      expect(seen[1]).toEqual([local, { address: '127.0.0.1', family: 'IPv4', port: closerPort }]);
      peer.destroy();
      closer.destroy();
      server.close();
      await server.waitClosed();
    });
  }, 30_000);

  it('holds at most 700 bytes of heap objects on the server (heap snapshots, code and native memory left out)', async () => {
    // What 400 accepted connections add, each after one echo round trip: the transport, its
    // UringSocket and uv Socket (with the WeakRef that closes a lost one's fd), the protocol and
    // the loop's and server's records of it. 793 bytes on Node 20 before session 21: the extra
    // info made at once (its object and two address objects, 160 bytes), a field for each of
    // five rarely changed states, two round counts where one serves, the loop's entry queue
    // kept by every transport; 601 after (Node 24 622).
    const script = `
      import v8 from 'node:v8';
      import { createInterface } from 'node:readline';
      const { Protocol } = await import('@loopkit/core');
      const { UringEventLoop } = await import('@loopkit/proactor');
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
      const loop = new UringEventLoop();
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
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const next = async (prefix: string): Promise<string> => {
      const { value } = await lines.next();
      expect(String(value)).toMatch(new RegExp(`^${prefix} `.trim()));
      return String(value).slice(prefix.length).trim();
    };
    const port = Number(await next('PORT'));
    const sockets: net.Socket[] = [];
    const roundTrip = (): Promise<net.Socket> =>
      new Promise((resolve, reject) => {
        const socket = net.connect({ port, host: '127.0.0.1' }, () => socket.write('sixteen bytes...'));
        socket.once('data', () => resolve(socket));
        socket.once('error', reject);
      });
    try {
      // One connection first, so the shapes and tables every connection shares exist before counting.
      sockets.push(await roundTrip());
      child.stdin!.write('\n');
      await next('READY');
      const count = 400;
      while (sockets.length < count + 1) sockets.push(...(await Promise.all(Array.from({ length: 50 }, roundTrip))));
      await new Promise((resolve) => setTimeout(resolve, 200));
      child.stdin!.write(`${count}\n`);
      const bytes = Number(await next('BYTES'));
      expect(bytes).toBeLessThanOrEqual(700);
    } finally {
      for (const socket of sockets) socket.destroy();
      child.kill();
    }
  }, 60_000);
});
