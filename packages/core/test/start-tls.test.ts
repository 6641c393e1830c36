/** loop.startTls and writer.startTls with the fake engine: the upgrade traps of asyncio, and the argument checks. */
import { describe, expect, it } from 'vitest';
import {
  Protocol,
  RuntimeError,
  SSLTransport,
  StreamReader,
  StreamReaderProtocol,
  TestLoop,
  memoryTransportPair,
  sleep,
  type StreamWriter,
  type Transport,
} from '@loopkit/core';
import { App, failure, pattern, until, withTLSLoop } from './tls-helpers.js';

/** A plain protocol that reads `plainBytes`, hands what came behind them to startTls, and starts paused. */
class Gate extends Protocol {
  transport: Transport | null = null;
  plain: Buffer[] = [];
  private excess: Buffer | null = null;
  constructor(
    private readonly plainBytes: number,
    private readonly onPlainDone: () => void,
  ) {
    super();
  }
  override connectionMade(t: Transport): void {
    this.transport = t;
    t.pauseReading();
  }
  override dataReceived(data: Uint8Array): void {
    const have = Buffer.concat(this.plain).length;
    const want = this.plainBytes - have;
    if (want <= 0) {
      this.excess = Buffer.concat([this.excess ?? Buffer.alloc(0), data]);
      return;
    }
    this.plain.push(Buffer.from(data.subarray(0, want)));
    if (data.length > want) this.excess = Buffer.from(data.subarray(want));
    if (data.length >= want) this.onPlainDone();
  }
  _takeReadAhead(): Uint8Array | null {
    const rest = this.excess;
    this.excess = null;
    return rest;
  }
}

describe('startTls', () => {
  it('bytes behind the STARTTLS line, already in the StreamReader, go to the handshake (gh-142352)', () =>
    withTLSLoop(async (loop, reports) => {
      let serverWriter: StreamWriter | null = null;
      let heldBeforeUpgrade = 0;
      const served = loop.createFuture<string>();
      const serverProtocol = new StreamReaderProtocol(
        new StreamReader({ loop }),
        async (reader, writer) => {
          serverWriter = writer;
          expect((await reader.readline()).toString()).toBe('STARTTLS\n');
          // Let the client's first handshake record land in the reader's buffer too.
          await until(() => /^<StreamReader [1-9]/.test(reader.toString()), 'hello buffered');
          heldBeforeUpgrade = Number(/^<StreamReader (\d+)/.exec(reader.toString())![1]);
          await writer.startTls({});
          expect(writer.transport).toBeInstanceOf(SSLTransport);
          const got = await reader.readexactly(4);
          writer.write(Buffer.from('pong'));
          await writer.drain();
          served.setResult(got.toString());
        },
        loop,
      );
      const capp = new App(loop);
      const [rawClient] = memoryTransportPair(loop, capp, serverProtocol);
      await capp.made;
      rawClient.write(Buffer.from('STARTTLS\n'));
      const tls = await loop.startTls(rawClient, capp, {}, { serverHostname: 'example.test' });
      expect(tls).toBeInstanceOf(SSLTransport);
      expect(capp.transport).toBe(rawClient); // the app keeps what connectionMade gave it; startTls returns the new one
      tls.write(Buffer.from('ping'));
      expect(await served).toBe('ping');
      await until(() => capp.received.toString() === 'pong', 'pong');
      expect(heldBeforeUpgrade).toBeGreaterThan(0);
      expect(serverWriter!.getExtraInfo('ssl_object')).not.toBe(null);
      expect(reports).toEqual([]);
    }));

  it('works on a transport whose writing is paused, and the app protocol gets its resumeWriting (gh-109051)', () =>
    withTLSLoop(async (loop, reports) => {
      const plainBytes = 100_000;
      const sapp = new App(loop);
      let serverTls: Promise<Transport> | null = null;
      // eslint-disable-next-line prefer-const
      let rawServer: Transport;
      const gate = new Gate(plainBytes, () => {
        serverTls = loop.startTls(rawServer, sapp, {}, { serverSide: true });
      });
      const capp = new App(loop);
      const pair = memoryTransportPair(loop, capp, gate, { capacity: 10_000 });
      const rawClient = pair[0];
      rawServer = pair[1];
      await capp.made;
      rawClient.write(pattern(plainBytes));
      expect(capp.events).toEqual(['made', 'pause']);
      const clientTls = loop.startTls(rawClient, capp, {}, { serverHostname: 'example.test' });
      await sleep(0);
      gate.transport!.resumeReading();
      const tls = await clientTls;
      await until(() => serverTls !== null, 'server upgrade');
      const stls = await serverTls!;
      expect(Buffer.concat(gate.plain).equals(pattern(plainBytes))).toBe(true);
      expect(capp.events).toEqual(['made', 'pause', 'resume']);
      tls.write(Buffer.from('over tls'));
      await until(() => sapp.received.toString() === 'over tls', 'data over tls');
      expect(stls.getExtraInfo('sslcontext')).not.toBe(null);
      expect(reports).toEqual([]);
    }));

  it('checks its arguments: unknown keys, timeouts, serverHostname, ssl', () =>
    withTLSLoop(async (loop) => {
      const capp = new App(loop);
      const [raw] = memoryTransportPair(loop, capp, new App(loop));
      await capp.made;
      const bad = async (ssl: unknown, options: object, cls: unknown, pattern: RegExp): Promise<void> => {
        const error = await failure(loop.startTls(raw, capp, ssl as never, options as never));
        expect(error).toBeInstanceOf(cls);
        expect((error as Error).message).toMatch(pattern);
      };
      await bad({}, { sever_hostname: 'x' }, TypeError, /unexpected option 'sever_hostname'/);
      await bad({}, { serverHostname: 'x', sslHandshakeTimeout: 0 }, RangeError, /sslHandshakeTimeout must be a positive number/);
      await bad({}, { serverHostname: 'x', sslShutdownTimeout: -1 }, RangeError, /sslShutdownTimeout/);
      await bad({}, { serverHostname: 'x', sslHandshakeTimeout: '5' }, TypeError, /sslHandshakeTimeout must be a number/);
      await bad({}, {}, TypeError, /serverHostname is required/);
      await bad({}, { serverSide: true, serverHostname: 5 }, TypeError, /serverHostname must be a string, got 5/);
      await bad(true, { serverSide: true }, TypeError, /ssl: true makes a client context/);
      await bad(false, {}, TypeError, /ssl must be/);
      await bad('yes', { serverHostname: 'x' }, TypeError, /ssl must be true, false, null/);
      // Nothing of the above touched the transport.
      expect(raw.isReading()).toBe(true);
      expect(raw.getProtocol()).toBe(capp);
    }));

  it('compiles an options object once per side (the context is cached per object)', () =>
    withTLSLoop(async (loop) => {
      const options = { ALPNProtocols: ['x'] };
      for (let i = 0; i < 3; i++) {
        const capp = new App(loop);
        const sapp = new App(loop);
        const [a, b] = memoryTransportPair(loop, capp, sapp);
        await capp.made;
        await sapp.made;
        await Promise.all([
          loop.startTls(a, capp, options, { serverHostname: 'h' }),
          loop.startTls(b, sapp, options, { serverSide: true }),
        ]);
      }
      expect(loop.fake.contextsMade).toBe(2);
    }));

  it('with no TLS engine, ssl is a clear error, never a plaintext connection', async () => {
    class NoTLSLoop extends TestLoop {
      override _tlsProvider(): null {
        return null;
      }
    }
    const loop = new NoTLSLoop();
    try {
      await loop.runUntilComplete(async () => {
        const capp = new App(loop);
        const [raw] = memoryTransportPair(loop, capp, new App(loop));
        await capp.made;
        const error = await failure(loop.startTls(raw, capp, true, { serverHostname: 'h' }));
        expect(error).toBeInstanceOf(RuntimeError);
        expect((error as Error).message).toMatch(/no TLS engine is available/);
      });
    } finally {
      loop.close();
    }
  });
});
