/**
 * TLS faults inside a record, on every network loop, with loopkit as the server and as the
 * client. The peer is Node's `tls` over a tap (tls-helpers.ts): it sends one whole record
 * ("before"), then only the first half of the next record's ciphertext on the raw TCP
 * socket, then
 * - a reset (SO_LINGER 0: `resetAndDestroy()`): connectionLost(ConnectionResetError) once;
 * - a FIN: the layer's rule for a TCP EOF without close_notify applies (core README: the
 *   stream ends after what was received, as asyncio and Node treat it): eofReceived, then
 *   connectionLost(null). The half record is dropped, never delivered: neither OpenSSL's
 *   memory BIO nor the layer tells a cut inside a record from a cut between records (Node's
 *   own TLSSocket also just emits 'end' here; checked by hand).
 * Either way the whole record before the fault reaches the app, the half record never does,
 * nothing is reported, no engine is left alive, and the server serves the next client.
 */
import { describe, expect, it } from 'vitest';
import { ConnectionResetError, type Transport } from '@loopkit/core';
import { tlsStats } from '@loopkit/uv';
import { NET_LOOPS, Recorder, title, waitUntil, withLoop } from './helpers.js';
import { certs, recordingServer, tappedClient, tappedServer, tlsMissing } from './tls-helpers.js';

const BEFORE = Buffer.from('a whole record before the fault');
const CUT = Buffer.alloc(4096, 0x5a);

type Fault = 'reset' | 'fin';

/** What the app saw when the stream was cut inside a record. */
function expectCut(side: Recorder, fault: Fault): void {
  expect(side.received.equals(BEFORE)).toBe(true);
  expect(side.lostCount).toBe(1);
  if (fault === 'reset') {
    expect(side.events).toEqual(['made', 'lost']);
    expect(side.lostWith[0]).toBeInstanceOf(ConnectionResetError);
  } else {
    expect(side.events).toEqual(['made', 'eof', 'lost']);
    expect(side.lostWith).toEqual([null]);
  }
}

describe.skipIf(tlsMissing !== null)('TLS: the peer cuts the stream inside a record', () => {
  for (const subject of NET_LOOPS) {
    describe.skipIf(subject.make === null)(subject.name, () => {
      const make = subject.make!;
      for (const fault of ['reset', 'fin'] as const) {
        it(title(subject, `server side: a client sends half a record then ${fault === 'reset' ? 'resets' : 'a FIN'}`), () =>
          withLoop(make, async (loop, reports) => {
            const engines = tlsStats().engines;
            const { server, port, sides } = await recordingServer(loop, {}, true);
            try {
              const { socket, tap, raw } = await tappedClient(port);
              socket.write(BEFORE);
              await waitUntil(() => sides.length === 1 && sides[0]!.received.length === BEFORE.length, 10, 'the whole record arrives');
              const record = await tap.capture(socket, CUT);
              expect(record[0]).toBe(0x17); // application data
              expect(record.readUInt16BE(3)).toBe(record.length - 5); // exactly one record
              raw.write(record.subarray(0, record.length >> 1));
              await new Promise((r) => setTimeout(r, 20));
              if (fault === 'reset') raw.resetAndDestroy();
              else raw.end();
              await sides[0]!.lost;
              expectCut(sides[0]!, fault);
              socket.destroy();
              raw.destroy();
              // The server serves on.
              const next = await tappedClient(port);
              next.socket.write(Buffer.from('next'));
              await waitUntil(() => sides.length === 2 && sides[1]!.received.toString() === 'next', 10, 'the next client is served');
              next.socket.destroy();
              next.raw.destroy();
              await sides[1]!.lost;
              expect(reports).toEqual([]);
            } finally {
              server.close();
              await server.waitClosed();
            }
            await waitUntil(() => tlsStats().engines <= engines, 5, 'every engine freed');
          }));

        it(title(subject, `client side: the server sends half a record then ${fault === 'reset' ? 'resets' : 'a FIN'}`), () =>
          withLoop(make, async (loop, reports) => {
            const engines = tlsStats().engines;
            const peer = await tappedServer();
            try {
              const [, client] = (await loop.createConnection(() => new Recorder(loop), '127.0.0.1', peer.port, {
                ssl: { ca: certs().ca },
                serverHostname: 'localhost',
              })) as [Transport, Recorder];
              await waitUntil(() => peer.peers.length === 1, 10, 'the server side of the handshake');
              const { socket, tap, raw } = peer.peers[0]!;
              socket.write(BEFORE);
              await waitUntil(() => client.received.length === BEFORE.length, 10, 'the whole record arrives');
              const record = await tap.capture(socket, CUT);
              expect(record.readUInt16BE(3)).toBe(record.length - 5);
              raw.write(record.subarray(0, record.length >> 1));
              await new Promise((r) => setTimeout(r, 20));
              if (fault === 'reset') raw.resetAndDestroy();
              else raw.end();
              await client.lost;
              expectCut(client, fault);
              expect(reports).toEqual([]);
            } finally {
              await peer.close();
            }
            await waitUntil(() => tlsStats().engines <= engines, 5, 'every engine freed');
          }));
      }
    });
  }
});
