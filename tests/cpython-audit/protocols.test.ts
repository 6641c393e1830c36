/**
 * Scenarios of CPython's test_asyncio/test_buffered_proto.py, test_protocols.py and
 * test_transports.py (3.13): BufferedProtocol over TCP, the protocol classes' do-nothing
 * defaults, the abstract transports' NotImplementedError, write buffer limits.
 */
import { expect, it, describe } from 'vitest';
import {
  BaseProtocol,
  BufferedProtocol,
  DatagramProtocol,
  DatagramTransport,
  NotImplementedError,
  Protocol,
  SubprocessProtocol,
  SubprocessTransport,
  Transport,
  sleep,
  startServer,
  waitFor,
  type Server,
} from 'loopkit';
import { onEachLoop, portOf, runIn } from './loops.js';

/** test_buffered_proto's ReceiveStuffProto: a fresh 100-byte buffer per read, the received bytes handed to `onData`. */
class ReceiveStuff extends BufferedProtocol {
  buffer = new Uint8Array(0);
  transport: Transport | null = null;
  sizeHints: number[] = [];
  constructor(
    private readonly onData: (chunk: Buffer) => void,
    private readonly lost: { resolve(): void; reject(e: unknown): void },
  ) {
    super();
  }
  override connectionMade(transport: Transport): void {
    this.transport = transport;
  }
  override getBuffer(sizeHint: number): Uint8Array {
    this.sizeHints.push(sizeHint);
    this.buffer = new Uint8Array(100);
    return this.buffer;
  }
  override bufferUpdated(nbytes: number): void {
    this.onData(Buffer.from(this.buffer.subarray(0, nbytes)));
  }
  override connectionLost(exc: unknown): void {
    if (exc === null) this.lost.resolve();
    else this.lost.reject(exc);
  }
}

onEachLoop('test_buffered_proto', (make) => {
  it('test_buffered_proto_create_connection: 9 KiB arrives through 100-byte buffers; the reply ends the connection', () =>
    runIn(make, async (loop) => {
      const noise = Buffer.from('12345678+'.repeat(1024));
      const server = await startServer(async (reader, writer) => {
        writer.write(noise);
        await reader.readexactly(1);
        writer.close();
        await writer.waitClosed();
      }, '127.0.0.1', 0);
      const client = async () => {
        let data = Buffer.alloc(0);
        let protocol: ReceiveStuff | null = null;
        const lost = new Promise<void>((resolve, reject) => {
          const onData = (chunk: Buffer) => {
            expect(chunk.length).toBeLessThanOrEqual(100);
            data = Buffer.concat([data, chunk]);
            if (data.equals(noise)) protocol!.transport!.write(Buffer.from('1'));
          };
          loop.createConnection(() => (protocol = new ReceiveStuff(onData, { resolve, reject })), '127.0.0.1', portOf(server)).catch(reject);
        });
        await lost;
        return data;
      };
      expect((await waitFor(client, 5)).equals(noise)).toBe(true);
      server.close();
      await (server as Server).waitClosed();
    }));

  it('a BufferedProtocol whose getBuffer throws: reported, the connection closed, the loop runs on', () =>
    runIn(make, async (loop, reports) => {
      const server = await startServer(async (_reader, writer) => {
        writer.write(Buffer.from('x'));
        await writer.drain();
      }, '127.0.0.1', 0);
      let lostWith: unknown = undefined;
      class Failing extends BufferedProtocol {
        override getBuffer(): Uint8Array {
          throw new RangeError('no buffer');
        }
        override connectionLost(exc: unknown): void {
          lostWith = exc;
        }
      }
      await loop.createConnection(() => new Failing(), '127.0.0.1', portOf(server));
      for (let i = 0; i < 400 && lostWith === undefined; i++) await sleep(0.005);
      expect(lostWith).toBeInstanceOf(RangeError);
      expect(reports.some((r) => r.exception instanceof RangeError)).toBe(true);
      server.close();
    }));

  it('a getBuffer returning an empty buffer is a fatal error (asyncio: "get_buffer() returned an empty buffer")', () =>
    runIn(make, async (loop, reports) => {
      const server = await startServer(async (_reader, writer) => {
        writer.write(Buffer.from('x'));
        await writer.drain();
      }, '127.0.0.1', 0);
      let lostWith: unknown = undefined;
      class Empty extends BufferedProtocol {
        override getBuffer(): Uint8Array {
          return new Uint8Array(0);
        }
        override connectionLost(exc: unknown): void {
          lostWith = exc;
        }
      }
      await loop.createConnection(() => new Empty(), '127.0.0.1', portOf(server));
      for (let i = 0; i < 400 && lostWith === undefined; i++) await sleep(0.005);
      expect(lostWith).toBeInstanceOf(Error);
      expect(String(lostWith)).toMatch(/empty buffer/);
      expect(reports.length).toBe(1);
      server.close();
    }));
});

describe('test_protocols', () => {
  const transport = new Transport();
  it('test_base_protocol: every callback does nothing and returns undefined', () => {
    const p = new BaseProtocol();
    expect(p.connectionMade(transport)).toBeUndefined();
    expect(p.connectionLost(null)).toBeUndefined();
    expect(p.pauseWriting()).toBeUndefined();
    expect(p.resumeWriting()).toBeUndefined();
  });

  it('test_protocol', () => {
    const p = new Protocol();
    expect(p.connectionMade(transport)).toBeUndefined();
    expect(p.connectionLost(null)).toBeUndefined();
    expect(p.dataReceived(new Uint8Array(1))).toBeUndefined();
    expect(p.eofReceived()).toBeUndefined();
    expect(p.pauseWriting()).toBeUndefined();
    expect(p.resumeWriting()).toBeUndefined();
  });

  it('test_buffered_protocol: getBuffer has no default (API: it throws NotImplementedError; asyncio returns None)', () => {
    const p = new BufferedProtocol();
    expect(p.connectionMade(transport)).toBeUndefined();
    expect(p.connectionLost(null)).toBeUndefined();
    expect(() => p.getBuffer(100)).toThrow(NotImplementedError);
    expect(p.bufferUpdated(150)).toBeUndefined();
    expect(p.pauseWriting()).toBeUndefined();
    expect(p.resumeWriting()).toBeUndefined();
  });

  it('test_datagram_protocol', () => {
    const p = new DatagramProtocol();
    expect(p.connectionMade(new DatagramTransport())).toBeUndefined();
    expect(p.connectionLost(null)).toBeUndefined();
    expect(p.errorReceived(new Error('x'))).toBeUndefined();
    expect(p.datagramReceived(new Uint8Array(1), null)).toBeUndefined();
  });

  it('test_subprocess_protocol', () => {
    const p = new SubprocessProtocol();
    expect(p.connectionMade(new SubprocessTransport())).toBeUndefined();
    expect(p.connectionLost(null)).toBeUndefined();
    expect(p.pipeDataReceived(1, new Uint8Array(1))).toBeUndefined();
    expect(p.pipeConnectionLost(1, null)).toBeUndefined();
    expect(p.processExited()).toBeUndefined();
  });
});

describe('test_transports', () => {
  it('test_ctor_extra_is_none / test_get_extra_info: unknown names give null or the default', () => {
    expect(new Transport().getExtraInfo('anything')).toBeNull();
    const transport = new Transport({ extra: 'info' });
    expect(transport.getExtraInfo('extra')).toBe('info');
    expect(transport.getExtraInfo('unknown')).toBeNull();
    const fallback = {};
    expect(transport.getExtraInfo('unknown', fallback)).toBe(fallback);
  });

  it('test_writelines: one write with the chunks joined', () => {
    const writes: Buffer[] = [];
    class MyTransport extends Transport {
      override write(data: Uint8Array): void {
        writes.push(Buffer.from(data));
      }
    }
    new MyTransport().writelines([Buffer.from('line1'), new Uint8Array(Buffer.from('line2')), new DataView(new TextEncoder().encode('line3').buffer)]);
    expect(writes.map(String)).toEqual(['line1line2line3']);
  });

  it('test_not_implemented: the abstract Transport throws NotImplementedError', () => {
    const t = new Transport();
    for (const call of [
      () => t.setWriteBufferLimits(),
      () => t.getWriteBufferSize(),
      () => t.write(Buffer.from('data')),
      () => t.writeEof(),
      () => t.canWriteEof(),
      () => t.pauseReading(),
      () => t.resumeReading(),
      () => t.isReading(),
      () => t.close(),
      () => t.abort(),
    ]) {
      expect(call).toThrow(NotImplementedError);
    }
  });

  it('test_dgram_not_implemented / test_subprocess_transport_not_implemented', () => {
    const d = new DatagramTransport();
    expect(() => d.sendto(Buffer.from('data'))).toThrow(NotImplementedError);
    expect(() => d.abort()).toThrow(NotImplementedError);
    const s = new SubprocessTransport();
    for (const call of [() => s.getPid(), () => s.getReturncode(), () => s.getPipeTransport(1), () => s.sendSignal(1), () => s.terminate(), () => s.kill()]) {
      expect(call).toThrow(NotImplementedError);
    }
  });
});

onEachLoop('test_transports (flow control on a real transport)', (make) => {
  it('test_flowcontrol_mixin_set_write_limits: high < low refused; limits below the buffered size pause at once', () =>
    runIn(make, async (loop) => {
      const events: string[] = [];
      class NoReading extends Protocol {
        override connectionMade(transport: Transport): void {
          transport.pauseReading();
        }
      }
      const server = (await loop.createServer(() => new NoReading(), '127.0.0.1', 0)) as Server;
      class Writer extends Protocol {
        override pauseWriting(): void {
          events.push('pause');
        }
        override resumeWriting(): void {
          events.push('resume');
        }
      }
      const [tr] = (await loop.createConnection(() => new Writer(), '127.0.0.1', portOf(server))) as [Transport, Writer];
      expect(() => tr.setWriteBufferLimits({ high: 0, low: 1 })).toThrow(/high.*must be >= low/);
      expect(() => tr.setWriteBufferLimits({ high: -1 })).toThrow(RangeError);
      expect(() => tr.setWriteBufferLimits({ high: 'x' as unknown as number })).toThrow(TypeError);
      expect(tr.getWriteBufferLimits()).toEqual([16 * 1024, 64 * 1024]);
      tr.setWriteBufferLimits({ high: 1024, low: 128 });
      expect(tr.getWriteBufferLimits()).toEqual([128, 1024]);
      tr.setWriteBufferLimits({ high: 1000 });
      expect(tr.getWriteBufferLimits()).toEqual([250, 1000]);
      tr.setWriteBufferLimits({ low: 100 });
      expect(tr.getWriteBufferLimits()).toEqual([100, 400]);
      tr.setWriteBufferLimits();
      expect(tr.getWriteBufferLimits()).toEqual([16 * 1024, 64 * 1024]);
      // The peer reads nothing; fill until the transport buffers (without crossing the high mark).
      tr.setWriteBufferLimits({ high: 64 * 1024 * 1024 });
      for (let i = 0; i < 200 && tr.getWriteBufferSize() === 0; i++) {
        tr.write(Buffer.alloc(256 * 1024));
        await sleep(0.001);
      }
      expect(tr.getWriteBufferSize()).toBeGreaterThan(0);
      expect(events).toEqual([]);
      tr.setWriteBufferLimits({ high: 0 });
      expect(tr.getWriteBufferLimits()).toEqual([0, 0]);
      expect(events).toEqual(['pause']);
      tr.setWriteBufferLimits({ high: 64 * 1024 * 1024 });
      expect(events).toEqual(['pause']); // resumeWriting waits for the buffer to drain, as asyncio
      tr.abort();
      server.close();
    }));
});
