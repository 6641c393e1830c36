/**
 * TLS on a network loop, with the loop's engine (`_tlsProvider()`: by default the registered
 * one, @loopkit/uv's OpenSSL) and Node's own `tls` module as the peer both ways: megabytes
 * byte-exact, ALPN, SNI, client certificates, verification failures, both timeouts, the
 * STARTTLS traps, and fd hygiene. Skips as a whole when the loop has no TLS engine, saying so.
 */
import { constants, randomBytes } from 'node:crypto';
import * as net from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { expect } from './expect.js';
import { describe, it } from './kit.js';
import {
  ConnectionAbortedError,
  Protocol,
  SSLCertVerificationError,
  SSLError,
  TimeoutError,
  openConnection,
  sleep,
  startServer,
  type SSLObject,
  type Transport,
} from '@loopkit/core';
import { lacks, withLoop, type LoopUnderTest } from './context.js';
import { uv, uvMissing } from './support/uv.js';
import { Echo, Recorder, hasProcFd, noProcFd, openFds, pattern, portOf, type ServerLike } from './support/net.js';
import { hasOpenssl, testCerts } from './support/tls-certs.js';
import { tempDir } from './support/temp-dir.js';
import { failure } from './helpers.js';
import { waitUntil } from './transports.js';

/** `promise`, or an error naming `what` when it takes longer than `seconds` (a step that hangs names itself). */
function within<T>(seconds: number, what: string, promise: PromiseLike<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not complete within ${seconds} s`)), seconds * 1000);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** A Node server on 127.0.0.1 and its port; `close()` destroys what it accepted too. */
async function nodeServer<S extends net.Server>(server: S): Promise<{ server: S; port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return { server, port, close };
}

/** Node's tls client, connected; resolves once its handshake is done. */
function nodeClient(options: tls.ConnectionOptions): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect(options, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Collect what a Node socket receives until it has `n` bytes. */
function collect(socket: net.Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (d: Buffer): void => {
      chunks.push(d);
      size += d.length;
      if (size >= n) {
        socket.off('data', onData);
        resolve(Buffer.concat(chunks));
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

/**
 * A TCP relay in front of a TLS 1.2 server that can hold a renegotiation half-way: once armed,
 * the first handshake record (type 22) the client sends (its ClientHello answering the
 * server's HelloRequest) makes the relay hold everything the server sends back, its end and
 * close too, until `release()`. The client is then inside the renegotiation, waiting for the
 * ServerHello.
 */
class HoldingRelay {
  armed = false;
  holding = false;
  private readonly held: Buffer[] = [];
  private downstreamSocket: net.Socket | null = null;
  private readonly sockets = new Set<net.Socket>();
  readonly server: net.Server;
  port = 0;

  constructor(private readonly target: number) {
    this.server = net.createServer((down) => {
      const up = net.connect(this.target, '127.0.0.1');
      this.downstreamSocket = down;
      for (const s of [down, up]) {
        this.sockets.add(s);
        s.on('error', () => {});
        s.on('close', () => {
          // The server closing while held: the client still gets what was held, on release.
          if (s === up && this.holding) return;
          down.destroy();
          up.destroy();
        });
      }
      let pending = Buffer.alloc(0);
      down.on('data', (d: Buffer) => {
        if (this.armed && !this.holding) {
          // Walk the client's record headers: a handshake record now is the renegotiation's ClientHello.
          pending = Buffer.concat([pending, d]);
          while (pending.length >= 5) {
            const length = pending.readUInt16BE(3);
            if (pending[0] === 22) this.holding = true;
            if (pending.length < 5 + length) break;
            pending = pending.subarray(5 + length);
          }
        }
        up.write(d);
      });
      up.on('data', (d: Buffer) => {
        if (this.holding) this.held.push(d);
        else down.write(d);
      });
      down.on('end', () => up.end());
      up.on('end', () => {
        if (this.holding) this.held.push(Buffer.alloc(0));
        else down.end();
      });
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  release(): void {
    this.holding = false;
    this.armed = false;
    for (const d of this.held.splice(0)) {
      if (d.length === 0) this.downstreamSocket?.end();
      else this.downstreamSocket?.write(d);
    }
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.downstreamSocket = null;
    return new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Node's TLSSocket.renegotiate as a promise. */
function renegotiate(socket: tls.TLSSocket, options: { requestCert?: boolean; rejectUnauthorized?: boolean }): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = socket.renegotiate(options, (err) => (err ? reject(err) : resolve()));
    if (!started) reject(new Error('renegotiate() refused to start'));
  });
}

const certFields = ['subject', 'issuer', 'subjectaltname', 'valid_from', 'valid_to', 'fingerprint', 'fingerprint256', 'serialNumber'] as const;

export function tlsSuite(subject: LoopUnderTest): void {
  // The loop's own engine (_tlsProvider()), and certificates made by the openssl command.
  const notReady = lacks(subject, 'tls') ?? (hasOpenssl() ? null : 'skipped: no openssl command to make the test certificates');

  it('tls: with no TLS engine, ssl fails with a clear error and never connects in plaintext', () =>
    withLoop(subject, async (loop) => {
      // This loop has no engine, whatever is registered.
      (loop as unknown as { _tlsProvider: () => null })._tlsProvider = () => null;
      let accepted = 0;
      const node = await nodeServer(net.createServer(() => (accepted += 1)));
      try {
        for (const attempt of [
          () => loop.createConnection(() => new Recorder(loop), '127.0.0.1', node.port, { ssl: true, serverHostname: 'localhost' }),
          () => openConnection('127.0.0.1', node.port, { ssl: {}, serverHostname: 'localhost' }),
          () => loop.createServer(() => new Echo(), '127.0.0.1', 0, { ssl: { key: 'k', cert: 'c' } }),
        ]) {
          const error = await failure(attempt());
          expect((error as Error).name).toBe('RuntimeError');
          expect((error as Error).message).toMatch(/no TLS engine is available/);
        }
        await sleep(0.05);
        expect(accepted).toBe(0);
      } finally {
        await node.close();
      }
    }));

  describe.skipIf(notReady)('tls', () => {
    it('client against Node tls.createServer: a megabyte each way byte-exact, ALPN, SNI, peercert as Node shows it', () =>
      withLoop(subject, async (loop, reports) => {
        const c = testCerts();
        let servername: string | false = false;
        const node = await nodeServer(
          tls.createServer({ key: c.serverKey, cert: c.serverCert, ALPNProtocols: ['h2', 'x-other'] }, (s) => {
            servername = (s as tls.TLSSocket & { servername: string | false }).servername;
            s.pipe(s);
          }),
        );
        try {
          const [transport, client] = (await loop.createConnection(() => new Recorder(loop), 'localhost', node.port, {
            ssl: { ca: c.ca, ALPNProtocols: ['h2'] },
          })) as [Transport, Recorder];
          await waitUntil(() => servername !== false);
          expect(servername).toBe('localhost');
          const obj = transport.getExtraInfo<SSLObject>('ssl_object')!;
          expect(obj.alpnProtocol).toBe('h2');
          expect(obj.authorized).toBe(true);
          expect(obj.getProtocol()).toMatch(/^TLSv1\.[23]$/);
          const nodeView = await nodeClient({ host: '127.0.0.1', port: node.port, servername: 'localhost', ca: c.ca });
          const theirs = nodeView.getPeerCertificate() as unknown as Record<string, unknown>;
          const mine = transport.getExtraInfo<Record<string, unknown>>('peercert')!;
          for (const field of certFields) expect(mine[field], field).toEqual(theirs[field]);
          expect(Buffer.compare(mine.raw as Buffer, theirs.raw as Buffer)).toBe(0);
          expect(transport.getExtraInfo('cipher')).toEqual(nodeView.getCipher());
          nodeView.destroy();
          expect(transport.getExtraInfo('peername')).toEqual({ address: '127.0.0.1', family: 'IPv4', port: node.port });
          const data = pattern(1 << 20, 3);
          transport.write(data);
          await waitUntil(() => client.received.length >= data.length);
          expect(client.received.equals(data)).toBe(true);
          transport.close();
          expect(transport.isClosing()).toBe(true);
          expect(await client.lost).toBe(null);
          expect(reports).toEqual([]);
        } finally {
          await node.close();
        }
      }));

    it('server (startServer) against Node tls.connect: a megabyte byte-exact, a client certificate, ALPN, SNICallback', () =>
      withLoop(subject, async (loop, reports) => {
        const c = testCerts();
        const seen: Array<Record<string, unknown>> = [];
        const server = (await startServer(
          async (reader, writer) => {
            seen.push({
              peer: writer.getExtraInfo('peercert'),
              alpn: writer.getExtraInfo<SSLObject>('ssl_object')!.alpnProtocol,
              servername: writer.getExtraInfo<SSLObject>('ssl_object')!.servername,
            });
            const data = await reader.readexactly(1 << 20);
            writer.write(data);
            await writer.drain();
            writer.close();
            await writer.waitClosed();
          },
          '127.0.0.1',
          0,
          {
            ssl: {
              key: c.serverKey,
              cert: c.serverCert,
              ca: c.ca,
              requestCert: true,
              ALPNProtocols: ['x-first', 'x-second'],
              SNICallback: (name, cb) => {
                // Answered later, from Node's loop, as an async lookup would.
                setTimeout(() => cb(null, name === 'other.test' ? { key: c.otherKey, cert: c.otherCert, ca: c.ca, requestCert: true } : null), 5);
              },
            },
          },
        )) as unknown as ServerLike;
        try {
          const port = portOf(server);
          const socket = await nodeClient({ host: '127.0.0.1', port, servername: 'other.test', ca: c.ca, cert: c.clientCert, key: c.clientKey, ALPNProtocols: ['x-second'] });
          expect(socket.alpnProtocol).toBe('x-second');
          expect((socket.getPeerCertificate().subject as unknown as Record<string, string>).CN).toBe('other.test');
          const data = pattern(1 << 20, 5);
          const back = collect(socket, data.length);
          socket.write(data);
          expect((await back).equals(data)).toBe(true);
          await new Promise<void>((resolve) => socket.once('end', () => resolve()));
          socket.destroy();
          expect(seen).toHaveLength(1);
          expect(((seen[0]!.peer as Record<string, Record<string, string>>).subject).CN).toBe('loopkit client');
          expect(seen[0]!.alpn).toBe('x-second');
          expect(seen[0]!.servername).toBe('other.test');
          expect(reports).toEqual([]);
        } finally {
          server.close();
          await server.waitClosed();
        }
      }));

    for (const requestCert of [false, true]) {
      it(`a TLS 1.2 server renegotiating mid-stream (Node's renegotiate()${requestCert ? ', asking for a client certificate' : ''}): the client goes along, data both ways byte-exact`, () =>
        withLoop(subject, async (loop, reports) => {
          const c = testCerts();
          const up = randomBytes(512 * 1024);
          const down = randomBytes(256 * 1024);
          const got: Buffer[] = [];
          let gotSize = 0;
          let renegotiated: Promise<void> | null = null;
          let peerName: string | undefined;
          const node = await nodeServer(
            // Asking for a certificate needs a full handshake: by default the renegotiation resumes
            // the session (an abbreviated handshake, no CertificateRequest), with Node's client too.
            tls.createServer({ key: c.serverKey, cert: c.serverCert, ca: c.ca, maxVersion: 'TLSv1.2', secureOptions: requestCert ? constants.SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION : 0 }, (s) => {
              s.on('error', () => {});
              s.on('data', (d: Buffer) => {
                got.push(d);
                gotSize += d.length;
                if (renegotiated !== null) return;
                s.write(down.subarray(0, down.length / 2));
                renegotiated = renegotiate(s, requestCert ? { requestCert: true, rejectUnauthorized: true } : {}).then(() => {
                  peerName = (s.getPeerCertificate() as { subject?: { CN?: string } }).subject?.CN;
                  s.write(down.subarray(down.length / 2));
                });
              });
            }),
          );
          try {
            const [transport, client] = (await loop.createConnection(() => new Recorder(loop), 'localhost', node.port, {
              ssl: { ca: c.ca, cert: c.clientCert, key: c.clientKey },
            })) as [Transport, Recorder];
            expect(transport.getExtraInfo<SSLObject>('ssl_object')!.getProtocol()).toBe('TLSv1.2');
            // One write per loop iteration: before, during and after the renegotiation.
            for (let at = 0; at < up.length; at += 4096) {
              transport.write(up.subarray(at, at + 4096));
              await sleep(0);
            }
            await within(10, 'the renegotiation', waitUntil(() => renegotiated !== null));
            await within(10, 'the renegotiation', renegotiated!);
            await within(10, 'the data', waitUntil(() => gotSize >= up.length && client.received.length >= down.length));
            expect(Buffer.concat(got).equals(up)).toBe(true);
            expect(client.received.equals(down)).toBe(true);
            if (requestCert) expect(peerName).toBe('loopkit client');
            transport.close();
            expect(await client.lost).toBe(null);
            expect(reports).toEqual([]);
          } finally {
            await node.close();
          }
        }));
    }

    it('a server renegotiating 30 times in a row: each one answered, the data after each byte-exact', () =>
      withLoop(subject, async (loop, reports) => {
        const c = testCerts();
        let rounds = 0;
        const node = await nodeServer(
          tls.createServer({ key: c.serverKey, cert: c.serverCert, maxVersion: 'TLSv1.2' }, (s) => {
            s.on('error', () => {});
            const again = (): void => {
              if (rounds === 30) {
                s.end('bye');
                return;
              }
              renegotiate(s, {}).then(() => {
                rounds += 1;
                s.write(`${rounds}|`);
                again();
              }, (error: unknown) => s.destroy(error as Error));
            };
            again();
          }),
        );
        try {
          const [, client] = (await loop.createConnection(() => new Recorder(loop), 'localhost', node.port, { ssl: { ca: c.ca } })) as [Transport, Recorder];
          expect(await within(20, 'thirty renegotiations', client.lost)).toBe(null);
          expect(client.received.toString()).toBe(`${Array.from({ length: 30 }, (_, i) => `${i + 1}|`).join('')}bye`);
          expect(client.events).toEqual(['made', 'eof', 'lost']);
          expect(reports).toEqual([]);
        } finally {
          await node.close();
        }
      }));

    it("a server refuses a client's renegotiation (Node's renegotiate()), as OpenSSL 3 and Python 3.13: the client fails, the connection ends with an SSLError, the server serves on", () =>
      withLoop(subject, async (loop) => {
        const c = testCerts();
        const outcomes: unknown[] = [];
        const server = (await startServer(
          async (reader, writer) => {
            try {
              for (;;) {
                const data = await reader.read(100);
                if (data.length === 0) break;
                writer.write(data);
              }
              outcomes.push('eof');
            } catch (error) {
              outcomes.push(error);
            }
            writer.close();
          },
          '127.0.0.1',
          0,
          { ssl: { key: c.serverKey, cert: c.serverCert, maxVersion: 'TLSv1.2' } },
        )) as unknown as ServerLike;
        try {
          const port = portOf(server);
          const socket = await nodeClient({ host: '127.0.0.1', port, servername: 'localhost', ca: c.ca });
          const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
          const clientError = new Promise<unknown>((resolve) => socket.once('error', resolve));
          socket.write('before');
          expect((await collect(socket, 6)).toString()).toBe('before');
          expect(socket.renegotiate({}, () => {})).toBe(true);
          expect(((await within(10, "the client's failure", clientError)) as { code?: string }).code).toBe('ERR_SSL_NO_RENEGOTIATION');
          await within(10, "the client's close", closed);
          await within(10, 'the server side', waitUntil(() => outcomes.length === 1));
          expect(outcomes[0]).toBeInstanceOf(SSLError);
          // OpenSSL 3.0 (Node 20) names the alert 'sslv3 alert handshake failure', 3.5 (Node 24) 'ssl/tls alert ...'.
          expect((outcomes[0] as SSLError).code).toMatch(/^ERR_SSL_SSL(V3|\/TLS)_ALERT_HANDSHAKE_FAILURE$/);
          // Served on.
          const next = await nodeClient({ host: '127.0.0.1', port, servername: 'localhost', ca: c.ca });
          next.write('again');
          expect((await collect(next, 5)).toString()).toBe('again');
          next.destroy();
        } finally {
          server.close();
          await server.waitClosed();
        }
      }));

    /** A Node TLS 1.2 server behind a HoldingRelay; the server's side of the one connection, and what it received. */
    async function heldRenegotiation(loop: Parameters<Parameters<typeof withLoop>[1]>[0], sslShutdownTimeout?: number) {
      const c = testCerts();
      const received: Buffer[] = [];
      const state = { size: 0, ended: false, socket: null as tls.TLSSocket | null };
      const node = await nodeServer(
        tls.createServer({ key: c.serverKey, cert: c.serverCert, maxVersion: 'TLSv1.2' }, (s) => {
          state.socket = s;
          s.on('error', () => {});
          s.on('data', (d: Buffer) => {
            received.push(d);
            state.size += d.length;
          });
          s.on('end', () => (state.ended = true));
        }),
      );
      const relay = new HoldingRelay(node.port);
      await relay.listen();
      const [transport, client] = (await loop.createConnection(() => new Recorder(loop), 'localhost', relay.port, {
        ssl: { ca: c.ca },
        ...(sslShutdownTimeout === undefined ? {} : { sslShutdownTimeout }),
      })) as [Transport, Recorder];
      transport.write(Buffer.from('before|'));
      await within(10, 'the first bytes', waitUntil(() => state.size === 7));
      relay.armed = true;
      const done = renegotiate(state.socket!, {});
      done.catch(() => {});
      // The client read the HelloRequest and answered: it now waits for the ServerHello.
      await within(10, "the client's ClientHello", waitUntil(() => relay.holding));
      return {
        transport,
        client,
        relay,
        done,
        state,
        received: () => Buffer.concat(received),
        close: async () => {
          await relay.close();
          await node.close();
        },
      };
    }

    it('writes during a renegotiation wait for it in order, counted in the write buffer (pauseWriting, then resumeWriting)', () =>
      withLoop(subject, async (loop, reports) => {
        const held = await heldRenegotiation(loop);
        try {
          const { transport, client } = held;
          transport.setWriteBufferLimits({ high: 64 * 1024, low: 16 * 1024 });
          const during = randomBytes(256 * 1024);
          for (let at = 0; at < during.length; at += 16 * 1024) transport.write(during.subarray(at, at + 16 * 1024));
          await sleep(0.05);
          expect(held.state.size).toBe(7); // nothing was encrypted under the old keys meanwhile
          expect(transport.getWriteBufferSize()).toBeGreaterThanOrEqual(during.length);
          expect(client.events).toEqual(['made', 'pause']);
          held.relay.release();
          await within(10, 'the renegotiation', held.done);
          await within(10, 'the held writes', waitUntil(() => held.state.size === 7 + during.length));
          expect(held.received().equals(Buffer.concat([Buffer.from('before|'), during]))).toBe(true);
          await within(10, 'resumeWriting', waitUntil(() => client.events.includes('resume')));
          expect(transport.getWriteBufferSize()).toBe(0);
          transport.write(Buffer.from('|after'));
          await within(10, 'a write after', waitUntil(() => held.state.size === 7 + during.length + 6));
          transport.close();
          expect(await within(10, 'connectionLost', client.lost)).toBe(null);
          expect(client.events).toEqual(['made', 'pause', 'resume', 'lost']);
          expect(reports).toEqual([]);
        } finally {
          await held.close();
        }
      }));

    it('close() during a renegotiation: the held writes, then close_notify, once it finished', () =>
      withLoop(subject, async (loop, reports) => {
        const held = await heldRenegotiation(loop);
        try {
          const { transport, client } = held;
          const during = randomBytes(100_000);
          transport.write(during);
          transport.close();
          await sleep(0.05);
          expect(held.state.ended).toBe(false);
          held.relay.release();
          await within(10, 'the renegotiation', held.done);
          await within(10, "the server's end", waitUntil(() => held.state.ended));
          expect(held.received().equals(Buffer.concat([Buffer.from('before|'), during]))).toBe(true);
          expect(await within(10, 'connectionLost', client.lost)).toBe(null);
          expect(reports).toEqual([]);
        } finally {
          await held.close();
        }
      }));

    it("the server's data and close_notify during a renegotiation: the client's app gets the data, eofReceived, connectionLost(null)", () =>
      withLoop(subject, async (loop, reports) => {
        const held = await heldRenegotiation(loop);
        try {
          const { client } = held;
          held.state.socket!.end('last words');
          await sleep(0.05);
          held.relay.release();
          expect(await within(10, 'connectionLost', client.lost)).toBe(null);
          expect(client.received.toString()).toBe('last words');
          expect(client.events).toEqual(['made', 'eof', 'lost']);
          expect(reports).toEqual([]);
        } finally {
          await held.close();
        }
      }));

    it('close() during a renegotiation that never finishes: sslShutdownTimeout ends it (TimeoutError)', () =>
      withLoop(subject, async (loop) => {
        const held = await heldRenegotiation(loop, 0.3);
        try {
          const { transport, client } = held;
          transport.write(Buffer.from('never sent'));
          const t0 = loop.time();
          transport.close();
          const lost = await within(10, 'connectionLost', client.lost);
          expect(lost).toBeInstanceOf(TimeoutError);
          expect(loop.time() - t0).toBeGreaterThanOrEqual(0.29);
          expect(held.state.size).toBe(7);
        } finally {
          await held.close();
        }
      }));

    it('a certificate that does not verify, or names another host: SSLCertVerificationError', () =>
      withLoop(subject, async (loop) => {
        const c = testCerts();
        const node = await nodeServer(tls.createServer({ key: c.serverKey, cert: c.serverCert }, (s) => s.on('error', () => {})));
        try {
          const untrusted = (await failure(loop.createConnection(() => new Recorder(loop), '127.0.0.1', node.port, { ssl: true, serverHostname: 'localhost' }))) as SSLCertVerificationError;
          expect(untrusted).toBeInstanceOf(SSLCertVerificationError);
          expect(untrusted).toBeInstanceOf(SSLError);
          expect(typeof untrusted.code).toBe('string');
          const wrongHost = await failure(loop.createConnection(() => new Recorder(loop), '127.0.0.1', node.port, { ssl: { ca: c.ca }, serverHostname: 'wrong.example' }));
          expect(wrongHost).toBeInstanceOf(SSLCertVerificationError);
          const [t, p] = (await loop.createConnection(() => new Recorder(loop), '127.0.0.1', node.port, { ssl: { ca: c.ca }, serverHostname: 'localhost' })) as [Transport, Recorder];
          t.close();
          await p.lost;
        } finally {
          await node.close();
        }
      }));

    it('sslHandshakeTimeout against a silent server: ConnectionAbortedError saying the handshake timed out', () =>
      withLoop(subject, async (loop) => {
        const node = await nodeServer(net.createServer(() => {}));
        try {
          const t0 = loop.time();
          const error = await failure(loop.createConnection(() => new Recorder(loop), '127.0.0.1', node.port, { ssl: true, serverHostname: 'localhost', sslHandshakeTimeout: 0.3 }));
          expect(error).toBeInstanceOf(ConnectionAbortedError);
          expect((error as Error).message).toMatch(/handshake timed out/);
          expect(loop.time() - t0).toBeGreaterThanOrEqual(0.29);
        } finally {
          await node.close();
        }
      }));

    it('sslShutdownTimeout against a peer that never answers close_notify: connectionLost(TimeoutError)', () =>
      withLoop(subject, async (loop) => {
        const c = testCerts();
        // allowHalfOpen: Node reads our close_notify as 'end' and sends none back.
        const node = await nodeServer(tls.createServer({ key: c.serverKey, cert: c.serverCert, allowHalfOpen: true }, () => {}));
        try {
          const [t, p] = (await loop.createConnection(() => new Recorder(loop), '127.0.0.1', node.port, { ssl: { ca: c.ca }, serverHostname: 'localhost', sslShutdownTimeout: 0.3 })) as [Transport, Recorder];
          const t0 = loop.time();
          t.close();
          const lost = await p.lost;
          expect(lost).toBeInstanceOf(TimeoutError);
          expect(loop.time() - t0).toBeGreaterThanOrEqual(0.29);
        } finally {
          await node.close();
        }
      }));

    it('a peer that resets mid-stream: connectionLost(ConnectionResetError) once, nothing reported', () =>
      withLoop(subject, async (loop, reports) => {
        const c = testCerts();
        // TLS over a plain socket Node can reset (a TLSSocket's own handle cannot send RST).
        const node = await nodeServer(
          net.createServer((raw) => {
            const s = new tls.TLSSocket(raw, { isServer: true, key: c.serverKey, cert: c.serverCert });
            s.on('error', () => {});
            s.once('secure', () => s.write(pattern(50_000), () => setTimeout(() => raw.resetAndDestroy(), 20)));
          }),
        );
        try {
          const [, p] = (await loop.createConnection(() => new Recorder(loop), '127.0.0.1', node.port, { ssl: { ca: c.ca }, serverHostname: 'localhost' })) as [Transport, Recorder];
          const lost = await p.lost;
          expect((lost as { code?: string }).code).toBe('ECONNRESET');
          expect((lost as Error).name).toBe('ConnectionResetError');
          expect(p.lostCount).toBe(1);
          expect(p.received.equals(pattern(50_000))).toBe(true);
          expect(reports).toEqual([]);
        } finally {
          await node.close();
        }
      }));

    it("the peer's close_notify reaches the app as eofReceived, then connectionLost(null)", () =>
      withLoop(subject, async (loop) => {
        const c = testCerts();
        const made: Recorder[] = [];
        const server = (await loop.createServer(() => {
          const r = new Recorder(loop);
          made.push(r);
          return r;
        }, '127.0.0.1', 0, { ssl: { key: c.serverKey, cert: c.serverCert } })) as unknown as ServerLike;
        try {
          const socket = await nodeClient({ host: '127.0.0.1', port: portOf(server), ca: c.ca, servername: 'localhost' });
          socket.end(Buffer.from('bye'));
          await waitUntil(() => made.length === 1 && made[0]!.lostCount === 1);
          expect(made[0]!.received.toString()).toBe('bye');
          expect(made[0]!.events).toEqual(['made', 'eof', 'lost']);
          expect(made[0]!.lostWith).toEqual([null]);
          socket.destroy();
        } finally {
          server.close();
          await server.waitClosed();
        }
      }));

    it('a plain-TCP client speaking garbage to a TLS server is reported once; the server serves on', () =>
      withLoop(subject, async (loop, reports) => {
        const c = testCerts();
        const server = (await loop.createServer(() => new Echo(), '127.0.0.1', 0, { ssl: { key: c.serverKey, cert: c.serverCert } })) as unknown as ServerLike;
        try {
          const port = portOf(server);
          const plain = net.connect(port, '127.0.0.1');
          plain.on('error', () => {});
          plain.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
          await waitUntil(() => reports.length > 0);
          await sleep(0.05);
          expect(reports).toHaveLength(1);
          const report = reports[0] as { message: string; exception: unknown };
          expect(report.message).toBe('SSL handshake failed');
          expect(report.exception).toBeInstanceOf(SSLError);
          plain.destroy();
          const good = await nodeClient({ host: '127.0.0.1', port, ca: c.ca, servername: 'localhost' });
          const back = collect(good, 5);
          good.write('hello');
          expect((await back).toString()).toBe('hello');
          good.destroy();
        } finally {
          server.close();
          await server.waitClosed();
        }
      }));

    it('bytes behind the STARTTLS line are fed to the handshake (writer.startTls on the server side)', () =>
      withLoop(subject, async (loop, reports) => {
        const c = testCerts();
        const server = (await startServer(
          async (reader, writer) => {
            expect((await reader.readline()).toString()).toBe('STARTTLS\r\n');
            // Let the ClientHello, sent right behind the line, land in the reader's buffer first.
            await sleep(0.05);
            await writer.startTls({ key: c.serverKey, cert: c.serverCert });
            const line = await reader.readline();
            writer.write(Buffer.concat([Buffer.from('secure '), line]));
            await writer.drain();
          },
          '127.0.0.1',
          0,
        )) as unknown as ServerLike & { abortClients(): void };
        let raw: net.Socket | null = null;
        try {
          raw = net.connect(portOf(server), '127.0.0.1');
          await new Promise<void>((resolve) => raw!.once('connect', () => resolve()));
          raw.write('STARTTLS\r\n');
          const secure = await within(10, 'the handshake', nodeClient({ socket: raw, ca: c.ca, servername: 'localhost' }));
          const back = collect(secure, 13);
          secure.write('hello\n');
          expect((await within(10, 'the echo over TLS', back)).toString()).toBe('secure hello\n');
          secure.destroy();
          expect(reports).toEqual([]);
        } finally {
          // A failed step leaves both ends open: close them, or waitClosed() waits for ever.
          raw?.destroy();
          server.abortClients();
          server.close();
          await server.waitClosed();
        }
      }));

    it('startTls on a connection whose writing is paused (client and server both loopkit)', () =>
      withLoop(subject, async (loop, reports) => {
        const c = testCerts();
        // How much a loopback connection absorbs before writing pauses depends on the kernel's
        // buffer autotuning (tcp_rmem reaches 32 MB on Linux): the client writes until it is
        // paused, and the server starts TLS behind exactly that many plain bytes.
        let plainBytes = Infinity;
        let serverTls: Promise<Transport> | null = null;
        const sapp = new Recorder(loop);
        let got = 0;
        let excess: Buffer | null = null;
        class Gate extends Protocol {
          transport!: Transport;
          override connectionMade(t: Transport): void {
            this.transport = t;
            t.pauseReading();
            setTimeout(() => loop.callSoonThreadsafe(() => t.resumeReading()), 100);
          }
          override dataReceived(data: Uint8Array): void {
            const want = plainBytes - got;
            got += Math.min(want, data.length);
            if (data.length > want) excess = Buffer.from(data.subarray(want));
            if (want > 0 && data.length >= want) serverTls = loop.startTls(this.transport, sapp, { key: c.serverKey, cert: c.serverCert }, { serverSide: true });
          }
          _takeReadAhead(): Uint8Array | null {
            const rest = excess;
            excess = null;
            return rest;
          }
        }
        const server = (await loop.createServer(() => new Gate(), '127.0.0.1', 0)) as unknown as ServerLike & { abortClients(): void };
        let raw: Transport | null = null;
        try {
          const [client, capp] = (await loop.createConnection(() => new Recorder(loop), '127.0.0.1', portOf(server))) as [Transport, Recorder];
          raw = client;
          const chunk = pattern(1 << 20);
          let written = 0;
          // Synchronous writes: the server reads nothing before plainBytes is known.
          while (capp.events.length === 1 && written < 256 << 20) {
            raw.write(chunk);
            written += chunk.length;
          }
          plainBytes = written;
          expect(capp.events).toEqual(['made', 'pause']);
          const t = await loop.startTls(raw, capp, { ca: c.ca }, { serverHostname: 'localhost' });
          expect(capp.events).toEqual(['made', 'pause', 'resume']);
          await waitUntil(() => serverTls !== null);
          await serverTls;
          expect(got).toBe(plainBytes);
          t.write(Buffer.from('over tls'));
          await waitUntil(() => sapp.received.toString() === 'over tls');
          t.close();
          await capp.lost;
          expect(reports).toEqual([]);
        } finally {
          // A failed check leaves both ends open: abort them, or waitClosed() waits for ever.
          raw?.abort();
          server.abortClients();
          server.close();
          await server.waitClosed();
        }
      }));

    it.skipIf(lacks(subject, 'unixSockets'))('TLS over Unix sockets; serverHostname is required there', () =>
      withLoop(subject, async (loop) => {
        const c = testCerts();
        const file = path.join(tempDir('unix'), 's.sock');
        const server = (await loop.createUnixServer(() => new Echo(), file, { ssl: { key: c.serverKey, cert: c.serverCert } })) as unknown as ServerLike;
        try {
          const error = await failure(loop.createUnixConnection(() => new Recorder(loop), file, { ssl: { ca: c.ca } }));
          expect(error).toBeInstanceOf(TypeError);
          expect((error as Error).message).toMatch(/serverHostname is required/);
          const [t, p] = (await loop.createUnixConnection(() => new Recorder(loop), file, { ssl: { ca: c.ca }, serverHostname: 'localhost' })) as [Transport, Recorder];
          t.write(Buffer.from('unix tls'));
          await waitUntil(() => p.received.toString() === 'unix tls');
          t.close();
          expect(await p.lost).toBe(null);
        } finally {
          server.close();
          await server.waitClosed();
        }
      }));

    it("streams: openConnection with ssl, and asyncio's argument errors", () =>
      withLoop(subject, async (loop) => {
        const c = testCerts();
        const server = (await startServer(
          async (reader, writer) => {
            writer.write(await reader.readline());
            await writer.drain();
            writer.close();
          },
          '127.0.0.1',
          0,
          { ssl: { key: c.serverKey, cert: c.serverCert } },
        )) as unknown as ServerLike;
        try {
          const port = portOf(server);
          const [reader, writer] = await openConnection('localhost', port, { ssl: { ca: c.ca } });
          expect(writer.canWriteEof()).toBe(false);
          writer.write(Buffer.from('line\n'));
          expect((await reader.readline()).toString()).toBe('line\n');
          expect(await reader.read()).toHaveLength(0);
          writer.close();
          await writer.waitClosed();
          const bad = async (p: Promise<unknown>, cls: typeof Error, re: RegExp) => {
            const e = await failure(p);
            expect(e).toBeInstanceOf(cls);
            expect((e as Error).message).toMatch(re);
          };
          // @ts-expect-error a misspelt key (the types say so too)
          await bad(openConnection('localhost', port, { ssl: { ca: c.ca }, sever_hostname: 'x' }), TypeError, /unexpected option 'sever_hostname'/);
          await bad(openConnection('localhost', port, { serverHostname: 'x' }), RangeError, /serverHostname is only meaningful with ssl/);
          await bad(openConnection('localhost', port, { sslHandshakeTimeout: 5 }), RangeError, /sslHandshakeTimeout is only meaningful with ssl/);
          await bad(openConnection('localhost', port, { ssl: true, sslShutdownTimeout: 0 }), RangeError, /sslShutdownTimeout must be a positive number/);
          // @ts-expect-error ssl: true is a client's (the types say so too)
          await bad(loop.createServer(() => new Echo(), '127.0.0.1', 0, { ssl: true }), TypeError, /a server needs/);
          // The provider's own argument errors say they are about ssl (a misspelt TLS key, a bad value).
          // @ts-expect-error a misspelt key (the types say so too)
          await bad(openConnection('localhost', port, { ssl: { bogus: 1 } }), TypeError, /createConnection\(\): ssl: .*'bogus'/);
          // @ts-expect-error no such TLS version (the types say so too)
          await bad(loop.createServer(() => new Echo(), '127.0.0.1', 0, { ssl: { key: c.serverKey, cert: c.serverCert, minVersion: 'TLSv9' } }), TypeError, /createServer\(\): ssl: .*minVersion/);
        } finally {
          server.close();
          await server.waitClosed();
        }
      }));

    it.skipIf(uvMissing)('connectAcceptedSocket with ssl: the server side of TLS on a socket accepted outside the loop', () =>
      withLoop(subject, async (loop, reports) => {
        const c = testCerts();
        const listener = uv!.socket('inet', 'stream');
        listener.bind({ address: '127.0.0.1', port: 0 });
        listener.listen(8);
        const connecting = nodeClient({ host: '127.0.0.1', port: (listener.getsockname() as { port: number }).port, servername: 'localhost', ca: c.ca });
        try {
          const [conn] = (await loop.sockAccept(listener)) as [unknown, unknown];
          const [transport] = (await loop.connectAcceptedSocket(() => new Echo(), conn, { ssl: { key: c.serverKey, cert: c.serverCert } })) as [Transport, Echo];
          const client = await connecting;
          const data = pattern(200_000, 5);
          const echoed = collect(client, data.length);
          client.write(data);
          expect((await echoed).equals(data)).toBe(true);
          expect(typeof transport.getExtraInfo<SSLObject>('ssl_object')!.getProtocol()).toBe('string');
          client.destroy();
          transport.close();
        } finally {
          listener.close();
        }
        expect(reports).toEqual([]);
      }));

    it('loop.close() closes the TLS connections it still owns: both apps get connectionLost', async () => {
      const c = testCerts();
      const loop = subject.make();
      const client = new Recorder(loop);
      const accepted: Recorder[] = [];
      await loop.runUntilComplete(async () => {
        const server = (await loop.createServer(() => {
          const r = new Recorder(loop);
          accepted.push(r);
          return r;
        }, '127.0.0.1', 0, { ssl: { key: c.serverKey, cert: c.serverCert } })) as unknown as ServerLike;
        await loop.createConnection(() => client, '127.0.0.1', portOf(server), { ssl: { ca: c.ca }, serverHostname: 'localhost' });
        await waitUntil(() => accepted.length === 1 && accepted[0]!.events.length === 1);
      });
      expect(client.events).toEqual(['made']);
      loop.close();
      expect(client.events).toEqual(['made', 'lost']);
      expect(accepted[0]!.events).toEqual(['made', 'lost']);
    });

    it.skipIf(!hasProcFd && noProcFd)('leaks no fd over 200 TLS connect/close cycles', () =>
      withLoop(subject, async (loop) => {
        const c = testCerts();
        const server = (await loop.createServer(() => new Echo(), '127.0.0.1', 0, { ssl: { key: c.serverKey, cert: c.serverCert } })) as unknown as ServerLike;
        const clientSsl = { ca: c.ca };
        const round = async (): Promise<void> => {
          const [t, p] = (await loop.createConnection(() => new Recorder(loop), '127.0.0.1', portOf(server), { ssl: clientSsl, serverHostname: 'localhost' })) as [Transport, Recorder];
          t.write(Buffer.from('x'));
          await waitUntil(() => p.received.length === 1);
          t.close();
          await p.lost;
        };
        try {
          await round(); // the first round may open the backend's own fds
          const before = openFds();
          for (let i = 0; i < 200; i++) await round();
          await waitUntil(() => openFds() - before <= 2);
          expect(openFds() - before).toBeLessThanOrEqual(2);
        } finally {
          server.close();
          await server.waitClosed();
        }
        // 201 handshakes, both ends in this process: 3.5-4.5 s at load 12, past 20 s at load 14-22.
      }), 60_000);
  });
}

