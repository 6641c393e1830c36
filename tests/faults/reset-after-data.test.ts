/**
 * A peer's data and its reset arriving together, on every network loop (the io_uring one
 * where the kernel has it). asyncio 3.13 (checked with Python 3.13.0, same peers) delivers the
 * data, then `connection_lost(ConnectionResetError)`; a FIN followed later by a reset is an
 * EOF and a clean loss, because after a FIN the kernel answers every read with 0.
 *
 * Session 16 found two ways the ProactorEventLoop (node:net) differed: libuv reports EOF when
 * epoll flags a hang-up after a short read, so data followed by a reset came as
 * `eofReceived()` and `connectionLost(null)`; and a connection reset before the server looked
 * at its peer's address failed the accept ("Accept failed on a socket"), which closed the
 * listener: one such client stopped the server (the uring loop did the same).
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import { ConnectionResetError, sleep, type AbstractEventLoop, type Transport } from '@loopkit/core';
import { UringEventLoop, UringProactor } from '@loopkit/proactor';
import { testCerts } from '@loopkit/conformance/support';
import { NET_LOOPS, Recorder, pattern, portOf, title, waitUntil, withLoop, type ServerLike } from './helpers.js';

const SUBJECTS = [
  ...NET_LOOPS,
  UringProactor.problem() === null
    ? { name: 'UringEventLoop', make: () => new UringEventLoop() as AbstractEventLoop, reason: null }
    : { name: 'UringEventLoop', make: null, reason: UringProactor.problem() },
];

/** A child's client: connects, writes 1000 bytes of 'x', resets (SO_LINGER 0), says so. */
const RESETTING_CLIENT = `
const c = require('node:net').connect({ port: Number(process.argv[1]), host: '127.0.0.1' });
c.on('connect', () => c.write(Buffer.alloc(1000, 120), () => { c.resetAndDestroy(); console.log('reset'); }));
`;

/** Python's ssl client (Node's TLS sockets cannot reset): data, then once our greeting sits unread in its kernel, more data and at once a close, so the reset follows that data. */
const PYTHON = '/usr/bin/python3';
const TLS_CLIENT = `
import socket, ssl, sys, time
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', int(sys.argv[1]))), server_hostname='localhost')
s.sendall(b'x' * 990)
time.sleep(0.3)
s.sendall(b'x' * 10)
s.close()
`;

/** A server side that sends a greeting when made (the peer leaves it unread) and records the rest. */
class Greeter extends Recorder {
  peername: unknown = undefined;
  greeting = 'hello\n';
  eofOnMade = false;
  override connectionMade(transport: Transport): void {
    super.connectionMade(transport);
    this.peername = transport.getExtraInfo('peername');
    if (this.greeting !== '') transport.write(Buffer.from(this.greeting));
    if (this.eofOnMade) transport.writeEof();
  }
}

interface Served {
  server: ServerLike;
  sides: Greeter[];
}

/** `greeting` '' sends none (a write into a reset connection fails it at once, data unread, as in asyncio). */
async function serve(loop: AbstractEventLoop, greeting = 'hello\n', eofOnMade = false): Promise<Served> {
  const sides: Greeter[] = [];
  const server = (await loop.createServer(
    () => {
      const side = new Greeter(loop);
      side.greeting = greeting;
      side.eofOnMade = eofOnMade;
      sides.push(side);
      return side;
    },
    '127.0.0.1',
    0,
  )) as unknown as ServerLike;
  return { server, sides };
}

/** A node:net client whose socket reads nothing (its kernel keeps what arrives), connected. */
async function silentClient(port: number): Promise<net.Socket> {
  const client = net.connect({ port, host: '127.0.0.1' });
  client.pause();
  client.on('error', () => {});
  await new Promise<void>((resolve) => client.once('connect', () => resolve()));
  return client;
}

/** A silent client of `served`, once the server accepted it (its `index`-th connection): the client and the server's side. */
async function acceptedClient(served: Served, index = 0): Promise<[net.Socket, Greeter]> {
  const client = await silentClient(portOf(served.server));
  await waitUntil(() => served.sides[index]?.transport != null, 10, 'accepted');
  return [client, served.sides[index]!];
}

function written(client: net.Socket, data: Uint8Array): Promise<void> {
  return new Promise<void>((resolve, reject) => client.write(data, (err) => (err ? reject(err) : resolve())));
}

/**
 * A child connects, writes 1000 bytes and resets while the loop's thread is held (spawnSync),
 * so the connection waits in the listen queue, already reset, when the server accepts it:
 * its side gets the bytes, then ConnectionResetError.
 */
async function servedResetInQueue(served: Served): Promise<Greeter> {
  const child = spawnSync(process.execPath, ['-e', RESETTING_CLIENT, String(portOf(served.server))], { encoding: 'utf8', timeout: 10_000 });
  expect(child.stdout.trim()).toBe('reset');
  await waitUntil(() => served.sides.length === 1 && served.sides[0]!.lost.done(), 10, 'the reset connection served and lost');
  const side = served.sides[0]!;
  expect(side.received.equals(Buffer.alloc(1000, 120))).toBe(true);
  expect(side.lost.result()).toBeInstanceOf(ConnectionResetError);
  return side;
}

/** The same server accepts a well-behaved client and hears it. */
async function servesOn(loop: AbstractEventLoop, served: Served): Promise<void> {
  const before = served.sides.length;
  const client = net.connect({ port: portOf(served.server), host: '127.0.0.1' });
  client.on('error', () => {});
  client.write('next one');
  await waitUntil(() => served.sides.length > before && served.sides.at(-1)!.received.length >= 8, 10, 'the server accepts again');
  expect(served.sides.at(-1)!.received.toString()).toBe('next one');
  client.end();
  await served.sides.at(-1)!.lost;
  client.destroy();
}

describe('a peer reset that follows its data', () => {
  for (const subject of SUBJECTS) {
    describe.skipIf(subject.make === null)(subject.name, () => {
      const make = subject.make!;

      it(title(subject, 'a peer closing with our greeting unread (the kernel resets): its data, then ConnectionResetError'), () =>
        withLoop(make, async (loop, reports) => {
          const served = await serve(loop);
          const data = pattern(1000, 5);
          for (let round = 0; round < 3; round++) {
            const [client, side] = await acceptedClient(served, round);
            // Our greeting sits unread in the peer's kernel: its close sends a reset right behind its data.
            await sleep(0.05);
            client.write(data);
            client.destroy();
            const exc = await side.lost;
            expect(side.received.equals(data)).toBe(true);
            expect(side.events).toEqual(['made', 'lost']);
            expect(exc).toBeInstanceOf(ConnectionResetError);
            expect((exc as { code?: string }).code).toBe('ECONNRESET');
          }
          await servesOn(loop, served);
          expect(reports).toEqual([]);
          served.server.close();
        }));

      it(title(subject, 'data and a reset while reading is paused: resumeReading gives the data, then ConnectionResetError'), () =>
        withLoop(make, async (loop, reports) => {
          const served = await serve(loop);
          const [client, side] = await acceptedClient(served);
          side.transport!.pauseReading();
          await sleep(0.05);
          const data = pattern(20_000, 9);
          await written(client, data);
          client.resetAndDestroy();
          await sleep(0.1);
          expect(side.events).toEqual(['made']);
          side.transport!.resumeReading();
          const exc = await side.lost;
          expect(side.received.equals(data)).toBe(true);
          expect(side.events).toEqual(['made', 'lost']);
          expect(exc).toBeInstanceOf(ConnectionResetError);
          await servesOn(loop, served);
          expect(reports).toEqual([]);
          served.server.close();
        }));

      it(title(subject, 'a client that writes and resets before the server accepts: its data, then ConnectionResetError; the server serves on'), () =>
        withLoop(make, async (loop, reports) => {
          const served = await serve(loop, '');
          const side = await servedResetInQueue(served);
          // Node gives no accept(2) address and the reset took getpeername's: null, as asyncio's transport when getpeername fails.
          expect(side.peername === null || (side.peername as { port?: unknown }).port !== undefined).toBe(true);
          expect(served.server.isServing()).toBe(true);
          await servesOn(loop, served);
          expect(reports).toEqual([]);
          served.server.close();
        }));

      it(title(subject, 'writeEof() on a connection its peer already reset: its data, then ConnectionResetError, nothing reported'), () =>
        withLoop(make, async (loop, reports) => {
          // The connection is reset in the listen queue, so the shutdown finds it not connected (ENOTCONN).
          const served = await serve(loop, '', true);
          await servedResetInQueue(served);
          expect(reports).toEqual([]);
          served.server.close();
        }));

      it.skipIf(!fs.existsSync(PYTHON))(title(subject, 'TLS on top: the peer\'s application data, then its reset: the data, then ConnectionResetError'), () =>
        withLoop(make, async (loop, reports) => {
          const pem = testCerts();
          const sides: Greeter[] = [];
          const server = (await loop.createServer(
            () => {
              const side = new Greeter(loop);
              sides.push(side);
              return side;
            },
            '127.0.0.1',
            0,
            { ssl: { key: pem.serverKey, cert: pem.serverCert } },
          )) as unknown as ServerLike;
          const child = spawn(PYTHON, ['-c', TLS_CLIENT, String(portOf(server))], { stdio: 'ignore' });
          const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
          try {
            await waitUntil(() => sides[0]?.lost.done() === true, 10, 'the TLS connection lost');
            expect(await exited).toBe(0);
          } finally {
            child.kill();
          }
          const side = sides[0]!;
          expect(side.received.equals(Buffer.alloc(1000, 120))).toBe(true);
          expect(side.events).toEqual(['made', 'lost']);
          expect(side.lost.result()).toBeInstanceOf(ConnectionResetError);
          expect(reports).toEqual([]);
          server.close();
        }));

      it(title(subject, 'a FIN and later a reset: the data, eofReceived, then a clean loss (as asyncio 3.13)'), () =>
        withLoop(make, async (loop, reports) => {
          const served = await serve(loop);
          const [client, side] = await acceptedClient(served);
          side.keepOpenOnEof = true;
          const data = pattern(1000, 1);
          client.end(data);
          await waitUntil(() => side.events.includes('eof'), 10, 'the FIN');
          client.resetAndDestroy();
          await sleep(0.1);
          side.transport!.close();
          expect(await side.lost).toBe(null);
          expect(side.received.equals(data)).toBe(true);
          expect(side.events).toEqual(['made', 'eof', 'lost']);
          expect(reports).toEqual([]);
          served.server.close();
        }));
    });
  }
});
