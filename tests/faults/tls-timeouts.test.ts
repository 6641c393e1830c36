/**
 * The two TLS timeouts against peers that stall, on every network loop.
 * tests/conformance/tls.ts checks our client against a silent server (sslHandshakeTimeout)
 * and our client against a Node server that reads our close_notify and never answers
 * (sslShutdownTimeout). This file covers the rest:
 * - sslHandshakeTimeout at a server: a client that connects and sends nothing, one that
 *   sends half its ClientHello and stops, one that drips its ClientHello a byte every
 *   40 ms (the timeout bounds the whole handshake, not the gaps): each is reported once
 *   ('SSL handshake failed', ConnectionAbortedError saying the handshake timed out), its
 *   connection closed, and the server serves the next client;
 * - sslHandshakeTimeout at a client whose server sends half its first flight and stops;
 * - sslShutdownTimeout at a server whose client never answers close_notify, silent or
 *   still sending application data (dropped: the app closed): connectionLost(TimeoutError)
 *   once, no report, the client's socket closed.
 */
import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import { ConnectionAbortedError, TimeoutError, type AbstractEventLoop } from '@loopkit/core';
import { tlsStats } from '@loopkit/uv';
import { NET_LOOPS, Recorder, title, waitUntil, withLoop } from './helpers.js';
import { Tap, certs, closedWithin, recordingServer, tappedClient, tlsMissing } from './tls-helpers.js';
import * as tls from 'node:tls';

const HANDSHAKE_TIMEOUT = 0.3;
const SHUTDOWN_TIMEOUT = 0.3;

/** A real ClientHello, as Node's tls client writes it first (captured, never sent). */
async function clientHello(): Promise<Buffer> {
  const [a, b] = await socketPair();
  const tap = new Tap(a);
  tap.held = [];
  const socket = tls.connect({ socket: tap, servername: 'localhost', ca: certs().ca });
  socket.on('error', () => {});
  for (let i = 0; i < 100 && tap.held.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
  const hello = Buffer.concat(tap.held);
  socket.destroy();
  a.destroy();
  b.destroy();
  return hello;
}

async function socketPair(): Promise<[net.Socket, net.Socket]> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const a = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  const b = await accepted;
  server.close();
  return [a, b];
}

type Stall = 'silent' | 'half hello' | 'drip';

async function stallingClient(port: number, stall: Stall, hello: Buffer): Promise<{ raw: net.Socket; stop: () => void }> {
  const raw = net.connect(port, '127.0.0.1');
  raw.on('error', () => {});
  await new Promise<void>((resolve) => raw.once('connect', () => resolve()));
  let timer: NodeJS.Timeout | undefined;
  if (stall === 'half hello') raw.write(hello.subarray(0, hello.length >> 1));
  if (stall === 'drip') {
    let at = 0;
    timer = setInterval(() => {
      if (at < hello.length - 1 && !raw.destroyed) raw.write(hello.subarray(at, ++at)); // never the last byte
    }, 40);
  }
  return { raw, stop: () => clearInterval(timer) };
}

describe.skipIf(tlsMissing !== null)('TLS timeouts against stalling peers', () => {
  for (const subject of NET_LOOPS) {
    describe.skipIf(subject.make === null)(subject.name, () => {
      const make = subject.make!;

      it(title(subject, 'sslHandshakeTimeout at a server: silent, half-hello and dripping clients each reported once and closed; the server serves on'), () =>
        withLoop(make, async (loop, reports) => {
          const hello = await clientHello();
          expect(hello[0]).toBe(0x16); // a handshake record
          const { server, port, sides } = await recordingServer(loop, { sslHandshakeTimeout: HANDSHAKE_TIMEOUT }, true);
          try {
            const stalls: Stall[] = ['silent', 'half hello', 'drip'];
            for (const [i, stall] of stalls.entries()) {
              const t0 = loop.time();
              const client = await stallingClient(port, stall, hello);
              try {
                await closedWithin(client.raw, 5);
              } finally {
                client.stop();
              }
              const took = loop.time() - t0;
              expect(took, stall).toBeGreaterThanOrEqual(HANDSHAKE_TIMEOUT - 0.02);
              expect(took, stall).toBeLessThan(HANDSHAKE_TIMEOUT + 2);
              await waitUntil(() => reports.length === i + 1, 5, `the report for the ${stall} client`);
              expect(reports[i]!.message).toBe('SSL handshake failed');
              expect(reports[i]!.exception).toBeInstanceOf(ConnectionAbortedError);
              expect((reports[i]!.exception as Error).message).toMatch(/handshake timed out/);
            }
            // The app never heard of the stalled connections; the next client is served.
            expect(sides.every((s) => s.events.length === 0)).toBe(true);
            const good = await tappedClient(port);
            good.socket.write(Buffer.from('after the stalls'));
            const back = await new Promise<string>((resolve) => good.socket.once('data', (d: Buffer) => resolve(d.toString())));
            expect(back).toBe('after the stalls');
            good.socket.destroy();
            good.raw.destroy();
            expect(reports).toHaveLength(stalls.length);
          } finally {
            server.close();
            await server.waitClosed();
          }
        }));

      it(title(subject, 'sslHandshakeTimeout at a client whose server sends half its first flight: ConnectionAbortedError, the socket closed'), () =>
        withLoop(make, async (loop, reports) => {
          const engines = tlsStats().engines;
          // A Node TLS server whose every byte is held back: we send half of its first flight.
          const raws: net.Socket[] = [];
          const cut = net.createServer((raw) => {
            raws.push(raw);
            raw.on('error', () => {});
            const tap = new Tap(raw);
            tap.held = [];
            const s = new tls.TLSSocket(tap, { isServer: true, key: certs().serverKey, cert: certs().serverCert });
            s.on('error', () => {});
            const poll = setInterval(() => {
              if (tap.held!.length === 0) return;
              clearInterval(poll);
              const flight = Buffer.concat(tap.held!);
              raw.write(flight.subarray(0, flight.length >> 1));
            }, 5);
            raw.on('close', () => clearInterval(poll));
          });
          await new Promise<void>((resolve) => cut.listen(0, '127.0.0.1', resolve));
          try {
            const t0 = loop.time();
            const error = await failure(loop, cut);
            expect(error).toBeInstanceOf(ConnectionAbortedError);
            expect((error as Error).message).toMatch(/handshake timed out/);
            expect(loop.time() - t0).toBeGreaterThanOrEqual(HANDSHAKE_TIMEOUT - 0.02);
            expect(raws).toHaveLength(1);
            await closedWithin(raws[0]!, 5);
            expect(reports).toEqual([]);
          } finally {
            for (const r of raws) r.destroy();
            cut.close();
          }
          await waitUntil(() => tlsStats().engines <= engines, 5, 'every engine freed');
        }));

      for (const chatty of [false, true]) {
        it(title(subject, `sslShutdownTimeout at a server whose client never answers close_notify${chatty ? ' and keeps sending data' : ''}`), () =>
          withLoop(make, async (loop, reports) => {
            const { server, port, sides } = await recordingServer(loop, { sslShutdownTimeout: SHUTDOWN_TIMEOUT });
            try {
              // allowHalfOpen: Node's TLS client reads our close_notify as 'end' and answers
              // nothing, while its writing side stays open.
              const { socket, tap, raw } = await tappedClient(port, { allowHalfOpen: true } as tls.ConnectionOptions);
              await waitUntil(() => sides.length === 1 && sides[0]!.transport !== null, 5, 'connectionMade');
              // Silent: nothing its TLS stack writes from now on reaches us. Chatty: a new
              // application record every 20 ms, before and after our close_notify.
              if (!chatty) tap.held = [];
              let sent = 0;
              const chatter = setInterval(() => {
                if (!chatty || socket.destroyed) return;
                socket.write('chatter');
                sent += 1;
              }, 20);
              try {
                const side = sides[0]!;
                const t0 = loop.time();
                const atClose = side.received.length;
                side.transport!.close();
                const exc = await side.lost;
                expect(exc).toBeInstanceOf(TimeoutError);
                expect(loop.time() - t0).toBeGreaterThanOrEqual(SHUTDOWN_TIMEOUT - 0.02);
                expect(side.events).toEqual(['made', 'lost']);
                expect(side.received.length).toBe(atClose); // the chatter after close() is dropped
                if (chatty) expect(sent).toBeGreaterThanOrEqual(5);
                await closedWithin(raw, 5);
              } finally {
                clearInterval(chatter);
                socket.destroy();
              }
              expect(reports).toEqual([]);
            } finally {
              server.close();
              await server.waitClosed();
            }
          }));
      }
    });
  }
});

/** Our client's connect to `server`, which must fail; the error. */
async function failure(loop: AbstractEventLoop, server: net.Server): Promise<unknown> {
  const port = (server.address() as net.AddressInfo).port;
  return loop
    .createConnection(() => new Recorder(loop), '127.0.0.1', port, { ssl: { ca: certs().ca }, serverHostname: 'localhost', sslHandshakeTimeout: HANDSHAKE_TIMEOUT })
    .then(
      () => new Error('the handshake succeeded'),
      (e: unknown) => e,
    );
}
