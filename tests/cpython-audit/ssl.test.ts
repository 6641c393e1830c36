/**
 * Scenarios of CPython's test_asyncio/test_ssl.py (3.13) on the loops users get, against its
 * peers: blocking Python sockets with the ssl module (ssl_peer.py, the test's threaded server
 * and client), one connection per scenario.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BufferedProtocol,
  ConnectionAbortedError,
  ConnectionResetError,
  Protocol,
  SSLCertVerificationError,
  SSLError,
  TimeoutError,
  getTLSProvider,
  openConnection,
  sleep,
  startServer,
  waitFor,
  type AbstractEventLoop,
  type Future,
  type Server,
  type Transport,
} from 'loopkit';
import { hasOpenssl, testCerts } from '@loopkit/conformance/support';
import { Child, PYTHON, missingPython } from '../peers/helpers.js';
import { onEachLoop, portOf, rejection, runIn } from './loops.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PAYLOAD_SIZE = 100 * 1024;
const missing =
  getTLSProvider() === null ? 'no TLS provider is registered' : !hasOpenssl() ? 'no openssl command' : missingPython('import ssl', 'ssl');

const files = (() => {
  if (missing !== null) return { cert: '', key: '', ca: '', dir: '' };
  const c = testCerts();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loopkit-sslaudit-'));
  const write = (name: string, text: string): string => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text, { mode: 0o600 });
    return file;
  };
  return { dir, cert: write('cert.pem', c.serverCert), key: write('key.pem', c.serverKey), ca: write('ca.pem', c.ca) };
})();
afterAll(() => {
  if (files.dir !== '') fs.rmSync(files.dir, { recursive: true, force: true });
});

/** test_utils.simple_client_sslcontext(): no verification, no host name check. */
const insecureClient = { rejectUnauthorized: false };
const serverSsl = () => ({ key: testCerts().serverKey, cert: testCerts().serverCert });

/** ssl_peer.py serving one connection with `scenario`; resolves once it listens. */
async function pythonServer(scenario: string, n = 0): Promise<{ port: number; child: Child; note: () => Promise<string> }> {
  const child = new Child(PYTHON, [path.join(HERE, 'ssl_peer.py'), 'server', scenario, files.cert, files.key, String(n)]);
  const port = Number((await child.waitFor(/listening (\d+)/))[1]);
  return { port, child, note: () => peerNote(child) };
}

/** ssl_peer.py as a client of `port` running `scenario`. */
function pythonClient(scenario: string, port: number, n = 0): Child {
  return new Child(PYTHON, [path.join(HERE, 'ssl_peer.py'), 'client', scenario, String(port), files.ca, String(n)]);
}

/** What the peer printed last: "done <note>" or "failed <error>"; it has exited then. */
async function peerNote(child: Child): Promise<string> {
  const m = await child.waitFor(/(done|failed) ([^\n]*)/, 30);
  await child.wait(10);
  return `${m[1]} ${m[2]}`;
}

/** A protocol recording its callbacks in order, with futures for the interesting ones. */
class Recording extends Protocol {
  transport: Transport | null = null;
  readonly events: string[] = [];
  received = Buffer.alloc(0);
  readonly lost: Future<Error | null>;
  readonly eof: Future<true>;
  constructor(readonly loop: AbstractEventLoop) {
    super();
    this.lost = loop.createFuture();
    this.eof = loop.createFuture();
  }
  override connectionMade(transport: Transport): void {
    this.events.push('made');
    this.transport = transport;
  }
  override dataReceived(data: Uint8Array): void {
    if (this.events.at(-1) !== 'data') this.events.push('data');
    this.received = Buffer.concat([this.received, data]);
  }
  override eofReceived(): void {
    this.events.push('eof');
    this.eof.setResult(true);
  }
  override connectionLost(exc: Error | null): void {
    this.events.push('lost');
    this.lost.setResult(exc);
  }
  /** Resolves when `n` bytes have arrived. */
  async bytes(n: number): Promise<Buffer> {
    while (this.received.length < n) {
      if (this.lost.done()) throw new Error(`connection lost after ${this.received.length} of ${n} bytes`);
      await sleep(0.005);
    }
    return this.received;
  }
}

describe.skipIf(missing !== null)(`test_ssl against Python's ssl module${missing === null ? '' : ` (${missing})`}`, { timeout: 60000 }, () => {
  /** A plaintext server on 127.0.0.1 and the Recording of its first accepted connection. */
async function serveOneRecording(loop: AbstractEventLoop): Promise<[Server, Future<Recording>]> {
  const accepted = loop.createFuture<Recording>();
  class Accepted extends Recording {
    override connectionMade(transport: Transport): void {
      super.connectionMade(transport);
      accepted.setResult(this);
    }
  }
  const server = (await loop.createServer(() => new Accepted(loop), '127.0.0.1', 0)) as Server;
  return [server, accepted];
}

onEachLoop('test_ssl', (make) => {
    it('test_create_connection_ssl_1: openConnection with an insecure context and serverHostname \'\', A/B data each way', () =>
      runIn(make, async () => {
        const n = 1024 * 1024;
        const peer = await pythonServer('echo-ab', n);
        const [reader, writer] = await openConnection('127.0.0.1', peer.port, { ssl: insecureClient, serverHostname: '', sslHandshakeTimeout: 10 });
        writer.write(Buffer.alloc(n, 'A'));
        expect((await reader.readexactly(2)).toString()).toBe('OK');
        writer.write(Buffer.alloc(n, 'B'));
        expect((await reader.readexactly(4)).toString()).toBe('SPAM');
        writer.close();
        await writer.waitClosed().catch(() => {});
        expect(await peer.note()).toBe('done served');
      }));

    it('test_create_server_ssl_1: startServer with ssl, a Python client sends A/B data; writelines of mixed bytes', () =>
      runIn(make, async () => {
        const n = 1024 * 1024;
        const served: string[] = [];
        const server = await startServer(async (reader, writer) => {
          expect((await reader.readexactly(n)).equals(Buffer.alloc(n, 'A'))).toBe(true);
          writer.write(Buffer.from('OK'));
          expect((await reader.readexactly(n)).equals(Buffer.alloc(n, 'B'))).toBe(true);
          writer.writelines([Buffer.from('SP'), new Uint8Array([0x41]), Buffer.from('M')]);
          await writer.drain();
          writer.close();
          served.push('client');
        }, '127.0.0.1', 0, { ssl: serverSsl(), sslHandshakeTimeout: 10 });
        const clients = [0, 1, 2].map(() => pythonClient('ab', portOf(server), n));
        const notes = await Promise.all(clients.map((c) => peerNote(c)));
        expect(notes).toEqual(['done served', 'done served', 'done served']);
        expect(served.length).toBe(3);
        server.close();
        await server.waitClosed();
      }));

    it('test_create_connection_ssl_slow_handshake: a silent server; ConnectionAbortedError /SSL handshake.*is taking longer/', () =>
      runIn(make, async (_loop, reports) => {
        const peer = await pythonServer('silent');
        const error = await rejection(openConnection('127.0.0.1', peer.port, { ssl: insecureClient, serverHostname: '', sslHandshakeTimeout: 1 }));
        expect(error).toBeInstanceOf(ConnectionAbortedError);
        expect((error as Error).message).toMatch(/SSL handshake.*is taking longer/);
        expect(await peer.note()).toBe('done aborted');
        // The caller gets the error; the loop hears nothing (test_sslproto's messages == []).
        expect(reports).toEqual([]);
      }));

    it('test_create_connection_ssl_failed_certificate: a verifying client; SSLCertVerificationError (an SSLError)', () =>
      runIn(make, async (loop) => {
        loop.setExceptionHandler(() => {});
        const peer = await pythonServer('unwrap');
        // The default trust store does not hold the test CA.
        const error = await rejection(openConnection('127.0.0.1', peer.port, { ssl: {}, serverHostname: '', sslHandshakeTimeout: 10 }));
        expect(error).toBeInstanceOf(SSLCertVerificationError);
        expect(error).toBeInstanceOf(SSLError);
        expect((error as Error).message).toMatch(/certificate verify failed/i);
        await peer.child.stop();
      }));

    it('test_ssl_handshake_timeout: waitFor(createConnection(ssl), 0.5) times out; the server sees the abort; nothing reported', () =>
      runIn(make, async (loop, reports) => {
        const peer = await pythonServer('silent');
        const error = await rejection(
          waitFor(loop.createConnection(() => new Protocol(), '127.0.0.1', peer.port, { ssl: insecureClient, serverHostname: '', sslHandshakeTimeout: 10 }), 0.5),
        );
        expect(error).toBeInstanceOf(TimeoutError);
        expect(await peer.note()).toBe('done aborted');
        await sleep(0.05);
        expect(reports).toEqual([]);
      }));

    it('test_ssl_handshake_connection_lost: the server closes mid-handshake; ConnectionResetError, the app protocol never called', () =>
      runIn(make, async (loop) => {
        loop.setExceptionHandler(() => {});
        const peer = await pythonServer('drop-in-handshake');
        const app = new Recording(loop);
        const error = await rejection(loop.createConnection(() => app, '127.0.0.1', peer.port, { ssl: insecureClient, serverHostname: '' }));
        expect(error).toBeInstanceOf(ConnectionResetError);
        await sleep(0.05);
        expect(app.events).toEqual([]);
        expect(await peer.note()).toBe('done closed');
      }));

    it('test_start_tls_client_corrupted_ssl: plaintext garbage mid-session fails readline with SSLError', () =>
      runIn(make, async (loop) => {
        loop.setExceptionHandler(() => {});
        const peer = await pythonServer('corrupt');
        const [reader, writer] = await openConnection('127.0.0.1', peer.port, { ssl: insecureClient, serverHostname: '' });
        expect((await reader.readline()).toString()).toBe('A\n');
        writer.write(Buffer.from('B'));
        expect(await rejection(reader.readline())).toBeInstanceOf(SSLError);
        writer.close();
        await writer.waitClosed().catch((e: unknown) => expect(e).toBeInstanceOf(SSLError));
        expect(await peer.note()).toBe('done corrupted');
      }));

    it('test_start_tls_client_reg_proto_1: loop.startTls after plaintext; connectionMade once; the peer\'s unwrap is eofReceived', () =>
      runIn(make, async (loop) => {
        const peer = await pythonServer('starttls', PAYLOAD_SIZE);
        const hello = Buffer.alloc(PAYLOAD_SIZE, '1');
        const [tr, proto] = (await loop.createConnection(() => new Recording(loop), '127.0.0.1', peer.port)) as [Transport, Recording];
        tr.write(hello);
        const tls = await loop.startTls(tr, proto, insecureClient, { serverHostname: '' });
        expect(tls).not.toBe(tr);
        expect((await proto.bytes(1)).toString()).toBe('O');
        tls.write(hello);
        expect((await proto.bytes(2)).toString()).toBe('O2');
        tls.write(hello);
        await proto.eof;
        tls.close();
        expect(await proto.lost).toBe(null);
        expect(proto.events).toEqual(['made', 'data', 'eof', 'lost']);
        expect(await peer.note()).toBe('done unwrapped');
      }));

    it('test_start_tls_client_buf_proto_1: a BufferedProtocol over startTls, then setProtocol to a Protocol mid-session', () =>
      runIn(make, async (loop) => {
        const peer = await pythonServer('starttls', PAYLOAD_SIZE);
        const hello = Buffer.alloc(PAYLOAD_SIZE, '1');
        let made = 0;
        const first = loop.createFuture<string>();
        class First extends BufferedProtocol {
          readonly buf = new Uint8Array(1);
          override connectionMade(): void {
            made++;
          }
          override getBuffer(): Uint8Array {
            return this.buf;
          }
          override bufferUpdated(nbytes: number): void {
            expect(nbytes).toBe(1);
            first.setResult(Buffer.from(this.buf.subarray(0, nbytes)).toString());
          }
        }
        const [tr, proto] = (await loop.createConnection(() => new First(), '127.0.0.1', peer.port)) as [Transport, First];
        tr.write(hello);
        const tls = await loop.startTls(tr, proto, insecureClient, { serverHostname: '' });
        expect(await first).toBe('O');
        tls.write(hello);
        const second = new Recording(loop);
        tls.setProtocol(second);
        expect((await second.bytes(1)).toString()).toBe('2');
        tls.write(hello);
        await second.eof;
        tls.close();
        await second.lost;
        // startTls does not call connectionMade on the app protocol again, nor setProtocol.
        expect(made).toBe(1);
        expect(second.events).toEqual(['data', 'eof', 'lost']);
        expect(await peer.note()).toBe('done unwrapped');
      }));

    it('test_start_tls_slow_client_cancel: waitFor(startTls, 0.5) against a peer that never answers: TimeoutError', () =>
      runIn(make, async (loop, reports) => {
        const peer = await pythonServer('silent');
        const [tr, proto] = (await loop.createConnection(() => new Recording(loop), '127.0.0.1', peer.port)) as [Transport, Recording];
        tr.write(Buffer.alloc(PAYLOAD_SIZE, '1'));
        expect(await rejection(waitFor(loop.startTls(tr, proto, insecureClient, { serverHostname: '' }), 0.5))).toBeInstanceOf(TimeoutError);
        expect(await peer.note()).toBe('done aborted');
        expect(reports).toEqual([]);
      }));

    it('test_start_tls_slow_client_cancel through streams: waitFor(writer.startTls(...), 0.5) closes the connection', () =>
      runIn(make, async (_loop, reports) => {
        const peer = await pythonServer('silent');
        const [, writer] = await openConnection('127.0.0.1', peer.port);
        writer.write(Buffer.alloc(PAYLOAD_SIZE, '1'));
        expect(await rejection(waitFor(writer.startTls(insecureClient, { serverHostname: '' }), 0.5))).toBeInstanceOf(TimeoutError);
        expect(await peer.note()).toBe('done aborted');
        expect(reports).toEqual([]);
      }));

    it('test_start_tls_server_1: server-side loop.startTls; data after the upgrade, the client\'s unwrap as eofReceived', () =>
      runIn(make, async (loop) => {
        const hello = Buffer.alloc(PAYLOAD_SIZE, '1');
        const [server, accepted] = await serveOneRecording(loop);
        const client = pythonClient('starttls', portOf(server), PAYLOAD_SIZE);
        const proto = await accepted;
        proto.transport!.write(hello);
        const tls = await loop.startTls(proto.transport!, proto, serverSsl(), { serverSide: true, sslHandshakeTimeout: 30 });
        await proto.eof;
        expect(await proto.lost).toBe(null);
        expect(proto.received.equals(hello)).toBe(true);
        tls.close();
        expect(await peerNote(client)).toBe('done unwrapped');
        server.close();
        await server.waitClosed();
      }));

    it('test_sslproto test_start_tls_server_1: the client closes without close_notify after the answer; connectionLost(null)', () =>
      runIn(make, async (loop) => {
        const hello = Buffer.alloc(PAYLOAD_SIZE, '1');
        const [server, accepted] = await serveOneRecording(loop);
        const client = pythonClient('starttls-close', portOf(server), PAYLOAD_SIZE);
        const proto = await accepted;
        proto.transport!.write(hello);
        const tls = await loop.startTls(proto.transport!, proto, serverSsl(), { serverSide: true, sslHandshakeTimeout: 30 });
        await proto.bytes(hello.length);
        tls.write(Buffer.from('answer'));
        expect(await proto.lost).toBe(null);
        expect(proto.received.equals(hello)).toBe(true);
        tls.close();
        expect(await peerNote(client)).toBe('done answer');
        server.close();
        await server.waitClosed();
      }));

    it('test_shutdown_cleanly: the server\'s close_notify makes read() return b\'\'', () =>
      runIn(make, async () => {
        const n = 64 * 1024;
        const peer = await pythonServer('unwrap', n);
        const [reader, writer] = await openConnection('127.0.0.1', peer.port, { ssl: insecureClient, serverHostname: '' });
        writer.write(Buffer.alloc(n, 'A'));
        expect((await reader.readexactly(2)).toString()).toBe('OK');
        expect((await reader.read()).length).toBe(0);
        expect(reader.atEof()).toBe(true);
        writer.close();
        await writer.waitClosed();
        expect(await peer.note()).toBe('done unwrapped');
      }));

    it('test_flush_before_shutdown: 4 MiB written then close(): all of it reaches the peer before close_notify', () =>
      runIn(make, async () => {
        const chunk = 128 * 1024;
        const count = 32;
        const peer = await pythonServer('flush', chunk * count);
        const [reader, writer] = await openConnection('127.0.0.1', peer.port, { ssl: insecureClient, serverHostname: '' });
        writer.write(Buffer.from('ping'));
        expect((await reader.readexactly(4)).toString()).toBe('pong');
        for (let i = 0; i < count; i++) writer.write(Buffer.alloc(chunk, 'x'));
        writer.close();
        await writer.waitClosed().catch(() => {});
        expect(await peer.note()).toBe(`done received ${chunk * count}`);
      }));

    for (const variant of ['trailing-notify', 'trailing-fin']) {
      it(`test_remote_shutdown_receives_trailing_data (${variant === 'trailing-fin' ? 'a TCP FIN' : 'close_notify'}): read() gives b'' while writing is paused; every byte queued still reaches the peer`, () =>
        runIn(make, async () => {
          const chunk = 128 * 1024;
          const peer = await pythonServer(variant, chunk);
          const [reader, writer] = await openConnection('127.0.0.1', peer.port, { ssl: insecureClient, serverHostname: '' });
          const transport = writer.transport;
          writer.write(Buffer.from('ping'));
          expect((await reader.readexactly(4)).toString()).toBe('pong');
          let count = 0;
          while (transport.getWriteBufferSize() <= transport.getWriteBufferLimits()[1]) {
            writer.write(Buffer.alloc(chunk, 'x'));
            count++;
            await sleep(0);
          }
          peer.child.proc.stdin!.write(`filled ${count}\n`);
          expect((await reader.read()).length).toBe(0);
          peer.child.proc.stdin!.write('eof\n');
          expect(await peer.note()).toBe(`done received ${count * chunk} of ${count * chunk}`);
          writer.close();
          await writer.waitClosed().catch(() => {});
        }));
    }

    it('test_shutdown_timeout_handler_not_set: bytes and a FIN arriving while reading is paused are delivered on resume', () =>
      runIn(make, async (loop) => {
        const peer = await pythonServer('extra-bytes');
        let extra: Buffer | null = null;
        const lost = loop.createFuture<Error | null>();
        class Paused extends Protocol {
          transport!: Transport;
          override connectionMade(t: Transport): void {
            this.transport = t;
          }
          override dataReceived(data: Uint8Array): void {
            if (Buffer.from(data).toString() === 'hello') {
              this.transport.write(Buffer.from('world'));
              this.transport.pauseReading();
            } else extra = Buffer.concat([extra ?? Buffer.alloc(0), data]);
          }
          override connectionLost(exc: Error | null): void {
            lost.setResult(exc);
          }
        }
        const [tr] = (await loop.createConnection(() => new Paused(), '127.0.0.1', peer.port, { ssl: insecureClient, serverHostname: '' })) as [Transport, Paused];
        await sleep(0.3);
        expect(extra).toBe(null);
        tr.resumeReading();
        expect(await lost).toBe(null);
        tr.close();
        expect(extra!.toString()).toBe('extra bytes');
        expect(await peer.note()).toMatch(/^done tail/);
      }));

    it('test_connect_timeout_warning / test_handshake_timeout_handler_leak: waitFor(createConnection(ssl: true), 0.1) to a listener that never accepts', () =>
      runIn(make, async (loop, reports) => {
        const peer = await pythonServer('silent');
        const error = await rejection(waitFor(loop.createConnection(() => new Protocol(), '127.0.0.1', peer.port, { ssl: true, serverHostname: 'localhost' }), 0.1));
        expect(error).toBeInstanceOf(TimeoutError);
        await peer.note();
        expect(reports).toEqual([]);
      }));

    it('test_streams test_start_tls: writer.startTls against an asyncio server doing StreamWriter.start_tls', () =>
      runIn(make, async () => {
        const child = new Child(PYTHON, [path.join(HERE, 'ssl_peer.py'), 'asyncio-server', 'starttls', files.cert, files.key, '0']);
        const port = Number((await child.waitFor(/listening (\d+)/))[1]);
        const [reader, writer] = await openConnection('127.0.0.1', port);
        writer.write(Buffer.from('hello world 1!\n'));
        expect((await reader.readline()).toString()).toBe('hello world 1!\n');
        await writer.startTls({ ca: testCerts().ca }, { serverHostname: 'localhost' });
        writer.write(Buffer.from('hello world 2!\n'));
        expect((await reader.readline()).toString()).toBe('hello world 2!\n');
        // asyncio's close() sends close_notify: our reader sees EOF.
        expect((await reader.read()).length).toBe(0);
        writer.close();
        await writer.waitClosed();
        expect(await peerNote(child)).toBe('done served');
      }));

    it('test_streams test_start_tls: an asyncio client doing StreamWriter.start_tls against startServer\'s writer.startTls', () =>
      runIn(make, async () => {
        const served: string[] = [];
        const server = (await startServer(async (reader, writer) => {
          writer.write(await reader.readline());
          await writer.drain();
          await writer.startTls(serverSsl());
          writer.write(await reader.readline());
          await writer.drain();
          writer.close();
          await writer.waitClosed();
          served.push('served');
        }, '127.0.0.1', 0)) as unknown as Server;
        const client = new Child(PYTHON, [path.join(HERE, 'ssl_peer.py'), 'asyncio-client', 'starttls', String(portOf(server)), files.ca, '0']);
        expect(await peerNote(client)).toBe('done eof 0');
        expect(served).toEqual(['served']);
        server.close();
        await server.waitClosed();
      }));

    it.skip('test_create_connection_memory_leak / test_shutdown_timeout_handler_leak: weakref and gc.collect checks are Python-only', () => {});
    it.skip('test_ssl_connect_accepted_socket: loop.connect_accepted_socket is not part of API.md', () => {});

    it('test_create_server_ssl_over_ssl: startTls over a TLS transport (TLS in TLS) from a server protocol', () =>
      runIn(make, async (loop) => {
        const inner = loop.createFuture<Transport>();
        const server = (await loop.createServer(() => {
          const p = new Recording(loop);
          const made = p.connectionMade.bind(p);
          p.connectionMade = (t: Transport) => {
            made(t);
            t.pauseReading();
            loop.startTls(t, p, serverSsl(), { serverSide: true }).then(
              (tls) => inner.setResult(tls),
              (e: unknown) => inner.setException(e as Error),
            );
          };
          return p;
        }, '127.0.0.1', 0, { ssl: serverSsl() })) as Server;
        const [outerTr, outerProto] = (await loop.createConnection(() => new Recording(loop), '127.0.0.1', portOf(server), { ssl: insecureClient, serverHostname: '' })) as [Transport, Recording];
        const innerTr = await loop.startTls(outerTr, outerProto, insecureClient, { serverHostname: '' });
        const serverInner = await inner;
        innerTr.write(Buffer.from('inner hello'));
        const serverProto = serverInner.getProtocol() as Recording;
        expect((await serverProto.bytes(11)).toString()).toBe('inner hello');
        serverInner.write(Buffer.from('SPAM'));
        expect((await outerProto.bytes(4)).toString()).toBe('SPAM');
        innerTr.close();
        await outerProto.lost;
        server.close();
        await server.waitClosed();
      }));
  });
});
