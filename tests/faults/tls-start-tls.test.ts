/**
 * startTls misused on a live connection, on every network loop, against Node's `tls` as the
 * peer (a plain TCP server that wraps each accepted socket in a server TLSSocket at once and
 * echoes). A second startTls on a transport that already carries TLS, while the first
 * handshake runs or after it finished, or a second writer.startTls racing the first, is
 * refused with a RuntimeError and leaves the first session working: the peer echoes through
 * it, it closes cleanly, nothing is reported and every fd comes back. Without the check the
 * second ClientHello went out on the same bytes: the peer failed with `bad record type` and
 * the first handshake hung until its sslHandshakeTimeout (asyncio 3.13 does the same and
 * its first start_tls did not return at all).
 * A half-closed transport (our writeEof, or the peer's EOF kept open by eofReceived
 * returning true) is refused too, at once: the handshake cannot finish there. Before, the
 * ClientHello's write after writeEof threw inside a callback (reported) and the handshake
 * waited for its timeout; after the peer's EOF it just waited (asyncio 3.13: the same report,
 * then ConnectionResetError).
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { RuntimeError, openConnection, type AbstractEventLoop, type Transport } from '@loopkit/core';
import { UringEventLoop, UringProactor } from '@loopkit/proactor';
import { NET_LOOPS, Recorder, hasProcFd, openFds, title, waitUntil, withLoop } from './helpers.js';
import { certs, tlsMissing } from './tls-helpers.js';

const SUBJECTS = [
  ...NET_LOOPS,
  UringProactor.problem() === null
    ? { name: 'UringEventLoop', make: () => new UringEventLoop() as AbstractEventLoop, reason: null }
    : { name: 'UringEventLoop', make: null, reason: UringProactor.problem() },
];

const ALREADY = /startTls\(\): the transport already carries TLS/;

/** A plain TCP server whose every connection turns into a TLS echo server at once; peer errors are kept. */
async function upgradingPeer(): Promise<{ port: number; errors: string[]; close: () => void }> {
  const errors: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((raw) => {
    sockets.add(raw);
    raw.on('error', () => {});
    const secure = new tls.TLSSocket(raw, { isServer: true, key: certs().serverKey, cert: certs().serverCert });
    secure.on('error', (error) => errors.push(error.message));
    secure.on('data', (data) => secure.write(data));
    secure.on('end', () => secure.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    errors,
    close: () => {
      server.close();
      for (const s of sockets) s.destroy();
    },
  };
}

async function refusal(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected startTls to be refused');
}

const CLIENT_TLS = { serverHostname: 'localhost', sslHandshakeTimeout: 10 };

describe.skipIf(tlsMissing !== null)('TLS: startTls on a transport that already carries TLS', () => {
  for (const subject of SUBJECTS) {
    describe.skipIf(subject.make === null)(subject.name, () => {
      const make = subject.make!;

      it(title(subject, 'loop.startTls during the first handshake and after it: RuntimeError, the first session serves and closes cleanly'), () =>
        withLoop(make, async (loop, reports) => {
          const peer = await upgradingPeer();
          const fdsBefore = hasProcFd ? openFds() : 0;
          try {
            const plain = new Recorder(loop);
            const [raw] = (await loop.createConnection(() => plain, '127.0.0.1', peer.port)) as [Transport, Recorder];
            const app = new Recorder(loop);
            const first = loop.startTls(raw, app, { ca: certs().ca }, CLIENT_TLS);
            const during = await refusal(loop.startTls(raw, new Recorder(loop), { ca: certs().ca }, CLIENT_TLS));
            expect(during).toBeInstanceOf(RuntimeError);
            expect((during as Error).message).toMatch(ALREADY);
            const secure = await first;
            const after = await refusal(loop.startTls(raw, new Recorder(loop), { ca: certs().ca }, CLIENT_TLS));
            expect(after).toBeInstanceOf(RuntimeError);
            expect((after as Error).message).toMatch(ALREADY);
            secure.write(Buffer.from('through the first session'));
            await waitUntil(() => app.received.toString() === 'through the first session', 10, 'the echo');
            secure.close();
            expect(await app.lost).toBe(null);
            expect(app.events).toEqual(['lost']);
            expect(plain.events).toEqual(['made']);
            expect(peer.errors).toEqual([]);
            expect(reports).toEqual([]);
          } finally {
            peer.close();
          }
          if (hasProcFd) await waitUntil(() => openFds() <= fdsBefore, 5, 'every fd back');
        }));

      it(title(subject, 'startTls on a half-closed transport (after writeEof; after the peer\'s EOF kept open): RuntimeError at once, the open direction still works'), () =>
        withLoop(make, async (loop, reports) => {
          const peers = new Set<net.Socket>();
          const fromPeer: Buffer[] = [];
          const plainPeer = net.createServer({ allowHalfOpen: true }, (socket) => {
            peers.add(socket);
            socket.on('error', () => {});
            socket.on('data', (data) => fromPeer.push(data));
            socket.on('end', () => socket.write('after your EOF'));
          });
          await new Promise<void>((resolve) => plainPeer.listen(0, '127.0.0.1', resolve));
          const port = (plainPeer.address() as net.AddressInfo).port;
          try {
            // Our sending side closed: the peer still answers, and we still read it.
            const ours = new Recorder(loop);
            const [oursTr] = (await loop.createConnection(() => ours, '127.0.0.1', port)) as [Transport, Recorder];
            oursTr.writeEof();
            const afterWriteEof = await refusal(loop.startTls(oursTr, new Recorder(loop), { ca: certs().ca }, CLIENT_TLS));
            expect(afterWriteEof).toBeInstanceOf(RuntimeError);
            expect((afterWriteEof as Error).message).toMatch(/startTls\(\): the transport is half-closed, writeEof\(\) closed its sending side/);
            await waitUntil(() => ours.received.toString() === 'after your EOF', 10, 'the peer\'s answer');
            oursTr.close();
            await ours.lost;

            // The peer's sending side closed (eofReceived true keeps ours open): we still write to it.
            const theirs = new Recorder(loop);
            theirs.keepOpenOnEof = true;
            const [theirsTr] = (await loop.createConnection(() => theirs, '127.0.0.1', port)) as [Transport, Recorder];
            await waitUntil(() => peers.size === 2, 10, 'the second connection accepted');
            [...peers][1]!.end();
            await waitUntil(() => theirs.events.includes('eof'), 10, 'the peer\'s EOF');
            const afterPeerEof = await refusal(loop.startTls(theirsTr, new Recorder(loop), { ca: certs().ca }, CLIENT_TLS));
            expect(afterPeerEof).toBeInstanceOf(RuntimeError);
            expect((afterPeerEof as Error).message).toMatch(/startTls\(\): the transport is half-closed, the peer ended its sending side/);
            theirsTr.write(Buffer.from('still plain'));
            await waitUntil(() => Buffer.concat(fromPeer).toString() === 'still plain', 10, 'our write after the refusal');
            theirsTr.close();
            await theirs.lost;
            expect(theirs.events).toEqual(['made', 'eof', 'lost']);
            expect(reports).toEqual([]);
          } finally {
            plainPeer.close();
            for (const s of peers) s.destroy();
          }
        }));

      it(title(subject, 'two writer.startTls calls racing: the second is refused, the stream goes on over the first'), () =>
        withLoop(make, async (loop, reports) => {
          const peer = await upgradingPeer();
          try {
            const [reader, writer] = await openConnection('127.0.0.1', peer.port);
            const first = writer.startTls({ ca: certs().ca }, CLIENT_TLS);
            const second = await refusal(writer.startTls({ ca: certs().ca }, CLIENT_TLS));
            expect(second).toBeInstanceOf(RuntimeError);
            expect((second as Error).message).toMatch(ALREADY);
            await first;
            writer.write(Buffer.from('line over TLS\n'));
            expect((await reader.readline()).toString()).toBe('line over TLS\n');
            writer.close();
            await writer.waitClosed();
            expect(peer.errors).toEqual([]);
            expect(reports).toEqual([]);
          } finally {
            peer.close();
          }
        }));
    });
  }
});
