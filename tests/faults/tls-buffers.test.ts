/**
 * Who owns the bytes that cross the TLS layer, on every network loop. The layer moves
 * records through buffers it reuses (one send buffer for the process, one read buffer per
 * connection), so these tests hold every buffer the app was given and check it afterwards:
 * - a server app that keeps each `dataReceived` chunk (the chunk itself, not a copy) while
 *   many connections send 1 KiB and 64 KiB messages at once still holds exactly what each
 *   client sent, and each client got its own bytes back;
 * - a server that writes to many clients that do not read (so every socket transport has
 *   to buffer what the kernel refused) delivers each client's own bytes once they read.
 */
import * as tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { Protocol, type Transport } from '@loopkit/core';
import { NET_LOOPS, pattern, portOf, title, waitUntil, withLoop, type ServerLike } from './helpers.js';
import { certs, tlsMissing } from './tls-helpers.js';

const CLIENTS = 8;
const SIZES = [1024, 65536, 1024, 65536 + 1000, 300];

/** Keeps every chunk it is given, as it was given, and echoes it. */
class KeepingEcho extends Protocol {
  transport: Transport | null = null;
  readonly kept: Uint8Array[] = [];
  override connectionMade(transport: Transport): void {
    this.transport = transport;
  }
  override dataReceived(data: Uint8Array): void {
    this.kept.push(data);
    this.transport!.write(data);
  }
  get keptBytes(): Buffer {
    return Buffer.concat(this.kept);
  }
}

function connect(port: number): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ port, host: '127.0.0.1', ca: certs().ca, servername: 'localhost' }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Send each message and wait for its whole echo; resolves to everything sent. */
async function echoMessages(socket: tls.TLSSocket, seed: number): Promise<Buffer> {
  const sent: Buffer[] = [];
  for (const [i, size] of SIZES.entries()) {
    const message = pattern(size, seed * 16 + i);
    sent.push(message);
    const echo = new Promise<Buffer>((resolve) => {
      const got: Buffer[] = [];
      let n = 0;
      const onData = (d: Buffer) => {
        got.push(d);
        n += d.length;
        if (n >= size) {
          socket.off('data', onData);
          resolve(Buffer.concat(got));
        }
      };
      socket.on('data', onData);
    });
    socket.write(message);
    expect((await echo).equals(message)).toBe(true);
  }
  return Buffer.concat(sent);
}

describe.skipIf(tlsMissing !== null)('TLS: buffers the layer reuses never change bytes the app or a transport holds', () => {
  for (const subject of NET_LOOPS) {
    describe.skipIf(subject.make === null)(subject.name, () => {
      const make = subject.make!;
      it(title(subject, `every chunk a server app kept is intact after ${CLIENTS} clients echoed 1 KiB and 64 KiB messages at once`), () =>
        withLoop(make, async (loop, reports) => {
          const apps: KeepingEcho[] = [];
          const server = (await loop.createServer(
            () => {
              const app = new KeepingEcho();
              apps.push(app);
              return app;
            },
            '127.0.0.1',
            0,
            { ssl: { key: certs().serverKey, cert: certs().serverCert } },
          )) as unknown as ServerLike;
          const sockets: tls.TLSSocket[] = [];
          try {
            sockets.push(...(await Promise.all(Array.from({ length: CLIENTS }, () => connect(portOf(server))))));
            const sent = await Promise.all(sockets.map((s, i) => echoMessages(s, i)));
            const serverSide = sockets.map((s) => apps.find((app) => app.transport!.getExtraInfo<{ port: number }>('peername')!.port === s.localPort)!);
            for (const [i, app] of serverSide.entries()) expect(app.keptBytes.equals(sent[i]!)).toBe(true);
          } finally {
            for (const s of sockets) s.destroy();
            server.close();
            await server.waitClosed();
          }
          expect(reports).toEqual([]);
        }));

      it(title(subject, `${CLIENTS} clients that do not read yet each get their own bytes from buffering transports`), () =>
        withLoop(make, async (loop, reports) => {
          const SIZE = 8 * 1024 * 1024; // more than the kernel's socket buffers take on loopback
          const transports: Transport[] = [];
          const server = (await loop.createServer(
            () =>
              new (class extends Protocol {
                override connectionMade(transport: Transport): void {
                  transports.push(transport);
                }
              })(),
            '127.0.0.1',
            0,
            { ssl: { key: certs().serverKey, cert: certs().serverCert } },
          )) as unknown as ServerLike;
          const sockets: tls.TLSSocket[] = [];
          try {
            sockets.push(...(await Promise.all(Array.from({ length: CLIENTS }, () => connect(portOf(server))))));
            for (const s of sockets) s.pause();
            await waitUntil(() => transports.length === CLIENTS, 10, 'every connection is made');
            const byPort = new Map(transports.map((t) => [t.getExtraInfo<{ port: number }>('peername')!.port, t]));
            const messages = sockets.map((_, i) => pattern(SIZE, i));
            // In small writes, interleaved across the connections: the kernel soon refuses more.
            const STEP = 48 * 1024;
            for (let at = 0; at < SIZE; at += STEP) {
              for (const [i, s] of sockets.entries()) byPort.get(s.localPort!)!.write(messages[i]!.subarray(at, at + STEP));
            }
            expect(transports.some((t) => t.getWriteBufferSize() > 0)).toBe(true);
            const received = await Promise.all(
              sockets.map(
                (s) =>
                  new Promise<Buffer>((resolve) => {
                    const got: Buffer[] = [];
                    let n = 0;
                    s.on('data', (d: Buffer) => {
                      got.push(d);
                      n += d.length;
                      if (n >= SIZE) resolve(Buffer.concat(got));
                    });
                    s.resume();
                  }),
              ),
            );
            for (const [i, got] of received.entries()) expect(got.equals(messages[i]!)).toBe(true);
          } finally {
            for (const s of sockets) s.destroy();
            server.close();
            await server.waitClosed();
          }
          expect(reports).toEqual([]);
        }));
    });
  }
});
