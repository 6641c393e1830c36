/** The TLS layer's state machine and flow control, exactly, with the fake engine over in-memory transports. */
import { describe, expect, it } from 'vitest';
import {
  ConnectionAbortedError,
  ConnectionResetError,
  NotImplementedError,
  Protocol,
  SSLCertVerificationError,
  SSLError,
  SSLObject,
  TimeoutError,
  sleep,
  type SSLTransport,
  type Transport,
} from '@loopkit/core';
import { CLOSE, DATA, record } from './fake-tls.js';
import { App, BufferedApp, failure, pattern, tlsPair, until, withTLSLoop } from './tls-helpers.js';

/** A peer that never speaks TLS: it records what it gets. */
class Silent extends Protocol {
  transport: Transport | null = null;
  got: Buffer[] = [];
  closeOnData = false;
  override connectionMade(t: Transport): void {
    this.transport = t;
  }
  override dataReceived(data: Uint8Array): void {
    this.got.push(Buffer.from(data));
    if (this.closeOnData) this.transport!.close();
  }
}

describe('SSLProtocol: handshake', () => {
  it('connects the app only after the handshake; extra info from the session and the socket', () =>
    withTLSLoop(async (loop, reports) => {
      const capp = new App(loop);
      const sapp = new App(loop);
      const { client, server, handshake, rawClient } = tlsPair(loop, capp, sapp, {
        client: { ALPNProtocols: ['h2', 'http/1.1'] },
        server: { ALPNProtocols: ['http/1.1'], cipherName: 'FAKE-AES' },
      });
      expect(client.sslState).toBe('unwrapped');
      await sleep(0);
      expect(client.sslState).toBe('handshake');
      expect(capp.events).toEqual([]);
      await handshake;
      expect(client.sslState).toBe('wrapped');
      expect(capp.events).toEqual(['made']);
      const t = capp.transport!;
      expect(t).toBe(client.appTransport);
      expect(t.getExtraInfo('cipher')).toEqual({ name: 'FAKE-AES', standardName: 'TLS_FAKE-AES', version: 'FAKEv1' });
      const obj = t.getExtraInfo<SSLObject>('ssl_object')!;
      expect(obj).toBeInstanceOf(SSLObject);
      expect(obj.alpnProtocol).toBe('http/1.1');
      expect(obj.getProtocol()).toBe('FAKEv1');
      expect(obj.servername).toBe('example.test');
      expect(t.getExtraInfo('peercert')).toBe(null);
      expect(t.getExtraInfo<{ options: unknown }>('sslcontext')!.options).toEqual({ ALPNProtocols: ['h2', 'http/1.1'] });
      expect(t.getExtraInfo('peername')).toEqual({ address: '127.0.0.1', family: 'IPv4', port: 443 });
      expect(t.getExtraInfo('nothing', 'dflt')).toBe('dflt');
      await until(() => sapp.events.includes('made'), 'server made');
      expect(server.appTransport.getExtraInfo<SSLObject>('ssl_object')!.servername).toBe('example.test');
      expect(rawClient.getProtocol()).toBe(client);
      expect(reports).toEqual([]);
    }));

  it('sslHandshakeTimeout against a silent peer: ConnectionAbortedError saying the handshake timed out', () =>
    withTLSLoop(async (loop) => {
      const capp = new App(loop);
      const { handshake, rawClient } = tlsPair(loop, capp, new Silent(), { handshakeTimeout: 3, rawPeer: true });
      const t0 = loop.time();
      const error = await failure(handshake);
      expect(error).toBeInstanceOf(ConnectionAbortedError);
      expect((error as Error).message).toMatch(/handshake timed out/);
      expect((error as Error).message).toMatch(/3 seconds/);
      expect(loop.time() - t0).toBeCloseTo(3, 6);
      await until(() => rawClient.toString().includes('closed'), 'socket closed');
      expect(capp.events).toEqual([]);
    }));

  it('TCP EOF during the handshake is a ConnectionResetError saying so, not a hang', () =>
    withTLSLoop(async (loop) => {
      const peer = new Silent();
      peer.closeOnData = true;
      const { handshake } = tlsPair(loop, new App(loop), peer, { rawPeer: true });
      const error = await failure(handshake);
      expect(error).toBeInstanceOf(ConnectionResetError);
      expect((error as Error).message).toMatch(/TLS handshake.*EOF/);
      expect(loop.time()).toBe(0);
    }));

  it('a certificate failure is SSLCertVerificationError with its codes; the server hears the alert', () =>
    withTLSLoop(async (loop, reports) => {
      const serverWaiter = loop.createFuture<void>();
      const sapp = new App(loop);
      const { handshake } = tlsPair(loop, new App(loop), sapp, { client: { failCert: true }, serverWaiter });
      const error = (await failure(handshake)) as SSLCertVerificationError;
      expect(error).toBeInstanceOf(SSLCertVerificationError);
      expect(error).toBeInstanceOf(SSLError);
      expect(error.code).toBe('ERR_SSL_CERTIFICATE_VERIFY_FAILED');
      expect(error.verifyCode).toBe(18);
      expect(error.verifyMessage).toBe('self-signed certificate');
      expect(error.library).toBe('fake');
      // The server's side of the handshake was done; the client's alert ends its connection.
      await serverWaiter;
      const serverError = (await sapp.lost) as SSLError;
      expect(serverError).toBeInstanceOf(SSLError);
      expect(serverError.code).toBe('ERR_SSL_TLSV1_ALERT_BAD_CERTIFICATE');
      // Both sides had a waiter: nothing reported.
      expect(reports).toEqual([]);
    }));

  it("a server's failed handshake (no waiter) is reported once and closes that connection", () =>
    withTLSLoop(async (loop, reports) => {
      const sapp = new App(loop);
      const { handshake, rawServer } = tlsPair(loop, new App(loop), sapp, { server: { reject: 'ERR_SSL_NO_SHARED_CIPHER' } });
      const clientError = (await failure(handshake)) as SSLError;
      expect(clientError.code).toBe('ERR_SSL_NO_SHARED_CIPHER');
      await until(() => rawServer.toString().includes('closed'), 'server socket closed');
      await sleep(0);
      expect(reports).toHaveLength(1);
      expect(reports[0]!.message).toBe('SSL handshake failed');
      expect((reports[0]!.exception as SSLError).code).toBe('ERR_SSL_NO_SHARED_CIPHER');
      expect(sapp.events).toEqual([]);
    }));

  it('SNI: the server asks SNICallback and serves with the context it gives', () =>
    withTLSLoop(async (loop) => {
      const names: string[] = [];
      const capp = new App(loop);
      const { handshake } = tlsPair(loop, capp, new App(loop), {
        server: {
          SNICallback: (name, cb) => {
            names.push(name);
            // (Virtual time would skip past a host-async answer; the conformance suite answers later.)
            cb(null, { cipherName: 'PICKED-BY-SNI' });
          },
        },
      });
      await handshake;
      expect(names).toEqual(['example.test']);
      expect(capp.transport!.getExtraInfo<{ name: string }>('cipher')!.name).toBe('PICKED-BY-SNI');
    }));
});

describe('SSLProtocol: data', () => {
  it('carries a megabyte each way byte-exact, to a Protocol and to a BufferedProtocol app', () =>
    withTLSLoop(async (loop) => {
      const capp = new App(loop);
      const sapp = new BufferedApp();
      const { handshake } = tlsPair(loop, capp, sapp, { memory: { maxWrite: 7000, capacity: 50_000 } });
      await handshake;
      await until(() => sapp.transport !== null, 'server made');
      const up = pattern(1 << 20, 1);
      const down = pattern(1 << 20, 2);
      capp.transport!.write(up.subarray(0, 1000));
      capp.transport!.writelines([up.subarray(1000, 500_000), up.subarray(500_000)]);
      sapp.transport!.write(down);
      await until(() => sapp.received.length >= up.length && capp.received.length >= down.length, 'all bytes', 100_000);
      expect(sapp.received.equals(up)).toBe(true);
      expect(capp.received.equals(down)).toBe(true);
    }));

  it('the wire carries no plaintext', () =>
    withTLSLoop(async (loop) => {
      const capp = new App(loop);
      const peer = new Silent();
      const { rawServer } = tlsPair(loop, capp, peer, { rawPeer: true });
      await sleep(0);
      // Answer the fake HELLO by hand, then look at what the client sends.
      await until(() => peer.got.length > 0, 'hello');
      const helloSize = Buffer.concat(peer.got).length;
      rawServer.write(record(2, Buffer.from(JSON.stringify({ alpn: false, cipher: 'X', cert: null }))));
      await capp.made;
      capp.transport!.write(Buffer.from('secret words'));
      await until(() => Buffer.concat(peer.got).length >= helloSize + 5 + 12, 'data record');
      expect(Buffer.concat(peer.got).includes('secret')).toBe(false);
    }));

  it('an engine error after the handshake closes with SSLError (its code), not reported', () =>
    withTLSLoop(async (loop, reports) => {
      const capp = new App(loop);
      const { handshake, rawServer } = tlsPair(loop, capp, new App(loop));
      await handshake;
      rawServer.write(Buffer.from('GET / HTTP/1.1\r\n'));
      const lost = (await capp.lost) as SSLError;
      expect(lost).toBeInstanceOf(SSLError);
      expect(lost.code).toBe('ERR_SSL_WRONG_VERSION_NUMBER');
      expect(reports).toEqual([]);
    }));

  it('an app callback that throws is reported once and closes the connection with its error', () =>
    withTLSLoop(async (loop, reports) => {
      const boom = new Error('boom');
      const capp = new App(loop);
      capp.dataReceived = () => {
        throw boom;
      };
      const sapp = new App(loop);
      const { handshake } = tlsPair(loop, capp, sapp);
      await handshake;
      await sapp.made;
      sapp.transport!.write(Buffer.from('hi'));
      expect(await capp.lost).toBe(boom);
      expect(reports.map((r) => r.message)).toEqual(['Fatal error: protocol.dataReceived() call failed.']);
    }));
});

describe('SSLTransport', () => {
  it('setProtocol switches the app protocol mid-stream (to a BufferedProtocol too); writelines keeps order', () =>
    withTLSLoop(async (loop) => {
      const capp = new App(loop);
      const sapp = new App(loop);
      const { handshake } = tlsPair(loop, capp, sapp);
      await handshake;
      await sapp.made;
      sapp.transport!.write(Buffer.from('first'));
      await until(() => capp.received.toString() === 'first', 'first');
      const next = new BufferedApp();
      capp.transport!.setProtocol(next);
      expect(capp.transport!.getProtocol()).toBe(next);
      sapp.transport!.writelines([Buffer.from('sec'), new Uint8Array([111, 110, 100])]);
      await until(() => next.received.toString() === 'second', 'second');
      expect(capp.received.toString()).toBe('first');
      expect(capp.transport!.isReading()).toBe(true);
      expect((capp.transport as SSLTransport).getLoop()).toBe(loop);
      expect(String(capp.transport)).toBe('<SSLTransport open>');
    }));
});

describe('SSLProtocol: flow control', () => {
  it("pauseWriting counts the engine's backlog and the socket's buffer; resumeWriting once drained", () =>
    withTLSLoop(async (loop) => {
      const capp = new App(loop);
      const sapp = new App(loop);
      const { handshake, client, rawServer } = tlsPair(loop, capp, sapp, { memory: { capacity: 20_000 } });
      await handshake;
      await sapp.made;
      rawServer.pauseReading();
      const t = capp.transport!;
      expect(t.getWriteBufferLimits()).toEqual([16384, 65536]);
      t.write(pattern(200_000));
      expect(capp.events).toEqual(['made', 'pause']);
      // Records (5 bytes of header each 16 KiB) and nothing accepted beyond the pipe's capacity.
      expect(t.getWriteBufferSize()).toBeGreaterThan(200_000 - 20_000);
      expect(client._appWriteBufferSize()).toBe(t.getWriteBufferSize());
      rawServer.resumeReading();
      await until(() => sapp.received.length === 200_000, 'all delivered', 100_000);
      expect(sapp.received.equals(pattern(200_000))).toBe(true);
      expect(capp.events).toEqual(['made', 'pause', 'resume']);
      expect(t.getWriteBufferSize()).toBe(0);
    }));

  it('setWriteBufferLimits applies to the TLS transport: high 0 pauses at the first byte held', () =>
    withTLSLoop(async (loop) => {
      const capp = new App(loop);
      const sapp = new App(loop);
      const { handshake, rawServer } = tlsPair(loop, capp, sapp, { memory: { capacity: 1000 } });
      await handshake;
      await sapp.made;
      rawServer.pauseReading();
      capp.transport!.setWriteBufferLimits({ high: 0 });
      expect(capp.transport!.getWriteBufferLimits()).toEqual([0, 0]);
      capp.transport!.write(Buffer.alloc(5000, 1));
      expect(capp.events).toEqual(['made', 'pause']);
      rawServer.resumeReading();
      await until(() => capp.events.length === 3, 'resume', 100_000);
      expect(capp.events[2]).toBe('resume');
      expect(capp.transport!.getWriteBufferSize()).toBe(0);
    }));

  it("the app's pauseReading pauses the socket transport; resumeReading delivers what waited, in order", () =>
    withTLSLoop(async (loop) => {
      const capp = new App(loop);
      const sapp = new App(loop);
      const { handshake, rawClient } = tlsPair(loop, capp, sapp);
      await handshake;
      await sapp.made;
      capp.transport!.pauseReading();
      expect(capp.transport!.isReading()).toBe(false);
      expect(rawClient.isReading()).toBe(false);
      sapp.transport!.write(Buffer.from('one '));
      sapp.transport!.write(Buffer.from('two'));
      for (let i = 0; i < 20; i++) await sleep(0);
      expect(capp.received.length).toBe(0);
      capp.transport!.resumeReading();
      expect(rawClient.isReading()).toBe(true);
      await until(() => capp.received.length === 7, 'delivered');
      expect(capp.received.toString()).toBe('one two');
    }));
});

describe('SSLProtocol: shutdown', () => {
  it('close(): flushing -> shutdown -> unwrapped; the peer gets eofReceived then connectionLost(null)', () =>
    withTLSLoop(async (loop, reports) => {
      const capp = new App(loop);
      const sapp = new App(loop);
      const { handshake, client, server, rawClient, rawServer } = tlsPair(loop, capp, sapp);
      await handshake;
      await sapp.made;
      capp.transport!.write(Buffer.from('last words'));
      capp.transport!.close();
      expect(capp.transport!.isClosing()).toBe(true);
      expect(client.sslState).toBe('shutdown');
      capp.transport!.write(Buffer.from('dropped'));
      expect(await capp.lost).toBe(null);
      expect(await sapp.lost).toBe(null);
      expect(sapp.received.toString()).toBe('last words');
      expect(sapp.events).toEqual(['made', 'eof', 'lost']);
      expect(capp.events).toEqual(['made', 'lost']);
      expect(client.sslState).toBe('unwrapped');
      expect(server.sslState).toBe('unwrapped');
      expect(rawClient.toString()).toMatch(/closed/);
      expect(rawServer.toString()).toMatch(/closed/);
      expect(reports).toEqual([]);
    }));

  it('sslShutdownTimeout against a peer that never answers close_notify: connectionLost(TimeoutError)', () =>
    withTLSLoop(async (loop) => {
      const capp = new App(loop);
      const { handshake, rawServer } = tlsPair(loop, capp, new App(loop), { shutdownTimeout: 4 });
      await handshake;
      // The peer stops speaking TLS: close_notify goes unanswered.
      const peer = new Silent();
      rawServer.setProtocol(peer);
      const t0 = loop.time();
      capp.transport!.close();
      const lost = await capp.lost;
      expect(lost).toBeInstanceOf(TimeoutError);
      expect((lost as Error).message).toMatch(/shutdown timed out/);
      expect(loop.time() - t0).toBeCloseTo(4, 6);
      expect(Buffer.concat(peer.got).subarray(0, 1)[0]).toBe(CLOSE);
    }));

  it("data after the peer's close_notify is ignored, not delivered", () =>
    withTLSLoop(async (loop) => {
      const capp = new App(loop);
      const { handshake, rawServer } = tlsPair(loop, capp, new App(loop));
      await handshake;
      rawServer.setProtocol(new Silent());
      const key = 0x5a;
      const enc = (s: string) => Buffer.from([...Buffer.from(s)].map((b) => b ^ key));
      rawServer.write(Buffer.concat([record(DATA, enc('before')), record(CLOSE), record(DATA, enc('after')), Buffer.from('junk')]));
      expect(await capp.lost).toBe(null);
      expect(capp.received.toString()).toBe('before');
      expect(capp.events).toEqual(['made', 'eof', 'lost']);
    }));

  it('TCP EOF without close_notify: the rest, then eofReceived, then connectionLost(null) (as asyncio)', () =>
    withTLSLoop(async (loop) => {
      const capp = new BufferedApp();
      const sapp = new App(loop);
      const { handshake, rawServer } = tlsPair(loop, capp, sapp);
      await handshake;
      await sapp.made;
      sapp.transport!.write(pattern(5000));
      rawServer.close(); // under the TLS layer: no close_notify
      await until(() => capp.events.includes('lost'), 'lost');
      expect(capp.received.equals(pattern(5000))).toBe(true);
      expect(capp.events).toEqual(['eof', 'lost']);
    }));

  it('TCP EOF while the app paused reading waits for resumeReading', () =>
    withTLSLoop(async (loop) => {
      const capp = new App(loop);
      const sapp = new App(loop);
      const { handshake, rawServer } = tlsPair(loop, capp, sapp);
      await handshake;
      await sapp.made;
      capp.transport!.pauseReading();
      sapp.transport!.write(Buffer.from('tail'));
      rawServer.close();
      for (let i = 0; i < 20; i++) await sleep(0);
      expect(capp.events).toEqual(['made']);
      capp.transport!.resumeReading();
      expect(await capp.lost).toBe(null);
      expect(capp.received.toString()).toBe('tail');
      expect(capp.events).toEqual(['made', 'eof', 'lost']);
    }));

  it('isClosing() follows the socket transport (gh-118950); writeEof is not supported', () =>
    withTLSLoop(async (loop) => {
      const capp = new App(loop);
      const { handshake, rawClient } = tlsPair(loop, capp, new App(loop));
      await handshake;
      const t = capp.transport!;
      expect(t.canWriteEof()).toBe(false);
      expect(() => t.writeEof()).toThrow(NotImplementedError);
      expect(() => t.write('text' as never)).toThrow(TypeError);
      expect(t.isClosing()).toBe(false);
      rawClient.abort();
      expect(t.isClosing()).toBe(true);
      expect(await capp.lost).toBe(null);
    }));

  it('abort() closes at once without close_notify; connectionLost(null) once', () =>
    withTLSLoop(async (loop) => {
      const capp = new App(loop);
      const sapp = new App(loop);
      const { handshake } = tlsPair(loop, capp, sapp);
      await handshake;
      await sapp.made;
      capp.transport!.abort();
      capp.transport!.abort();
      expect(await capp.lost).toBe(null);
      await sapp.lost;
      expect(sapp.events).toEqual(['made', 'eof', 'lost']);
      expect(capp.events.filter((e) => e === 'lost')).toHaveLength(1);
    }));
});
