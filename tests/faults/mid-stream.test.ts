/**
 * Faults in the middle of a stream, on every network loop: a peer reset (SO_LINGER 0),
 * an abort from either end, a half-close while our side is paused or still has bytes to
 * send. Each time: every byte the peer got to our kernel before the fault is delivered in
 * order, connectionLost is called exactly once, and the loop runs on (the same server and
 * loop serve a new connection afterwards). The peers are node:net sockets (nobody's
 * transport code but Node's) or loopkit transports on the same loop.
 */
import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import { BrokenPipeError, ConnectionAbortedError, ConnectionResetError, sleep, type AbstractEventLoop, type Transport } from '@loopkit/core';
import { Echo, NET_LOOPS, Recorder, pattern, portOf, title, waitUntil, withLoop, type ServerLike } from './helpers.js';

/** A node:net server on 127.0.0.1; `sockets` holds the accepted ones. */
async function nodePeerServer(): Promise<{ server: net.Server; port: number; sockets: net.Socket[] }> {
  const sockets: net.Socket[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => {});
    sockets.push(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as net.AddressInfo).port, sockets };
}

function writeAll(s: net.Socket, data: Buffer): Promise<void> {
  return new Promise<void>((resolve, reject) => s.write(data, (err) => (err ? reject(err) : resolve())));
}

/** The loop still serves: a fresh echo server and connection on it round-trip a message. */
async function stillServes(loop: AbstractEventLoop): Promise<void> {
  const srv = (await loop.createServer(() => new Echo(), '127.0.0.1', 0)) as unknown as ServerLike;
  expect(srv.isServing()).toBe(true);
  const [t, p] = (await loop.createConnection(() => new Recorder(loop), '127.0.0.1', portOf(srv))) as [Transport, Recorder];
  t.write(Buffer.from('still here'));
  await waitUntil(() => p.received.length >= 10, 10, 'echo after the fault');
  expect(p.received.toString()).toBe('still here');
  t.close();
  expect(await p.lost).toBe(null);
  srv.close();
  await srv.waitClosed();
}

/** The server that saw the fault still accepts: a new client's bytes reach a new server side (`newest()`). */
async function serverServes(loop: AbstractEventLoop, server: ServerLike, newest: () => Recorder | null): Promise<void> {
  const before = newest();
  const [t, p] = (await loop.createConnection(() => new Recorder(loop), '127.0.0.1', portOf(server))) as [Transport, Recorder];
  t.write(Buffer.from('next one'));
  await waitUntil(() => newest() !== before && newest()!.received.length >= 8, 10, 'the server accepts after the fault');
  expect(newest()!.received.toString()).toBe('next one');
  t.close();
  expect(await p.lost).toBe(null);
  await newest()!.lost;
}

function resetOrEof(exc: unknown): boolean {
  // A reset is ECONNRESET on every loop, as asyncio (reset-after-data.test.ts: NetProactor once saw EOF).
  // On Windows the peer's reset may arrive as EOF (README: "abort() may look like a clean close";
  // Node for Windows reads ahead, and NetProactor's one-more-read probe needs @loopkit/uv).
  return exc instanceof ConnectionResetError || (process.platform === 'win32' && exc === null);
}

describe('faults mid-stream', () => {
  for (const subject of NET_LOOPS) {
    describe.skipIf(subject.make === null)(subject.name, () => {
      const make = subject.make!;

      it(title(subject, 'peer reset while reading: every byte before the reset arrives, connectionLost once'), () =>
        withLoop(make, async (loop, reports) => {
          const peer = await nodePeerServer();
          try {
            const [transport, client] = (await loop.createConnection(() => new Recorder(loop), '127.0.0.1', peer.port)) as [Transport, Recorder];
            await waitUntil(() => peer.sockets.length === 1);
            const data = pattern(1 << 20, 7);
            await writeAll(peer.sockets[0]!, data);
            // Reset once all but the last 32 KiB were read: the rest is in flight at the fault.
            await waitUntil(() => client.received.length >= data.length - (32 << 10), 10, 'most bytes read');
            peer.sockets[0]!.resetAndDestroy();
            const exc = await client.lost;
            expect(resetOrEof(exc)).toBe(true);
            expect(client.received.length).toBe(data.length);
            expect(client.received.equals(data)).toBe(true);
            await sleep(0.02);
            expect(client.lostCount).toBe(1);
            expect(transport.isClosing()).toBe(true);
            transport.write(Buffer.from('dropped')); // a write after the loss is dropped, not thrown
            await stillServes(loop);
            expect(reports).toEqual([]);
          } finally {
            peer.server.close();
          }
        }));

      it(title(subject, 'peer reset while our side is paused: resumeReading delivers the held bytes, then connectionLost once'), () =>
        withLoop(make, async (loop, reports) => {
          const peer = await nodePeerServer();
          try {
            const [transport, client] = (await loop.createConnection(() => new Recorder(loop), '127.0.0.1', peer.port)) as [Transport, Recorder];
            transport.pauseReading();
            await waitUntil(() => peer.sockets.length === 1);
            const data = pattern(48 << 10, 3); // fits the receive window: all of it reaches our kernel
            await writeAll(peer.sockets[0]!, data);
            await sleep(0.05);
            peer.sockets[0]!.resetAndDestroy();
            await sleep(0.05);
            expect(client.received.length).toBe(0);
            expect(client.lostCount).toBe(0);
            transport.resumeReading();
            const exc = await client.lost;
            expect(resetOrEof(exc)).toBe(true);
            expect(client.received.equals(data)).toBe(true);
            await sleep(0.02);
            expect(client.lostCount).toBe(1);
            await stillServes(loop);
            expect(reports).toEqual([]);
          } finally {
            peer.server.close();
          }
        }));

      it(title(subject, 'a client resets mid-upload: the server side gets every byte, connectionLost once, the server serves on'), () =>
        withLoop(make, async (loop, reports) => {
          const sides: Recorder[] = [];
          const server = (await loop.createServer(() => {
            const r = new Recorder(loop);
            sides.push(r);
            return r;
          }, '127.0.0.1', 0)) as unknown as ServerLike;
          const data = pattern(3 << 20, 11);
          for (let round = 0; round < 3; round++) {
            const client = net.connect(portOf(server), '127.0.0.1');
            client.on('error', () => {});
            await new Promise<void>((resolve) => client.once('connect', () => resolve()));
            await writeAll(client, data);
            await waitUntil(() => sides.length === round + 1 && sides[round]!.received.length >= data.length - (32 << 10), 15, 'most bytes read');
            client.resetAndDestroy();
            const side = sides[round]!;
            expect(resetOrEof(await side.lost)).toBe(true);
            expect(side.received.equals(data)).toBe(true);
          }
          await sleep(0.02);
          expect(sides.map((s) => s.lostCount)).toEqual([1, 1, 1]);
          await serverServes(loop, server, () => sides.at(-1) ?? null);
          await stillServes(loop);
          server.close();
          await server.waitClosed();
          expect(reports).toEqual([]);
        }));

      it(title(subject, 'the sender aborts mid-stream: the receiver gets a prefix holding every byte the OS accepted, each side loses once'), () =>
        withLoop(make, async (loop, reports) => {
          let receiver: Recorder | null = null;
          const server = (await loop.createServer(() => (receiver = new Recorder(loop)), '127.0.0.1', 0)) as unknown as ServerLike;
          const [transport, sender] = (await loop.createConnection(() => new Recorder(loop), '127.0.0.1', portOf(server))) as [Transport, Recorder];
          await waitUntil(() => receiver?.transport != null);
          receiver!.transport!.pauseReading(); // a slow reader: the sender's buffer fills
          const data = pattern(8 << 20, 5);
          const chunk = 256 << 10;
          let written = 0;
          while (written < data.length && !sender.events.includes('pause')) {
            transport.write(data.subarray(written, written + chunk));
            written += chunk;
            await sleep(0.005);
          }
          expect(sender.events).toContain('pause');
          const acceptedByOs = written - transport.getWriteBufferSize();
          expect(acceptedByOs).toBeGreaterThan(0);
          transport.abort();
          expect(transport.getWriteBufferSize()).toBe(0);
          transport.write(Buffer.from('after abort')); // dropped
          transport.abort();
          transport.close();
          expect(await sender.lost).toBe(null);
          receiver!.transport!.resumeReading();
          await receiver!.lost;
          const got = receiver!.received;
          expect(got.length).toBeGreaterThanOrEqual(acceptedByOs);
          expect(got.length).toBeLessThanOrEqual(written);
          expect(got.equals(data.subarray(0, got.length))).toBe(true);
          await sleep(0.02);
          expect(sender.lostCount).toBe(1);
          expect(receiver!.lostCount).toBe(1);
          expect(sender.events.filter((e) => e === 'pause').length).toBe(1);
          await serverServes(loop, server, () => receiver);
          await stillServes(loop);
          server.close();
          await server.waitClosed();
          expect(reports).toEqual([]);
        }));

      it(title(subject, 'the receiver aborts while the sender streams: the sender loses the connection once, with a connection error'), () =>
        withLoop(make, async (loop, reports) => {
          let receiver: Recorder | null = null;
          const server = (await loop.createServer(() => (receiver = new Recorder(loop)), '127.0.0.1', 0)) as unknown as ServerLike;
          const [transport, sender] = (await loop.createConnection(() => new Recorder(loop), '127.0.0.1', portOf(server))) as [Transport, Recorder];
          await waitUntil(() => receiver?.transport != null);
          const chunk = pattern(64 << 10, 9);
          let aborted = false;
          for (let i = 0; i < 2000 && !sender.lost.done(); i++) {
            if (!transport.isClosing()) transport.write(chunk);
            if (!aborted && receiver!.received.length > 256 << 10) {
              receiver!.transport!.abort(); // unread bytes in its kernel: the OS sends a reset
              aborted = true;
            }
            await sleep(0.002);
          }
          expect(aborted).toBe(true);
          const exc = await sender.lost;
          // Windows reports a send to a reset connection as WSAECONNABORTED (asyncio's proactor
          // sees ConnectionAbortedError there too). And a close sends a reset only while unread
          // bytes wait in the socket; Node for Windows reads ahead through IOCP, so the receiver's
          // abort may find none and close cleanly: the sender then sees EOF (connectionLost(null)).
          if (process.platform === 'win32') {
            expect(exc === null || [ConnectionResetError, BrokenPipeError, ConnectionAbortedError].some((cls) => exc instanceof cls), `lost with ${String(exc)}`).toBe(true);
          } else {
            expect(exc instanceof ConnectionResetError || exc instanceof BrokenPipeError, `lost with ${String(exc)}`).toBe(true);
          }
          expect(await receiver!.lost).toBe(null);
          const got = receiver!.received;
          for (let off = 0; off + chunk.length <= got.length; off += chunk.length) {
            expect(got.subarray(off, off + chunk.length).equals(chunk)).toBe(true);
          }
          await sleep(0.02);
          expect(sender.lostCount).toBe(1);
          expect(receiver!.lostCount).toBe(1);
          await serverServes(loop, server, () => receiver);
          await stillServes(loop);
          server.close();
          await server.waitClosed();
          expect(reports).toEqual([]);
        }));

      it(title(subject, 'half-close while paused: the held bytes, then eofReceived, then our reply reaches the peer'), () =>
        withLoop(make, async (loop, reports) => {
          const peer = await nodePeerServer();
          try {
            const [transport, client] = (await loop.createConnection(() => new Recorder(loop), '127.0.0.1', peer.port)) as [Transport, Recorder];
            client.keepOpenOnEof = true;
            transport.pauseReading();
            await waitUntil(() => peer.sockets.length === 1);
            const ps = peer.sockets[0]!;
            const fromPeer: Buffer[] = [];
            let peerEnded = false;
            ps.on('data', (d: Buffer) => fromPeer.push(d));
            ps.on('end', () => (peerEnded = true));
            const data = pattern(40 << 10, 1);
            await writeAll(ps, data);
            ps.end();
            await sleep(0.05);
            expect(client.events).toEqual(['made']);
            transport.resumeReading();
            await waitUntil(() => client.events.includes('eof'), 10, 'eofReceived');
            expect(client.received.equals(data)).toBe(true);
            expect(client.events).toEqual(['made', 'eof']);
            const reply = pattern(2 << 20, 2);
            transport.write(reply);
            transport.close();
            expect(await client.lost).toBe(null);
            await waitUntil(() => peerEnded, 10, 'the peer sees our EOF');
            expect(Buffer.concat(fromPeer).equals(reply)).toBe(true);
            expect(client.events).toEqual(['made', 'eof', 'lost']);
            await stillServes(loop);
            expect(reports).toEqual([]);
          } finally {
            peer.server.close();
          }
        }));

      it(title(subject, 'half-close with our writes still buffered: eofReceived() false closes only after the buffer flushed'), () =>
        withLoop(make, async (loop, reports) => {
          const peer = await nodePeerServer();
          try {
            const [transport, client] = (await loop.createConnection(() => new Recorder(loop), '127.0.0.1', peer.port)) as [Transport, Recorder];
            await waitUntil(() => peer.sockets.length === 1);
            const ps = peer.sockets[0]!;
            ps.pause(); // the peer does not read yet: our bytes stay buffered
            const big = pattern(8 << 20, 4);
            transport.write(big);
            await sleep(0.05);
            expect(transport.getWriteBufferSize()).toBeGreaterThan(0);
            ps.end(Buffer.from('bye')); // the peer half-closes while our buffer is full
            await waitUntil(() => client.events.includes('eof'), 10, 'eofReceived');
            expect(client.received.toString()).toBe('bye');
            expect(client.lost.done()).toBe(false); // still flushing
            const fromPeer: Buffer[] = [];
            ps.on('data', (d: Buffer) => fromPeer.push(d));
            ps.resume();
            expect(await client.lost).toBe(null);
            await waitUntil(() => Buffer.concat(fromPeer).length >= big.length, 15, 'every buffered byte flushed');
            expect(Buffer.concat(fromPeer).equals(big)).toBe(true);
            expect(client.events).toEqual(['made', 'pause', 'eof', 'resume', 'lost']);
            await stillServes(loop);
            expect(reports).toEqual([]);
          } finally {
            peer.server.close();
          }
        }));
    });
  }
});
