/**
 * API.md's TLS section on each loop: where `ssl` is taken (every client and server method,
 * TCP and Unix), `true` as the system trust store with the host name checked, serverHostname
 * defaulting to the host, the extra info of a TLS transport, writeEof refused, close_notify as
 * eofReceived, the error classes, the handshake timeout, startTls keeping bytes, unknown keys.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  ConnectionAbortedError,
  NotImplementedError,
  Protocol,
  SSLCertVerificationError,
  SSLError,
  Server,
  getTLSProvider,
  openConnection,
  openUnixConnection,
  sleep,
  startServer,
  startUnixServer,
  type AbstractEventLoop,
  type Future,
  type Socket,
  type StreamReader,
  type StreamWriter,
  type Transport,
} from 'loopkit';
import { hasOpenssl, testCerts } from '@loopkit/conformance/support';
import { onEachLoop, rejection, runIn, thrown } from './loops.js';

const missing = getTLSProvider() === null || !hasOpenssl();
const serverSsl = () => ({ key: testCerts().serverKey, cert: testCerts().serverCert });
const clientSsl = () => ({ ca: testCerts().ca });

function portOf(server: { sockets: readonly unknown[] }): number {
  return ((server.sockets[0] as Socket).getsockname() as { port: number }).port;
}

/** A TLS echo handler for startServer: echoes one line, then closes. */
async function echoLine(reader: StreamReader, writer: StreamWriter): Promise<void> {
  writer.write(await reader.readline());
  await writer.drain();
  writer.close();
}

class Recorder extends Protocol {
  events: string[] = [];
  transport: Transport | null = null;
  lost: Future<Error | null>;
  constructor(loop: AbstractEventLoop) {
    super();
    this.lost = loop.createFuture();
  }
  override connectionMade(transport: Transport): void {
    this.transport = transport;
  }
  override dataReceived(data: Uint8Array): void {
    this.events.push(`data:${Buffer.from(data).toString()}`);
  }
  override eofReceived(): boolean {
    this.events.push('eof');
    return false;
  }
  override connectionLost(exc: Error | null): void {
    if (!this.lost.done()) this.lost.setResult(exc);
  }
}

let dir = '';
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loopkit-contract-tls-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

onEachLoop('TLS', (make) => {
  it.skipIf(missing)('ssl on startServer/openConnection and startUnixServer/openUnixConnection; serverHostname defaults to the host', async () => {
    await runIn(make, async () => {
      const server = await startServer(echoLine, '127.0.0.1', 0, { ssl: serverSsl() });
      const [reader, writer] = await openConnection('127.0.0.1', portOf(server), { ssl: clientSsl() });
      writer.write(Buffer.from('over tls\n'));
      expect(Buffer.from(await reader.readline()).toString()).toBe('over tls\n');
      writer.close();
      // The certificate names localhost and 127.0.0.1: another name given fails verification.
      const wrongName = await rejection(openConnection('127.0.0.1', portOf(server), { ssl: clientSsl(), serverHostname: 'other.test' }));
      expect(wrongName).toBeInstanceOf(SSLCertVerificationError);
      server.close();
      await server.waitClosed();
      const socketPath = path.join(dir, 'tls.sock');
      const unixServer = await startUnixServer(echoLine, socketPath, { ssl: serverSsl() });
      const [ur, uw] = await openUnixConnection(socketPath, { ssl: clientSsl(), serverHostname: 'localhost' });
      uw.write(Buffer.from('unix tls\n'));
      expect(Buffer.from(await ur.readline()).toString()).toBe('unix tls\n');
      uw.close();
      unixServer.close();
      await unixServer.waitClosed();
    });
  });

  it.skipIf(missing)('ssl on createServer/createConnection and createUnixServer/createUnixConnection (the loop methods)', async () => {
    await runIn(make, async (loop) => {
      const socketPath = path.join(dir, 'tls2.sock');
      for (const unix of [false, true]) {
        const server = unix
          ? await loop.createUnixServer(() => new Recorder(loop), socketPath, { ssl: serverSsl() })
          : await loop.createServer(() => new Recorder(loop), '127.0.0.1', 0, { ssl: serverSsl() });
        const [transport, protocol] = (unix
          ? await loop.createUnixConnection(() => new Recorder(loop), socketPath, { ssl: clientSsl(), serverHostname: 'localhost' })
          : await loop.createConnection(() => new Recorder(loop), '127.0.0.1', portOf(server), { ssl: clientSsl() })) as [Transport, Recorder];
        expect(transport.getExtraInfo('ssl_object')).not.toBeNull();
        transport.close();
        await protocol.lost;
        server.close();
        await server.waitClosed();
      }
    });
  });

  it.skipIf(missing)('ssl: true is the system trust store with the host name checked (a private CA fails with SSLCertVerificationError)', async () => {
    await runIn(make, async () => {
      const server = await startServer(echoLine, '127.0.0.1', 0, { ssl: serverSsl() });
      const error = (await rejection(openConnection('127.0.0.1', portOf(server), { ssl: true }))) as Error & { code?: unknown };
      expect(error).toBeInstanceOf(SSLCertVerificationError);
      expect(error).toBeInstanceOf(SSLError);
      expect(typeof error.code).toBe('string');
      server.close();
      await server.waitClosed();
    });
  });

  it.skipIf(missing)("a TLS transport's extra info: peercert, cipher, sslcontext, ssl_object; canWriteEof() false, writeEof() throws NotImplementedError", async () => {
    await runIn(make, async (loop) => {
      let serverTransport: Transport | null = null;
      const server = await loop.createServer(() => {
        const p = new Recorder(loop);
        p.connectionMade = (t: Transport) => (serverTransport = t);
        return p;
      }, '127.0.0.1', 0, { ssl: { ...serverSsl(), ALPNProtocols: ['x-test'] } });
      const [transport, protocol] = (await loop.createConnection(() => new Recorder(loop), '127.0.0.1', portOf(server), {
        ssl: { ...clientSsl(), ALPNProtocols: ['x-test'] },
      })) as [Transport, Recorder];
      const peercert = transport.getExtraInfo('peercert') as { subject?: { CN?: string } } | null;
      expect(peercert?.subject?.CN).toBe('localhost');
      const cipher = transport.getExtraInfo('cipher') as { name?: unknown; version?: unknown };
      expect(typeof cipher.name).toBe('string');
      expect(typeof cipher.version).toBe('string');
      expect(transport.getExtraInfo('sslcontext')).not.toBeNull();
      const sslObject = transport.getExtraInfo('ssl_object') as { alpnProtocol: unknown; getPeerCertificate(): unknown; getProtocol(): unknown };
      expect(sslObject.alpnProtocol).toBe('x-test');
      expect((sslObject.getPeerCertificate() as { subject?: { CN?: string } }).subject?.CN).toBe('localhost');
      expect(String(sslObject.getProtocol())).toMatch(/^TLSv1\.[23]$/);
      expect(transport.canWriteEof()).toBe(false);
      expect(thrown(() => transport.writeEof())).toBeInstanceOf(NotImplementedError);
      while (serverTransport === null) await sleep(0.001);
      // No client certificate was asked for: the server sees no peer certificate.
      expect((serverTransport as Transport).getExtraInfo('peercert')).toBeNull();
      transport.close();
      await protocol.lost;
      server.close();
      await server.waitClosed();
    });
  });

  it.skipIf(missing)("the peer's close_notify reaches the protocol as eofReceived()", async () => {
    await runIn(make, async (loop) => {
      const server = await startServer(async (_reader, writer) => {
        writer.write(Buffer.from('bye'));
        writer.close();
        await writer.waitClosed();
      }, '127.0.0.1', 0, { ssl: serverSsl() });
      const [, protocol] = (await loop.createConnection(() => new Recorder(loop), '127.0.0.1', portOf(server), { ssl: clientSsl() })) as [Transport, Recorder];
      await protocol.lost;
      expect(protocol.events).toEqual(['data:bye', 'eof']);
      server.close();
      await server.waitClosed();
    });
  });

  it.skipIf(missing)('a handshake outlasting sslHandshakeTimeout fails with ConnectionAbortedError saying it timed out', async () => {
    await runIn(make, async (loop) => {
      // A plain TCP server that never answers the ClientHello.
      const silent = await loop.createServer(() => new Protocol(), '127.0.0.1', 0);
      const error = await rejection(loop.createConnection(() => new Protocol(), '127.0.0.1', portOf(silent), { ssl: clientSsl(), sslHandshakeTimeout: 0.1 }));
      expect(error).toBeInstanceOf(ConnectionAbortedError);
      expect(error.message).toMatch(/handshake.*timed? ?out|timed? ?out.*handshake/i);
      silent.close();
      await silent.waitClosed();
    });
  });

  it.skipIf(missing)('a bad handshake on a server is reported and that connection closed; the server serves on', async () => {
    await runIn(make, async (_loop, reports) => {
      const server = await startServer(echoLine, '127.0.0.1', 0, { ssl: serverSsl() });
      // Plain bytes where a ClientHello belongs.
      const [reader, writer] = await openConnection('127.0.0.1', portOf(server));
      writer.write(Buffer.from('this is not TLS\r\n\r\n'));
      await reader.read(-1).catch(() => null);
      writer.close();
      while (reports.length === 0) await sleep(0.005);
      expect(reports).toHaveLength(1);
      expect(reports[0]!.exception).toBeInstanceOf(SSLError);
      const [tr, tw] = await openConnection('127.0.0.1', portOf(server), { ssl: clientSsl() });
      tw.write(Buffer.from('still serving\n'));
      expect(Buffer.from(await tr.readline()).toString()).toBe('still serving\n');
      tw.close();
      expect(server.isServing()).toBe(true);
      server.close();
      await server.waitClosed();
    });
  });

  it.skipIf(missing)('an unknown ssl key, server or client, throws TypeError naming it', async () => {
    await runIn(make, async (loop) => {
      const clientError = await rejection(openConnection('127.0.0.1', 1, { ssl: { rejectUnauthorised: false } } as never));
      expect(clientError).toBeInstanceOf(TypeError);
      expect(clientError.message).toContain('rejectUnauthorised');
      const serverError = await rejection(loop.createServer(() => new Protocol(), '127.0.0.1', 0, { ssl: { ...serverSsl(), certt: 'x' } } as never));
      expect(serverError).toBeInstanceOf(TypeError);
      expect(serverError.message).toContain('certt');
    });
  });

  it.skipIf(missing)('loop.startTls and writer.startTls refuse an unknown option naming it', async () => {
    await runIn(make, async (loop) => {
      const server = await startServer(async (_reader, writer) => writer.close(), '127.0.0.1', 0);
      const [reader, writer] = await openConnection('127.0.0.1', portOf(server));
      const loopError = await rejection(loop.startTls(writer.transport as Transport, new Protocol(), clientSsl(), { serverSde: true } as never));
      expect(loopError).toBeInstanceOf(TypeError);
      expect(loopError.message).toContain('serverSde');
      const writerError = await rejection(writer.startTls(clientSsl(), { serverHostnme: 'x' } as never));
      expect(writerError).toBeInstanceOf(TypeError);
      expect(writerError.message).toContain('serverHostnme');
      await reader.read(-1);
      writer.close();
      server.close();
      await server.waitClosed();
    });
  });

  it.skipIf(missing)('loop.startTls(transport, protocol, ssl, opts) resolves to the TLS transport; bytes sent before the upgrade are not lost', async () => {
    await runIn(make, async (loop) => {
      const server = await startServer(async (reader, writer) => {
        expect(Buffer.from(await reader.readexactly(8)).toString()).toBe('STARTTLS');
        // The client's ClientHello may already be behind the upgrade point.
        await writer.startTls(serverSsl());
        writer.write(await reader.readline());
        await writer.drain();
        writer.close();
      }, '127.0.0.1', 0);
      const [transport, protocol] = (await loop.createConnection(() => new Recorder(loop), '127.0.0.1', portOf(server))) as [Transport, Recorder];
      transport.write(Buffer.from('STARTTLS'));
      const upgrading = loop.startTls(transport, protocol, clientSsl(), { serverHostname: 'localhost' });
      expect(upgrading).toBeInstanceOf(Promise);
      const tlsTransport = await upgrading;
      expect(tlsTransport.getExtraInfo('ssl_object')).not.toBeNull();
      tlsTransport.write(Buffer.from('secret\n'));
      await protocol.lost;
      expect(protocol.events.join('')).toContain('data:secret\n');
      server.close();
      await server.waitClosed();
    });
  });
});
