/**
 * Scenarios of CPython 3.13's test_selector_events.py and test_proactor_events.py that the
 * public API can see: a stream or datagram transport's behaviour after writeEof, close, abort
 * and loss, its write-buffer limits, and the warning count for writes to a lost connection.
 * CPython drives mocked sockets; here real TCP and UDP sockets on both loops.
 */
import * as net from 'node:net';
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  ConnectionRefusedError,
  ConnectionResetError,
  DatagramProtocol,
  Protocol,
  logger,
  sleep,
  type AbstractEventLoop,
  type BaseDatagramTransport,
  type Server,
  type Transport,
} from 'loopkit';
import { onEachLoop, portOf, runIn } from './loops.js';

class Recorder extends Protocol {
  transport: Transport | null = null;
  readonly data: Buffer[] = [];
  readonly events: string[] = [];
  readonly lostWith: unknown[] = [];
  override connectionMade(transport: Transport): void {
    this.transport = transport;
    this.events.push('made');
  }
  override dataReceived(data: Uint8Array): void {
    this.data.push(Buffer.from(data));
  }
  override eofReceived(): boolean | void {
    this.events.push('eof');
  }
  override connectionLost(exc: unknown): void {
    this.events.push('lost');
    this.lostWith.push(exc);
  }
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (cond()) return;
    await sleep(0.005);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The warnings loopkit's logger gives during a test. */
let warnings: string[] = [];
const originalWarning = logger.warning;
beforeEach(() => {
  warnings = [];
  logger.warning = (message: string) => void warnings.push(message);
});
afterEach(() => {
  logger.warning = originalWarning;
});

/** A loopkit server recording its connections, and a client connected to it. */
async function connected(loop: AbstractEventLoop): Promise<{ server: Server; served: Recorder[]; tr: Transport; client: Recorder; done: () => Promise<void> }> {
  const served: Recorder[] = [];
  const server = (await loop.createServer(() => {
    const p = new Recorder();
    served.push(p);
    return p;
  }, '127.0.0.1', 0)) as Server;
  const [tr, client] = (await loop.createConnection(() => new Recorder(), '127.0.0.1', portOf(server))) as [Transport, Recorder];
  await until(() => served.length === 1, 'accept');
  const done = async (): Promise<void> => {
    tr.close();
    server.close();
    await server.waitClosed();
  };
  return { server, served, tr, client, done };
}

onEachLoop('test_selector_events / test_proactor_events (stream transports)', (make) => {
  it('test_write_eof / test_write_after_eof: write() after writeEof() raises RuntimeError, an empty one too; writeEof() twice is harmless', () =>
    runIn(make, async (loop) => {
      const { served, tr, done } = await connected(loop);
      expect(tr.canWriteEof()).toBe(true);
      tr.write(Buffer.from('before'));
      tr.writeEof();
      tr.writeEof();
      expect(tr.isClosing()).toBe(false);
      expect(() => tr.write(Buffer.from('after'))).toThrow(/write\(\).*after.*write_?eof/i);
      expect(() => tr.write(Buffer.alloc(0))).toThrow(/write_?eof/i);
      expect(() => tr.writelines([Buffer.from('x')])).toThrow(/write_?eof/i);
      await until(() => served[0]!.events.includes('eof'), 'eof at the server');
      expect(Buffer.concat(served[0]!.data).toString()).toBe('before');
      await done();
    }));

  it('test_write_closing / test_transport_close_remove_writer: writes after close() are dropped; the 5th one on warns "socket.send() raised exception."', () =>
    runIn(make, async (loop) => {
      const { served, tr, client, done } = await connected(loop);
      tr.write(Buffer.from('kept'));
      tr.close();
      expect(tr.isClosing()).toBe(true);
      tr.write(Buffer.alloc(0));
      for (let i = 1; i <= 4; i++) tr.write(Buffer.from('dropped'));
      expect(warnings).toEqual([]);
      tr.write(Buffer.from('dropped'));
      expect(warnings).toEqual(['socket.send() raised exception.']);
      tr.writelines([Buffer.from('dropped')]);
      expect(warnings).toHaveLength(2);
      await until(() => client.events.includes('lost') && served[0]!.events.includes('lost'), 'both sides lost');
      expect(Buffer.concat(served[0]!.data).toString()).toBe('kept');
      expect(client.events).toEqual(['made', 'lost']);
      expect(client.lostWith).toEqual([null]);
      tr.close();
      tr.abort();
      await sleep(0.01);
      expect(client.events).toEqual(['made', 'lost']);
      await done();
    }));

  it('test_abort / test_force_close: abort() with data buffered loses it, connectionLost(null) once, isReading() false after', () =>
    runIn(make, async (loop) => {
      const { served, tr, client, done } = await connected(loop);
      served[0]!.transport!.pauseReading();
      while (tr.getWriteBufferSize() === 0) tr.write(Buffer.alloc(1 << 20));
      tr.abort();
      expect(tr.isClosing()).toBe(true);
      expect(tr.isReading()).toBe(false);
      expect(tr.getWriteBufferSize()).toBe(0);
      tr.abort();
      tr.close();
      await until(() => client.events.includes('lost'), 'lost');
      await sleep(0.01);
      expect(client.events).toEqual(['made', 'lost']);
      expect(client.lostWith).toEqual([null]);
      // pause/resume of a closed transport do nothing (3.13: no error)
      tr.pauseReading();
      tr.resumeReading();
      expect(tr.isReading()).toBe(false);
      served[0]!.transport!.resumeReading();
      await done();
    }));

  it('test_read_ready_err / test_fatal_error: a reset connection reaches connectionLost(ConnectionResetError) once; writes after it are dropped, the 5th warns', () =>
    runIn(make, async (loop) => {
      const server = net.createServer((socket) => {
        socket.on('error', () => {});
        socket.once('data', () => socket.resetAndDestroy());
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as net.AddressInfo).port;
      try {
        const [tr, client] = (await loop.createConnection(() => new Recorder(), '127.0.0.1', port)) as [Transport, Recorder];
        tr.write(Buffer.from('reset me'));
        await until(() => client.events.includes('lost'), 'lost');
        expect(client.events).toEqual(['made', 'lost']);
        expect(client.lostWith).toHaveLength(1);
        expect(client.lostWith[0]).toBeInstanceOf(ConnectionResetError);
        expect((client.lostWith[0] as { code?: string }).code).toBe('ECONNRESET');
        expect(tr.isClosing()).toBe(true);
        for (let i = 1; i <= 4; i++) tr.write(Buffer.from('x'));
        expect(warnings).toEqual([]);
        tr.write(Buffer.from('x'));
        expect(warnings).toEqual(['socket.send() raised exception.']);
        tr.close();
        await sleep(0.01);
        expect(client.events).toEqual(['made', 'lost']);
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    }));

  it('test_write_eof_buffer: writeEof() with data buffered sends it all, then the EOF', () =>
    runIn(make, async (loop) => {
      const { served, tr, done } = await connected(loop);
      served[0]!.transport!.pauseReading();
      const chunk = Buffer.alloc(1 << 20, 7);
      let written = 0;
      // Well past what the kernel's buffers (autotuned) can still take while the peer does not read.
      while (tr.getWriteBufferSize() < 16 * 1024 * 1024) {
        tr.write(chunk);
        written += chunk.length;
      }
      tr.writeEof();
      expect(served[0]!.events).not.toContain('eof');
      served[0]!.transport!.resumeReading();
      await until(() => served[0]!.events.includes('eof'), 'eof after the data');
      expect(Buffer.concat(served[0]!.data).length).toBe(written);
      expect(tr.getWriteBufferSize()).toBe(0);
      await done();
    }));

  it('test_pause_reading / test_resume_reading: nothing is delivered while paused; what came meanwhile arrives on resume', () =>
    runIn(make, async (loop) => {
      const { served, tr, client, done } = await connected(loop);
      tr.pauseReading();
      expect(tr.isReading()).toBe(false);
      served[0]!.transport!.write(Buffer.from('while paused'));
      await sleep(0.05);
      expect(client.data).toEqual([]);
      tr.resumeReading();
      expect(tr.isReading()).toBe(true);
      await until(() => client.data.length > 0, 'data after resume');
      expect(Buffer.concat(client.data).toString()).toBe('while paused');
      await done();
    }));

  it('test_pause_reading_connection_made (proactor): pauseReading() inside connectionMade holds the first data until resumeReading()', () =>
    runIn(make, async (loop) => {
      class PausedAtStart extends Recorder {
        override connectionMade(transport: Transport): void {
          super.connectionMade(transport);
          transport.pauseReading();
        }
      }
      const peers: Recorder[] = [];
      const server = (await loop.createServer(() => {
        const p = new Recorder();
        peers.push(p);
        return p;
      }, '127.0.0.1', 0)) as Server;
      const [tr, client] = (await loop.createConnection(() => new PausedAtStart(), '127.0.0.1', portOf(server))) as [Transport, PausedAtStart];
      await until(() => peers.length === 1, 'accept');
      peers[0]!.transport!.write(Buffer.from('first'));
      peers[0]!.transport!.close();
      await sleep(0.05);
      expect(client.data).toEqual([]);
      expect(client.events).toEqual(['made']);
      tr.resumeReading();
      await until(() => client.events.includes('lost'), 'lost after resume');
      expect(Buffer.concat(client.data).toString()).toBe('first');
      expect(client.events).toEqual(['made', 'eof', 'lost']);
      server.close();
      await server.waitClosed();
    }));

  it('test_close_buffer / test_force_close: close() with data buffered flushes it, then connectionLost(null) once', () =>
    runIn(make, async (loop) => {
      const { served, tr, client, done } = await connected(loop);
      served[0]!.transport!.pauseReading();
      const chunk = Buffer.alloc(1 << 20, 3);
      let written = 0;
      // Well past what the kernel's buffers (autotuned) can still take while the peer does not read.
      while (tr.getWriteBufferSize() < 16 * 1024 * 1024) {
        tr.write(chunk);
        written += chunk.length;
      }
      tr.close();
      expect(tr.isClosing()).toBe(true);
      await sleep(0.02);
      expect(client.events).toEqual(['made']);
      served[0]!.transport!.resumeReading();
      await until(() => client.events.includes('lost') && served[0]!.events.includes('eof'), 'flushed and lost');
      expect(client.lostWith).toEqual([null]);
      expect(Buffer.concat(served[0]!.data).length).toBe(written);
      await done();
    }));

  it('test_set_write_buffer_limits / get_write_buffer_limits: defaults, one mark derives the other, bad marks refused naming them', () =>
    runIn(make, async (loop) => {
      const { tr, done } = await connected(loop);
      expect(tr.getWriteBufferLimits()).toEqual([16 * 1024, 64 * 1024]);
      tr.setWriteBufferLimits({ high: 1023 });
      expect(tr.getWriteBufferLimits()).toEqual([255, 1023]);
      tr.setWriteBufferLimits({ low: 100 });
      expect(tr.getWriteBufferLimits()).toEqual([100, 400]);
      tr.setWriteBufferLimits({ high: 0 });
      expect(tr.getWriteBufferLimits()).toEqual([0, 0]);
      tr.setWriteBufferLimits();
      expect(tr.getWriteBufferLimits()).toEqual([16 * 1024, 64 * 1024]);
      expect(() => tr.setWriteBufferLimits({ high: 1, low: 2 })).toThrow('high (1) must be >= low (2) must be >= 0');
      expect(() => tr.setWriteBufferLimits({ low: -1 })).toThrow(/low/);
      expect(() => tr.setWriteBufferLimits({ high: -1 })).toThrow(/high/);
      expect(() => tr.setWriteBufferLimits({ high: 'big' as never })).toThrow(TypeError);
      expect(() => tr.setWriteBufferLimits({ hihg: 10 } as never)).toThrow(/hihg/);
      expect(tr.getWriteBufferLimits()).toEqual([16 * 1024, 64 * 1024]);
      await done();
    }));

  it('test_write_buffer_full / pause_writing then resume_writing: once per crossing, resumeWriting at the low mark', () =>
    runIn(make, async (loop) => {
      const calls: Array<[string, number]> = [];
      let tr: Transport | null = null;
      class Writer extends Recorder {
        override pauseWriting(): void {
          calls.push(['pause', tr!.getWriteBufferSize()]);
        }
        override resumeWriting(): void {
          calls.push(['resume', tr!.getWriteBufferSize()]);
        }
      }
      const served: Recorder[] = [];
      const server = (await loop.createServer(() => {
        const p = new Recorder();
        served.push(p);
        return p;
      }, '127.0.0.1', 0)) as Server;
      [tr] = (await loop.createConnection(() => new Writer(), '127.0.0.1', portOf(server))) as [Transport, Writer];
      await until(() => served.length === 1, 'accept');
      served[0]!.transport!.pauseReading();
      tr.setWriteBufferLimits({ high: 4096, low: 1024 });
      while (calls.length === 0) tr.write(Buffer.alloc(64 * 1024));
      expect(calls[0]![0]).toBe('pause');
      expect(calls[0]![1]).toBeGreaterThan(4096);
      tr.write(Buffer.alloc(64 * 1024));
      expect(calls).toHaveLength(1);
      served[0]!.transport!.resumeReading();
      await until(() => calls.length === 2, 'resumeWriting');
      expect(calls[1]![0]).toBe('resume');
      expect(calls[1]![1]).toBeLessThanOrEqual(1024);
      await sleep(0.02);
      expect(calls).toHaveLength(2);
      tr.close();
      server.close();
      await server.waitClosed();
    }));
});

class Udp extends DatagramProtocol {
  transport: BaseDatagramTransport | null = null;
  readonly received: Buffer[] = [];
  readonly lostWith: unknown[] = [];
  override connectionMade(t: BaseDatagramTransport): void {
    this.transport = t;
  }
  override datagramReceived(data: Uint8Array): void {
    this.received.push(Buffer.from(data));
  }
  override connectionLost(exc: unknown): void {
    this.lostWith.push(exc);
  }
}

onEachLoop('test_selector_events / test_proactor_events (datagram transports)', (make) => {
  it('test_sendto_str / test_sendto_connected_addr: bad data or another address refused; the peer\'s own address is accepted', () =>
    runIn(make, async (loop) => {
      const [peer, peerProto] = (await loop.createDatagramEndpoint(() => new Udp(), { localAddr: ['127.0.0.1', 0] })) as [BaseDatagramTransport, Udp];
      const port = (peer.getExtraInfo('sockname') as { port: number }).port;
      const [tr] = (await loop.createDatagramEndpoint(() => new Udp(), { remoteAddr: ['127.0.0.1', port] })) as [BaseDatagramTransport, Udp];
      expect(() => tr.sendto('text' as never)).toThrow(TypeError);
      expect(() => tr.sendto(Buffer.from('x'), { address: '127.0.0.1', port: port + 1, family: 'IPv4' } as never)).toThrow(/Invalid address/);
      tr.sendto(Buffer.from('own'), { address: '127.0.0.1', port, family: 'IPv4' } as never);
      await until(() => peerProto.received.length === 1, 'datagram');
      expect(peerProto.received[0]!.toString()).toBe('own');
      tr.close();
      peer.close();
    }));

  it('test_sendto_empty: an empty datagram is sent and received (3.13)', () =>
    runIn(make, async (loop) => {
      const [peer, peerProto] = (await loop.createDatagramEndpoint(() => new Udp(), { localAddr: ['127.0.0.1', 0] })) as [BaseDatagramTransport, Udp];
      const port = (peer.getExtraInfo('sockname') as { port: number }).port;
      const [tr] = (await loop.createDatagramEndpoint(() => new Udp(), { remoteAddr: ['127.0.0.1', port] })) as [BaseDatagramTransport, Udp];
      tr.sendto(Buffer.alloc(0));
      tr.sendto(Buffer.from('after'));
      await until(() => peerProto.received.length === 2, 'two datagrams');
      expect(peerProto.received.map((b) => b.toString())).toEqual(['', 'after']);
      expect(tr.getWriteBufferSize()).toBe(0);
      tr.close();
      peer.close();
    }));

  it('test_sendto_closing / test_sendto_conn_lost: a connected endpoint drops sendto() after close(), no error; the 5th warns', () =>
    runIn(make, async (loop) => {
      const [peer, peerProto] = (await loop.createDatagramEndpoint(() => new Udp(), { localAddr: ['127.0.0.1', 0] })) as [BaseDatagramTransport, Udp];
      const port = (peer.getExtraInfo('sockname') as { port: number }).port;
      const [tr, proto] = (await loop.createDatagramEndpoint(() => new Udp(), { remoteAddr: ['127.0.0.1', port] })) as [BaseDatagramTransport, Udp];
      tr.close();
      expect(tr.isClosing()).toBe(true);
      for (let i = 1; i <= 4; i++) tr.sendto(Buffer.from('dropped'));
      expect(warnings).toEqual([]);
      tr.sendto(Buffer.from('dropped'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/^socket\.send(to)?\(\) raised exception\.$/);
      await until(() => proto.lostWith.length === 1, 'connectionLost');
      expect(proto.lostWith).toEqual([null]);
      tr.sendto(Buffer.from('dropped'));
      await sleep(0.02);
      expect(peerProto.received).toEqual([]);
      expect(proto.lostWith).toEqual([null]);
      peer.close();
    }));

  it('test_datagram set_write_buffer_limits / get_write_buffer_limits and abort', () =>
    runIn(make, async (loop) => {
      const [tr, proto] = (await loop.createDatagramEndpoint(() => new Udp(), { localAddr: ['127.0.0.1', 0] })) as [BaseDatagramTransport, Udp];
      expect(tr.getWriteBufferLimits()).toEqual([16 * 1024, 64 * 1024]);
      tr.setWriteBufferLimits({ high: 400 });
      expect(tr.getWriteBufferLimits()).toEqual([100, 400]);
      expect(() => tr.setWriteBufferLimits({ high: 1, low: 2 })).toThrow('high (1) must be >= low (2) must be >= 0');
      tr.abort();
      expect(tr.isClosing()).toBe(true);
      await until(() => proto.lostWith.length === 1, 'connectionLost');
      tr.close();
      await sleep(0.01);
      expect(proto.lostWith).toEqual([null]);
    }));

  it('test_read_ready_err / test_sendto_error_received_connected: an unreachable peer reaches errorReceived(ConnectionRefusedError); the endpoint stays open', () =>
    runIn(make, async (loop) => {
      const [gone] = (await loop.createDatagramEndpoint(() => new Udp(), { localAddr: ['127.0.0.1', 0] })) as [BaseDatagramTransport, Udp];
      const port = (gone.getExtraInfo('sockname') as { port: number }).port;
      gone.close();
      await sleep(0.01);
      const errors: unknown[] = [];
      class Noting extends Udp {
        override errorReceived(exc: unknown): void {
          errors.push(exc);
        }
      }
      const [tr, proto] = (await loop.createDatagramEndpoint(() => new Noting(), { remoteAddr: ['127.0.0.1', port] })) as [BaseDatagramTransport, Noting];
      for (let i = 0; i < 50 && errors.length === 0; i++) {
        tr.sendto(Buffer.from('anyone?'));
        await sleep(0.01);
      }
      expect(errors.length).toBeGreaterThan(0);
      expect(errors[0]).toBeInstanceOf(ConnectionRefusedError);
      expect(tr.isClosing()).toBe(false);
      expect(proto.lostWith).toEqual([]);
      tr.close();
      await until(() => proto.lostWith.length === 1, 'connectionLost');
      expect(proto.lostWith).toEqual([null]);
    }));
});
