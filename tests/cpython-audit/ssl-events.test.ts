/**
 * The TLS scenarios of CPython's test_events.py, test_base_events.py, test_streams.py and
 * test_sslproto.py (3.13) on the loops users get: loopkit on both ends, or Node's tls as the
 * peer where a test needs one that misbehaves.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import {
  BufferedProtocol,
  NotImplementedError,
  Protocol,
  SSLCertVerificationError,
  SSLError,
  TimeoutError,
  createTask,
  getTLSProvider,
  openConnection,
  openUnixConnection,
  sleep,
  socket,
  startServer,
  startUnixServer,
  type AbstractEventLoop,
  type Future,
  type Server,
  type Transport,
} from 'loopkit';
import { hasOpenssl, testCerts } from '@loopkit/conformance/support';
import { onEachLoop, portOf, rejection, runIn } from './loops.js';

const missing = getTLSProvider() === null ? 'no TLS provider is registered' : !hasOpenssl() ? 'no openssl command' : null;
const serverSsl = () => ({ key: testCerts().serverKey, cert: testCerts().serverCert });
const clientSsl = () => ({ ca: testCerts().ca });

/** Records callbacks in order; futures for made, eof and lost. */
class Recording extends Protocol {
  transport: Transport | null = null;
  readonly events: string[] = [];
  received = Buffer.alloc(0);
  eofAnswer: boolean | undefined = undefined;
  readonly made: Future<Transport>;
  readonly lost: Future<Error | null>;
  paused = 0;
  resumed = 0;
  constructor(loop: AbstractEventLoop) {
    super();
    this.made = loop.createFuture();
    this.lost = loop.createFuture();
  }
  override connectionMade(transport: Transport): void {
    this.events.push('made');
    this.transport = transport;
    this.made.setResult(transport);
  }
  override dataReceived(data: Uint8Array): void {
    if (this.events.at(-1) !== 'data') this.events.push('data');
    this.received = Buffer.concat([this.received, data]);
  }
  override eofReceived(): boolean | undefined {
    this.events.push('eof');
    return this.eofAnswer;
  }
  override pauseWriting(): void {
    this.paused++;
  }
  override resumeWriting(): void {
    this.resumed++;
  }
  override connectionLost(exc: Error | null): void {
    this.events.push('lost');
    this.lost.setResult(exc);
  }
  async bytes(n: number): Promise<Buffer> {
    while (this.received.length < n) {
      if (this.lost.done()) throw new Error(`connection lost after ${this.received.length} of ${n} bytes`);
      await sleep(0.005);
    }
    return this.received;
  }
}

/** A loopkit TLS server whose accepted protocols are kept, and a client connected to it. */
async function tlsPair(loop: AbstractEventLoop, serverOptions: object = {}): Promise<{ server: Server; accepted: Recording[]; client: Recording; tr: Transport }> {
  const accepted: Recording[] = [];
  const server = (await loop.createServer(() => {
    const p = new Recording(loop);
    accepted.push(p);
    return p;
  }, '127.0.0.1', 0, { ssl: serverSsl(), ...serverOptions })) as Server;
  const [tr, client] = (await loop.createConnection(() => new Recording(loop), '127.0.0.1', portOf(server), { ssl: clientSsl(), serverHostname: 'localhost' })) as [Transport, Recording];
  while (accepted.length === 0 || !accepted[0]!.made.done()) await sleep(0.005);
  return { server, accepted, client, tr };
}

async function closeServer(server: Server): Promise<void> {
  server.close();
  await server.waitClosed();
}

describe.skipIf(missing !== null)(`TLS scenarios of test_events, test_base_events, test_streams, test_sslproto${missing === null ? '' : ` (${missing})`}`, { timeout: 30000 }, () => {
  onEachLoop('test_events TLS', (make) => {
    it('test_create_ssl_connection / test_create_server_ssl: an SSL transport, data both ways, sockname/peername through it', () =>
      runIn(make, async (loop) => {
        const { server, accepted, client, tr } = await tlsPair(loop);
        expect(tr.constructor.name).toMatch(/SSL/);
        expect(tr.getExtraInfo('sockname')).toMatchObject({ address: '127.0.0.1' });
        expect(tr.getExtraInfo('peername')).toMatchObject({ address: '127.0.0.1', port: portOf(server) });
        tr.write(Buffer.from('xxx'));
        expect((await accepted[0]!.bytes(3)).toString()).toBe('xxx');
        accepted[0]!.transport!.write(Buffer.from('yyyy'));
        expect((await client.bytes(4)).toString()).toBe('yyyy');
        tr.close();
        expect(await client.lost).toBe(null);
        expect(await accepted[0]!.lost).toBe(null);
        expect(client.events).toEqual(['made', 'data', 'lost']);
        expect(accepted[0]!.events).toEqual(['made', 'data', 'eof', 'lost']);
        await closeServer(server);
      }));

    it('ssl=SSLContext: a tls.createSecureContext() object as ssl on the server and the client (it verifies by default)', () =>
      runIn(make, async (loop) => {
        loop.setExceptionHandler(() => {});
        const c = testCerts();
        const server = (await startServer(async (reader, writer) => {
          writer.write(await reader.readline());
          writer.close();
        }, '127.0.0.1', 0, { ssl: tls.createSecureContext({ key: c.serverKey, cert: c.serverCert }) })) as unknown as Server;
        const [reader, writer] = await openConnection('127.0.0.1', portOf(server), { ssl: tls.createSecureContext({ ca: c.ca }), serverHostname: 'localhost' });
        writer.write(Buffer.from('over a SecureContext\n'));
        expect((await reader.readline()).toString()).toBe('over a SecureContext\n');
        writer.close();
        await writer.waitClosed();
        const untrusted = await rejection(openConnection('127.0.0.1', portOf(server), { ssl: tls.createSecureContext({}), serverHostname: 'localhost' }));
        expect(untrusted).toBeInstanceOf(SSLCertVerificationError);
        await expect(openConnection('127.0.0.1', portOf(server), { ssl: new Date() as never })).rejects.toThrow(/ssl must be true, false, null, an options object of Node's tls, a tls.SecureContext or a TLS context/);
        await closeServer(server);
      }));

    it('get_extra_info over TLS: sslcontext, peercert, cipher, compression (null), ssl_object; unknown names give the default', () =>
      runIn(make, async (loop) => {
        const { server, accepted, tr, client } = await tlsPair(loop);
        expect(tr.getExtraInfo('sslcontext')).not.toBe(null);
        const peercert = tr.getExtraInfo<{ subject: { CN: string } }>('peercert');
        expect(peercert?.subject.CN).toBe('localhost');
        // The server did not ask for a client certificate.
        expect(accepted[0]!.transport!.getExtraInfo('peercert')).toBe(null);
        expect(tr.getExtraInfo<{ name: string; version: string }>('cipher')).toMatchObject({ name: expect.any(String), version: expect.stringMatching(/^TLSv1\.[23]$/) });
        expect(tr.getExtraInfo('compression', 'absent')).toBe(null);
        const sslObject = tr.getExtraInfo<{ getProtocol(): string; getPeerCertificate(): unknown; getCipher(): unknown; alpnProtocol: unknown }>('ssl_object')!;
        expect(sslObject.getProtocol()).toMatch(/^TLSv1\.[23]$/);
        // check_ssl_extra_info: the SSL object agrees with the transport's keys.
        expect(sslObject.getCipher()).toEqual(tr.getExtraInfo('cipher'));
        expect(sslObject.getPeerCertificate()).toEqual(tr.getExtraInfo('peercert'));
        expect(sslObject.alpnProtocol).toBe(false);
        expect(tr.getExtraInfo('no such key', 'dflt')).toBe('dflt');
        expect(tr.getExtraInfo('socket')).not.toBe(null);
        tr.close();
        await client.lost;
        // test_get_extra_info_on_closed_connection: the socket's names are gone, the TLS ones stay.
        expect(tr.getExtraInfo('socket')).toBe(null);
        expect(tr.getExtraInfo('peername', 'dflt')).toBe('dflt');
        expect(tr.getExtraInfo('peercert')).not.toBe(null);
        expect(tr.getExtraInfo('sslcontext')).not.toBe(null);
        await closeServer(server);
      }));

    it("get_extra_info('sslcontext') is the very ssl the caller gave: options, a tls.SecureContext, a provider's context, on both sides and after startTls", () =>
      runIn(make, async (loop) => {
        const c = testCerts();
        const serverOptions = serverSsl();
        const provider = getTLSProvider()!;
        const accepted: Recording[] = [];
        const server = (await loop.createServer(() => {
          const p = new Recording(loop);
          accepted.push(p);
          return p;
        }, '127.0.0.1', 0, { ssl: serverOptions })) as Server;
        const secure = tls.createSecureContext({ ca: c.ca });
        const compiled = provider.createContext({ ca: c.ca }, false);
        const options = { ca: c.ca };
        for (const given of [options, secure, compiled]) {
          const [tr, client] = (await loop.createConnection(() => new Recording(loop), '127.0.0.1', portOf(server), { ssl: given, serverHostname: 'localhost' })) as [Transport, Recording];
          expect(tr.getExtraInfo('sslcontext')).toBe(given);
          expect(tr.getExtraInfo('sslContext')).toBe(given);
          tr.close();
          await client.lost;
        }
        while (accepted.length < 3 || !accepted.every((p) => p.made.done())) await sleep(0.005);
        for (const p of accepted) expect(p.transport!.getExtraInfo('sslcontext')).toBe(serverOptions);
        await closeServer(server);
        const plain = (await startServer(async (reader, writer) => {
          await writer.startTls(serverOptions);
          expect(writer.getExtraInfo('sslcontext')).toBe(serverOptions);
          writer.close();
        }, '127.0.0.1', 0)) as unknown as Server;
        const [reader, writer] = await openConnection('127.0.0.1', portOf(plain));
        await writer.startTls(options, { serverHostname: 'localhost' });
        expect(writer.getExtraInfo('sslcontext')).toBe(options);
        expect((await reader.read()).length).toBe(0);
        writer.close();
        await closeServer(plain);
      }));

    it('test_create_server_ssl_verify_failed: a client without the CA gets SSLCertVerificationError /certificate verify failed/ with verifyCode and verifyMessage; the server reports and serves on', () =>
      runIn(make, async (loop, reports) => {
        const server = (await loop.createServer(() => new Recording(loop), '127.0.0.1', 0, { ssl: serverSsl() })) as Server;
        const error = (await rejection(
          loop.createConnection(() => new Recording(loop), '127.0.0.1', portOf(server), { ssl: {}, serverHostname: 'localhost' }),
        )) as SSLCertVerificationError;
        expect(error).toBeInstanceOf(SSLCertVerificationError);
        expect(error).toBeInstanceOf(SSLError);
        expect(error.message).toMatch(/certificate verify failed/);
        expect(error.verifyCode).toBeGreaterThan(0);
        expect(typeof error.verifyMessage).toBe('string');
        // test_create_ssl_connection: cm.exception.reason == 'CERTIFICATE_VERIFY_FAILED'; Python
        // 3.13.0's library is 'SSL' (OpenSSL's 'SSL routines' until session 18).
        expect(error.reason).toBe('CERTIFICATE_VERIFY_FAILED');
        expect(error.library).toBe('SSL');
        // The server still serves a client that trusts it.
        const [tr, p] = (await loop.createConnection(() => new Recording(loop), '127.0.0.1', portOf(server), { ssl: clientSsl(), serverHostname: 'localhost' })) as [Transport, Recording];
        tr.close();
        await p.lost;
        await closeServer(server);
        for (const r of reports) expect(r.message).toMatch(/SSL handshake failed/);
      }));

    it('test_create_server_ssl_match_failed: host 127.0.0.1 (the default serverHostname) against a certificate for other.test; a wrong serverHostname', () =>
      runIn(make, async (loop) => {
        loop.setExceptionHandler(() => {});
        const c = testCerts();
        const other = (await loop.createServer(() => new Recording(loop), '127.0.0.1', 0, { ssl: { key: c.otherKey, cert: c.otherCert } })) as Server;
        const error = (await rejection(loop.createConnection(() => new Recording(loop), '127.0.0.1', portOf(other), { ssl: clientSsl() }))) as SSLCertVerificationError;
        expect(error).toBeInstanceOf(SSLCertVerificationError);
        expect(error.message).toMatch(/certificate verify failed: IP address mismatch, certificate is not valid for '127\.0\.0\.1'/);
        expect(error.verifyMessage).toBe("IP address mismatch, certificate is not valid for '127.0.0.1'.");
        await closeServer(other);
        const server = (await loop.createServer(() => new Recording(loop), '127.0.0.1', 0, { ssl: serverSsl() })) as Server;
        const wrongName = (await rejection(
          loop.createConnection(() => new Recording(loop), '127.0.0.1', portOf(server), { ssl: clientSsl(), serverHostname: 'wrong.example' }),
        )) as SSLCertVerificationError;
        expect(wrongName).toBeInstanceOf(SSLCertVerificationError);
        expect(wrongName.message).toMatch(/certificate verify failed: Hostname mismatch, certificate is not valid for 'wrong\.example'/);
        expect(wrongName.verifyCode).toBe(62);
        expect(wrongName.library).toBe('SSL');
        await closeServer(server);
      }));

    // Python 3.13.0, open_connection(ssl=ctx, server_hostname='') with create_default_context()
    // (check_hostname True): connects to a server whose certificate names another host (no SNI,
    // no host name check), and an untrusted chain still fails CERTIFICATE_VERIFY_FAILED.
    it("serverHostname '': no host name check, the chain still verified (as asyncio 3.13's server_hostname='')", () =>
      runIn(make, async (loop) => {
        loop.setExceptionHandler(() => {});
        const c = testCerts();
        const other = (await loop.createServer(() => new Recording(loop), '127.0.0.1', 0, { ssl: { key: c.otherKey, cert: c.otherCert } })) as Server;
        const [tr, p] = (await loop.createConnection(() => new Recording(loop), '127.0.0.1', portOf(other), { ssl: clientSsl(), serverHostname: '' })) as [Transport, Recording];
        expect(tr.getExtraInfo('peercert')).toMatchObject({ subject: { CN: 'other.test' } });
        tr.close();
        await p.lost;
        const untrusted = (await rejection(
          loop.createConnection(() => new Recording(loop), '127.0.0.1', portOf(other), { ssl: {}, serverHostname: '' }),
        )) as SSLCertVerificationError;
        expect(untrusted).toBeInstanceOf(SSLCertVerificationError);
        expect([untrusted.reason, untrusted.library]).toEqual(['CERTIFICATE_VERIFY_FAILED', 'SSL']);
        await closeServer(other);
      }));

    it("a TLS client against a plain-text server: SSLError, reason 'WRONG_VERSION_NUMBER', library 'SSL' (as Python 3.13.0)", () =>
      runIn(make, async (loop) => {
        const plain = net.createServer((socket) => socket.end('HTTP/1.0 400 Bad Request\r\n\r\n'.repeat(10)));
        await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
        try {
          const port = (plain.address() as net.AddressInfo).port;
          const error = (await rejection(loop.createConnection(() => new Recording(loop), '127.0.0.1', port, { ssl: clientSsl(), serverHostname: 'localhost' }))) as SSLError;
          expect(error).toBeInstanceOf(SSLError);
          expect([error.reason, error.library]).toEqual(['WRONG_VERSION_NUMBER', 'SSL']);
        } finally {
          plain.close();
        }
      }));

    it('test_create_server_ssl_verified: a client certificate required and given; peercert on both sides', () =>
      runIn(make, async (loop) => {
        const c = testCerts();
        const made = loop.createFuture<Transport>();
        const server = (await loop.createServer(() => {
          const p = new Recording(loop);
          p.made.addDoneCallback((f) => made.setResult(f.result()));
          return p;
        }, '127.0.0.1', 0, { ssl: { ...serverSsl(), ca: c.ca, requestCert: true, rejectUnauthorized: true } })) as Server;
        const [tr, p] = (await loop.createConnection(() => new Recording(loop), '127.0.0.1', portOf(server), {
          ssl: { ca: c.ca, cert: c.clientCert, key: c.clientKey },
          serverHostname: 'localhost',
        })) as [Transport, Recording];
        const serverSide = await made;
        expect(serverSide.getExtraInfo<{ subject: unknown }>('peercert')).not.toBe(null);
        expect(tr.getExtraInfo<{ subject: { CN: string } }>('peercert')!.subject.CN).toBe('localhost');
        const refused = await rejection(loop.createConnection(() => new Recording(loop), '127.0.0.1', portOf(server), { ssl: clientSsl(), serverHostname: 'localhost' }).then(async ([t, q]) => {
          // TLS 1.3: the client finishes first and learns of the refusal on its next read.
          await (q as Recording).lost;
          throw (await (q as Recording).lost) ?? new Error('closed without an error');
        }));
        expect(refused).toBeInstanceOf(SSLError);
        tr.close();
        await p.lost;
        await closeServer(server);
      }));
  });

  onEachLoop('test_sslproto', (make) => {
    it('half-close over TLS: canWriteEof() false, writeEof() NotImplementedError; the peer\'s close_notify is eofReceived then connectionLost(null)', () =>
      runIn(make, async (loop) => {
        const { server, accepted, client, tr } = await tlsPair(loop);
        expect(tr.canWriteEof()).toBe(false);
        expect(() => tr.writeEof()).toThrow(NotImplementedError);
        accepted[0]!.transport!.close();
        expect(await client.lost).toBe(null);
        expect(client.events).toEqual(['made', 'eof', 'lost']);
        await closeServer(server);
      }));

    it('eofReceived returning true over TLS has no effect: the transport closes (asyncio warns so)', () =>
      runIn(make, async (loop) => {
        const { server, accepted, client } = await tlsPair(loop);
        client.eofAnswer = true;
        accepted[0]!.transport!.write(Buffer.from('last words'));
        accepted[0]!.transport!.close();
        expect(await client.lost).toBe(null);
        expect(client.received.toString()).toBe('last words');
        expect(client.events).toEqual(['made', 'data', 'eof', 'lost']);
        await closeServer(server);
      }));

    it('test_write_after_closing / test_data_received_after_closing: writes after close() are dropped without an error', () =>
      runIn(make, async (loop, reports) => {
        const { server, accepted, tr, client } = await tlsPair(loop);
        tr.write(Buffer.from('before'));
        tr.close();
        expect(tr.isClosing()).toBe(true);
        for (let i = 0; i < 6; i++) tr.write(Buffer.from('after'));
        expect(await client.lost).toBe(null);
        await accepted[0]!.lost;
        expect(accepted[0]!.received.toString()).toBe('before');
        expect(reports).toEqual([]);
        await closeServer(server);
      }));

    it('abort() during close(): connectionLost(null) at once, what was buffered dropped; the peer ends with the TCP EOF', () =>
      runIn(make, async (loop) => {
        const { server, accepted, tr, client } = await tlsPair(loop);
        accepted[0]!.transport!.pauseReading();
        // Until this side buffers: a paused reader's kernel (and a ring's receive pool) take some first.
        let written = 0;
        while (client.paused === 0) {
          tr.write(Buffer.alloc(1024 * 1024));
          written += 1024 * 1024;
          await sleep(0);
        }
        tr.close();
        tr.abort();
        expect(tr.isClosing()).toBe(true);
        expect(await client.lost).toBe(null);
        accepted[0]!.transport!.resumeReading();
        expect(await accepted[0]!.lost).toBe(null);
        expect(accepted[0]!.received.length).toBeLessThan(written);
        await closeServer(server);
      }));

    it('flow control over TLS: default limits (16 KiB, 64 KiB); a peer not reading pauses writing once, reading again resumes it once', () =>
      runIn(make, async (loop) => {
        const { server, accepted, tr, client } = await tlsPair(loop);
        expect(tr.getWriteBufferLimits()).toEqual([16 * 1024, 64 * 1024]);
        const peer = accepted[0]!.transport!;
        peer.pauseReading();
        const chunk = Buffer.alloc(64 * 1024, 7);
        let written = 0;
        while (client.paused === 0 && written < 64 * 1024 * 1024) {
          tr.write(chunk);
          written += chunk.length;
          await sleep(0);
        }
        expect(client.paused).toBe(1);
        expect(tr.getWriteBufferSize()).toBeGreaterThan(64 * 1024);
        peer.resumeReading();
        await accepted[0]!.bytes(written);
        while (client.resumed === 0) await sleep(0.005);
        expect(client.paused).toBe(1);
        expect(client.resumed).toBe(1);
        expect(tr.getWriteBufferSize()).toBeLessThanOrEqual(16 * 1024);
        expect(accepted[0]!.received.length).toBe(written);
        tr.setWriteBufferLimits({ high: 0 });
        expect(tr.getWriteBufferLimits()).toEqual([0, 0]);
        tr.close();
        await accepted[0]!.lost;
        await closeServer(server);
      }));

    it('setWriteBufferLimits over TLS (high 256 KiB, low 32 KiB): pauseWriting above high, resumeWriting at or below low, all of it intact', () =>
      runIn(make, async (loop) => {
        const { server, accepted, tr } = await tlsPair(loop);
        const sizes: Array<[string, number]> = [];
        const proto = tr.getProtocol() as Recording;
        proto.pauseWriting = () => void sizes.push(['pause', tr.getWriteBufferSize()]);
        proto.resumeWriting = () => void sizes.push(['resume', tr.getWriteBufferSize()]);
        tr.setWriteBufferLimits({ high: 256 * 1024, low: 32 * 1024 });
        expect(tr.getWriteBufferLimits()).toEqual([32 * 1024, 256 * 1024]);
        const peer = accepted[0]!.transport!;
        peer.pauseReading();
        const chunks: Buffer[] = [];
        // Until the pause: a paused reader's kernel (and a ring's receive pool) take some first.
        while (sizes.length === 0) {
          const chunk = Buffer.alloc(100_000, chunks.length % 251);
          chunks.push(chunk);
          tr.write(chunk);
          if (chunks.length % 10 === 0) await sleep(0);
        }
        expect(sizes).toEqual([['pause', sizes[0]![1]]]);
        expect(sizes[0]![1]).toBeGreaterThan(256 * 1024);
        peer.resumeReading();
        const data = Buffer.concat(chunks);
        expect((await accepted[0]!.bytes(data.length)).equals(data)).toBe(true);
        while (sizes.length < 2) await sleep(0.005);
        expect(sizes[1]![0]).toBe('resume');
        expect(sizes[1]![1]).toBeLessThanOrEqual(32 * 1024);
        expect(() => tr.setWriteBufferLimits({ high: 10, low: 20 })).toThrow(RangeError);
        tr.close();
        await accepted[0]!.lost;
        await closeServer(server);
      }));

    it('pauseReading over TLS: nothing delivered while paused, all of it in order after resumeReading', () =>
      runIn(make, async (loop) => {
        const { server, accepted, tr, client } = await tlsPair(loop);
        tr.pauseReading();
        expect(tr.isReading()).toBe(false);
        const data = Buffer.alloc(512 * 1024);
        for (let i = 0; i < data.length; i++) data[i] = i % 251;
        accepted[0]!.transport!.write(data);
        await sleep(0.2);
        expect(client.received.length).toBe(0);
        tr.resumeReading();
        expect(tr.isReading()).toBe(true);
        expect((await client.bytes(data.length)).equals(data)).toBe(true);
        tr.close();
        await client.lost;
        await closeServer(server);
      }));

    it('test_buf_feed_data: a BufferedProtocol over a TLS connection with a 7-byte buffer gets 1 MiB intact', () =>
      runIn(make, async (loop) => {
        const data = Buffer.alloc(1024 * 1024);
        for (let i = 0; i < data.length; i++) data[i] = (i * 7) % 253;
        const server = (await startServer(async (_reader, writer) => {
          writer.write(data);
          await writer.drain();
          writer.close();
        }, '127.0.0.1', 0, { ssl: serverSsl() })) as unknown as Server;
        const got: Buffer[] = [];
        const lost = loop.createFuture<Error | null>();
        class Small extends BufferedProtocol {
          readonly buf = new Uint8Array(7);
          override getBuffer(): Uint8Array {
            return this.buf;
          }
          override bufferUpdated(n: number): void {
            got.push(Buffer.from(this.buf.subarray(0, n)));
          }
          override connectionLost(exc: Error | null): void {
            lost.setResult(exc);
          }
        }
        await loop.createConnection(() => new Small(), '127.0.0.1', portOf(server), { ssl: clientSsl(), serverHostname: 'localhost' });
        expect(await lost).toBe(null);
        expect(Buffer.concat(got).equals(data)).toBe(true);
        await closeServer(server);
      }));

    it('test_start_tls_wrong_args: startTls needs ssl and a stream transport; a closing transport is refused', () =>
      runIn(make, async (loop) => {
        const server = (await loop.createServer(() => new Recording(loop), '127.0.0.1', 0)) as Server;
        const [tr, p] = (await loop.createConnection(() => new Recording(loop), '127.0.0.1', portOf(server))) as [Transport, Recording];
        await expect(loop.startTls(tr, p, null as never)).rejects.toThrow(TypeError);
        await expect(loop.startTls({} as Transport, p, clientSsl(), { serverHostname: 'localhost' })).rejects.toThrow(TypeError);
        await expect(loop.startTls(tr, p, clientSsl())).rejects.toThrow(/serverHostname/);
        tr.close();
        await expect(loop.startTls(tr, p, clientSsl(), { serverHostname: 'localhost' })).rejects.toThrow(/closing/);
        await p.lost;
        await closeServer(server);
      }));

    it('loop.close() during a TLS handshake: the connection is closed and nothing is reported after the loop closed', async () => {
      const loop = make();
      const reports: unknown[] = [];
      loop.setExceptionHandler((_l, ctx) => reports.push(ctx));
      const silent = net.createServer(() => {});
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const errors: string[] = [];
      const onError = (e: unknown): void => {
        errors.push(String(e));
      };
      process.on('uncaughtException', onError);
      try {
        await loop.runUntilComplete(async () => {
          const [tr, p] = (await loop.createConnection(() => new Recording(loop), '127.0.0.1', (silent.address() as net.AddressInfo).port)) as [Transport, Recording];
          void loop.startTls(tr, p, clientSsl(), { serverHostname: 'localhost' }).catch(() => {});
          createTask(() => loop.createConnection(() => new Recording(loop), '127.0.0.1', (silent.address() as net.AddressInfo).port, { ssl: clientSsl(), serverHostname: 'localhost' })).addDoneCallback((t) => t.exception());
          await sleep(0.1);
        });
        loop.close();
        await new Promise((resolve) => setTimeout(resolve, 100));
        expect(reports).toEqual([]);
        expect(errors).toEqual([]);
      } finally {
        process.off('uncaughtException', onError);
        silent.close();
      }
    });
  });

  onEachLoop('test_base_events TLS arguments', (make) => {
    it('serverHostname / sslHandshakeTimeout / sslShutdownTimeout without ssl; serverHostname required without a host; bad timeouts', () =>
      runIn(make, async (loop) => {
        const server = (await loop.createServer(() => new Recording(loop), '127.0.0.1', 0)) as Server;
        const port = portOf(server);
        const pf = () => new Protocol();
        await expect(loop.createConnection(pf, '127.0.0.1', port, { serverHostname: 'x' })).rejects.toThrow(/serverHostname is only meaningful with ssl/);
        await expect(loop.createConnection(pf, '127.0.0.1', port, { sslHandshakeTimeout: 1 })).rejects.toThrow(/sslHandshakeTimeout is only meaningful with ssl/);
        await expect(loop.createConnection(pf, '127.0.0.1', port, { sslShutdownTimeout: 1 })).rejects.toThrow(/sslShutdownTimeout is only meaningful with ssl/);
        await expect(loop.createServer(pf, '127.0.0.1', 0, { sslHandshakeTimeout: 1 })).rejects.toThrow(/sslHandshakeTimeout is only meaningful with ssl/);
        await expect(startServer(async () => {}, '127.0.0.1', 0, { sslShutdownTimeout: 1 })).rejects.toThrow(/sslShutdownTimeout is only meaningful with ssl/);
        await expect(loop.createConnection(pf, '127.0.0.1', port, { ssl: clientSsl(), sslHandshakeTimeout: 0 })).rejects.toThrow(RangeError);
        await expect(loop.createConnection(pf, '127.0.0.1', port, { ssl: clientSsl(), sslHandshakeTimeout: -1 })).rejects.toThrow(/sslHandshakeTimeout must be a positive number/);
        await expect(loop.createConnection(pf, '127.0.0.1', port, { ssl: clientSsl(), sslShutdownTimeout: 0 })).rejects.toThrow(RangeError);
        // @ts-expect-error ssl: true is a client's (a type error too)
        await expect(loop.createServer(pf, '127.0.0.1', 0, { ssl: true })).rejects.toThrow(TypeError);
        const sock = socket();
        try {
          await expect(loop.createConnection(pf, null, null, { ssl: clientSsl(), sock })).rejects.toThrow(/serverHostname is required/);
        } finally {
          sock.close();
        }
        await closeServer(server);
      }));
  });

  onEachLoop('test_streams TLS', (make) => {
    it('test_open_connection with ssl / test_start_tls: readline over TLS, then StreamWriter.startTls on both sides mid-stream', () =>
      runIn(make, async () => {
        const server = (await startServer(async (reader, writer) => {
          writer.write(await reader.readline());
          await writer.drain();
          await writer.startTls(serverSsl());
          expect(writer.getExtraInfo('ssl_object')).not.toBe(null);
          writer.write(await reader.readline());
          await writer.drain();
          writer.close();
          await writer.waitClosed();
        }, '127.0.0.1', 0)) as unknown as Server;
        const [reader, writer] = await openConnection('127.0.0.1', portOf(server));
        expect(writer.getExtraInfo('ssl_object')).toBe(null);
        writer.write(Buffer.from('hello world 1!\n'));
        expect((await reader.readline()).toString()).toBe('hello world 1!\n');
        await writer.startTls(clientSsl(), { serverHostname: 'localhost' });
        expect(writer.getExtraInfo<{ getProtocol(): string }>('ssl_object')!.getProtocol()).toMatch(/^TLSv1/);
        // The camelCase spellings (loopkit's naming rule) name the same objects.
        expect(writer.getExtraInfo('sslObject')).toBe(writer.getExtraInfo('ssl_object'));
        expect(writer.getExtraInfo('sslContext')).toBe(writer.getExtraInfo('sslcontext'));
        expect(writer.getExtraInfo('sslcontext')).not.toBe(null);
        writer.write(Buffer.from('hello world 2!\n'));
        expect((await reader.readline()).toString()).toBe('hello world 2!\n');
        expect((await reader.read()).length).toBe(0);
        writer.close();
        await writer.waitClosed();
        await closeServer(server);
      }));

    it('sslShutdownTimeout on streams: writer.waitClosed() and reader.read() raise TimeoutError(/SSL shutdown timed out/) when the peer never answers close_notify', () =>
      runIn(make, async (_loop, reports) => {
        const c = testCerts();
        // allowHalfOpen: Node takes our close_notify as the end of its input and answers none.
        const node = tls.createServer({ key: c.serverKey, cert: c.serverCert, allowHalfOpen: true }, (s) => s.on('error', () => {}));
        await new Promise<void>((resolve) => node.listen(0, '127.0.0.1', resolve));
        try {
          const [reader, writer] = await openConnection('127.0.0.1', (node.address() as net.AddressInfo).port, { ssl: clientSsl(), serverHostname: 'localhost', sslShutdownTimeout: 0.3 });
          writer.close();
          const error = await rejection(writer.waitClosed());
          expect(error).toBeInstanceOf(TimeoutError);
          expect((error as Error).message).toMatch(/^SSL shutdown timed out/);
          expect(await rejection(reader.read())).toBe(error);
          expect(reports).toEqual([]);
        } finally {
          node.close();
        }
      }));

    it('test_open_unix_connection with ssl: startUnixServer/openUnixConnection over TLS, serverHostname required', () =>
      runIn(make, async () => {
        const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'loopkit-sslunix-')), 's');
        const server = (await startUnixServer(async (reader, writer) => {
          writer.write(await reader.readline());
          await writer.drain();
          writer.close();
        }, file, { ssl: serverSsl() })) as unknown as Server;
        await expect(openUnixConnection(file, { ssl: clientSsl() })).rejects.toThrow(/serverHostname is required/);
        const [reader, writer] = await openUnixConnection(file, { ssl: clientSsl(), serverHostname: 'localhost' });
        writer.write(Buffer.from('over a Unix socket\n'));
        expect((await reader.readline()).toString()).toBe('over a Unix socket\n');
        expect((await reader.read()).length).toBe(0);
        writer.close();
        await writer.waitClosed();
        await closeServer(server);
        fs.rmSync(path.dirname(file), { recursive: true, force: true });
      }));

    it('test_open_connection ssl against Node\'s tls server; writer.writeEof refused; canWriteEof false', () =>
      runIn(make, async () => {
        const c = testCerts();
        const node = tls.createServer({ key: c.serverKey, cert: c.serverCert }, (s) => s.pipe(s));
        await new Promise<void>((resolve) => node.listen(0, '127.0.0.1', resolve));
        try {
          const [reader, writer] = await openConnection('localhost', (node.address() as net.AddressInfo).port, { ssl: clientSsl() });
          expect(writer.canWriteEof()).toBe(false);
          expect(() => writer.writeEof()).toThrow(NotImplementedError);
          writer.write(Buffer.from('ping\n'));
          expect((await reader.readline()).toString()).toBe('ping\n');
          writer.close();
          await writer.waitClosed();
        } finally {
          node.close();
        }
      }));
  });
});
