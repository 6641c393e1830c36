/**
 * Bytes that are not TLS, on every network loop. tests/conformance/tls.ts checks one
 * plain-TCP client sending an HTTP request (reported once, the server serves on); this
 * file goes further:
 * - four kinds of garbage in turn (an HTTP request, random bytes, a handshake record
 *   header with a body that is not a ClientHello, an SSLv2-style hello), each from a
 *   plain-TCP client, with a good TLS client served between them: each is reported exactly
 *   once as 'SSL handshake failed' with an SSLError, its connection is closed (the client
 *   sees the close), and its app protocol never hears of it (no connectionMade, no
 *   connectionLost);
 * - a tampered record after a good handshake (one ciphertext byte flipped), at our server
 *   and at our client: connectionLost(SSLError) once (OpenSSL's bad record MAC), no report,
 *   the peer's socket closed.
 */
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import { SSLError, type Transport } from '@loopkit/core';
import { tlsStats } from '@loopkit/uv';
import { NET_LOOPS, Recorder, title, waitUntil, withLoop } from './helpers.js';
import { certs, closedWithin, recordingServer, tappedClient, tappedServer, tlsMissing } from './tls-helpers.js';

const GARBAGE: Array<[string, Buffer]> = [
  ['an HTTP request', Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n')],
  ['4 KiB of random bytes', Buffer.concat([Buffer.from([0x42]), randomBytes(4095)])],
  ['a handshake record whose body is not a ClientHello', Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, 0x40]), Buffer.alloc(0x40, 0xee)])],
  ['an SSLv2-style hello', Buffer.from([0x80, 0x2e, 0x01, 0x00, 0x02, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10, ...Array<number>(0x25).fill(7)])],
];

/** The plain-TCP client: connect, write the garbage, wait for the server to close us. */
async function garbageClient(port: number, bytes: Buffer): Promise<void> {
  const raw = net.connect(port, '127.0.0.1');
  raw.on('error', () => {}); // the server may answer with an alert and a reset
  await new Promise<void>((resolve) => raw.once('connect', () => resolve()));
  raw.write(bytes);
  await closedWithin(raw, 5);
}

describe.skipIf(tlsMissing !== null)('TLS: a peer that does not speak TLS', () => {
  for (const subject of NET_LOOPS) {
    describe.skipIf(subject.make === null)(subject.name, () => {
      const make = subject.make!;

      it(title(subject, 'four kinds of garbage from plain-TCP clients: each reported once and closed; good clients served between them'), () =>
        withLoop(make, async (loop, reports) => {
          const { server, port, sides } = await recordingServer(loop, {}, true);
          try {
            for (const [i, [what, bytes]] of GARBAGE.entries()) {
              await garbageClient(port, bytes);
              await waitUntil(() => reports.length === i + 1, 5, `the report for ${what}`);
              const report = reports[i]!;
              expect(report.message, what).toBe('SSL handshake failed');
              expect(report.exception, what).toBeInstanceOf(SSLError);
              expect(typeof (report.exception as SSLError).code, what).toBe('string');
              // A good client right after: served by the same server.
              const good = await tappedClient(port);
              const served = sides.length;
              good.socket.write(Buffer.from(`good ${i}`));
              const back = await new Promise<string>((resolve) => good.socket.once('data', (d: Buffer) => resolve(d.toString())));
              expect(back).toBe(`good ${i}`);
              good.socket.destroy();
              good.raw.destroy();
              await waitUntil(() => sides.at(-1)!.lostCount === 1, 5, 'the good connection lost');
              expect(sides.length).toBe(served);
            }
            await new Promise((r) => setTimeout(r, 50));
            expect(reports).toHaveLength(GARBAGE.length);
            // The app saw only the good connections, each made and lost once.
            const made = sides.filter((s) => s.events.length > 0);
            expect(made).toHaveLength(GARBAGE.length);
            // (A good client's end is a TCP FIN here: eofReceived may come before the loss.)
            for (const s of made) expect(s.events.filter((e) => e !== 'eof')).toEqual(['made', 'lost']);
            expect(server.isServing()).toBe(true);
          } finally {
            server.close();
            await server.waitClosed();
          }
        }));

      it(title(subject, 'a tampered record at our server: connectionLost(SSLError) once, no report, the client closed'), () =>
        withLoop(make, async (loop, reports) => {
          const engines = tlsStats().engines;
          const { server, port, sides } = await recordingServer(loop);
          try {
            const { socket, tap, raw } = await tappedClient(port);
            socket.write(Buffer.from('intact'));
            await waitUntil(() => sides.length === 1 && sides[0]!.received.toString() === 'intact', 5, 'the intact record');
            const record = await tap.capture(socket, Buffer.from('tampered'));
            record[record.length - 3]! ^= 0x01;
            raw.write(record);
            const exc = await sides[0]!.lost;
            expect(exc).toBeInstanceOf(SSLError);
            // OpenSSL 3.0 (Node 20) says bad record mac; the 3.x of Node 22 and 24 says record layer failure.
            expect((exc as SSLError).code).toMatch(/BAD_RECORD_MAC|DECRYPTION_FAILED|RECORD_LAYER_FAILURE/);
            expect(sides[0]!.received.toString()).toBe('intact');
            expect(sides[0]!.events).toEqual(['made', 'lost']);
            await closedWithin(raw, 5);
            expect(reports).toEqual([]);
          } finally {
            server.close();
            await server.waitClosed();
          }
          await waitUntil(() => tlsStats().engines <= engines, 5, 'every engine freed');
        }));

      it(title(subject, 'a tampered record at our client: connectionLost(SSLError) once, no report, the server closed'), () =>
        withLoop(make, async (loop, reports) => {
          const peer = await tappedServer();
          try {
            const [, client] = (await loop.createConnection(() => new Recorder(loop), '127.0.0.1', peer.port, {
              ssl: { ca: certs().ca },
              serverHostname: 'localhost',
            })) as [Transport, Recorder];
            await waitUntil(() => peer.peers.length === 1, 5, 'the server side of the handshake');
            const { socket, tap, raw } = peer.peers[0]!;
            const record = await tap.capture(socket, Buffer.alloc(1000, 0x61));
            record[7]! ^= 0x80;
            raw.write(record);
            const exc = await client.lost;
            expect(exc).toBeInstanceOf(SSLError);
            expect((exc as SSLError).code).toMatch(/BAD_RECORD_MAC|DECRYPTION_FAILED|RECORD_LAYER_FAILURE/);
            expect(client.received.length).toBe(0);
            expect(client.events).toEqual(['made', 'lost']);
            await closedWithin(raw, 5);
            expect(reports).toEqual([]);
          } finally {
            await peer.close();
          }
        }));
    });
  }
});
