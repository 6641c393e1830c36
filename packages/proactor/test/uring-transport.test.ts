/**
 * UringEventLoop's stream transport (UringStreamTransport) on each way it can receive: one
 * multishot pooled receive (kernel 6.0+), a pooled receive posted per chunk (5.19+), a
 * receive into the transport's own buffer (no pool), and direct reads (Node's loop polls the
 * socket, then the recv syscall). The proactor's switches force each path, as a kernel
 * without the feature (or traffic of that size) would.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import { BufferedProtocol, ConnectionResetError, DatagramProtocol, Protocol, receiveSlab, sleep, type AbstractEventLoop, type DatagramTransport, type Server, type Transport } from '@loopkit/core';
import { UringEventLoop, UringProactor } from '@loopkit/proactor';
import { PollSet, READABLE, SHUT_WR, socket as uvSocket, socketpair, Uring, type Socket } from '@loopkit/uv';
import { countBufferGetter } from './buffer-getter.js';
import { echoServerFromTask, runOn } from './run-loop.js';

type Mode = 'multishot' | 'pooled' | 'own buffer' | 'direct';
const MODES: Mode[] = ['multishot', 'pooled', 'own buffer', 'direct'];

function proactorFor(mode: Mode): UringProactor {
  const proactor = new UringProactor();
  proactor._multishot = mode === 'multishot';
  proactor._pooled = mode !== 'own buffer';
  if (mode === 'direct') proactor._directReadFrom = 0;
  else {
    proactor._startDirect = false;
    proactor._poolFromReads = 1; // small direct reads go back to the pool even with one socket
  }
  return proactor;
}

/** Keeps every chunk it is given (views included: they must stay intact) and how the stream ended. */
class Keeper extends Protocol {
  transport: Transport | null = null;
  chunks: Uint8Array[] = [];
  eof = false;
  lost: unknown = undefined;
  onData: ((keeper: Keeper) => void) | null = null;
  override connectionMade(transport: Transport): void {
    this.transport = transport;
  }
  override dataReceived(data: Uint8Array): void {
    this.chunks.push(data);
    this.onData?.(this);
  }
  override eofReceived(): boolean {
    this.eof = true;
    return false;
  }
  override connectionLost(exc: unknown): void {
    this.lost = exc;
  }
  get received(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/**
 * Counts calls of the ring's receive methods and harvests, and of the PollSet registrations
 * direct reads make (`add`, `remove`), while `body` runs.
 */
async function countingRing<T>(body: (counts: Record<string, number>) => Promise<T>): Promise<T> {
  const counts: Record<string, number> = { recvMulti: 0, recvPooled: 0, recv: 0, poll: 0, pollMulti: 0, cancel: 0, harvest: 0, add: 0, remove: 0 };
  const restore: Array<() => void> = [];
  const count = (proto: Record<string, (...args: unknown[]) => unknown>, names: string[]): void => {
    for (const name of names) {
      const original = proto[name]!;
      proto[name] = function (this: unknown, ...args: unknown[]) {
        counts[name]!++;
        return original.apply(this, args);
      };
      restore.push(() => (proto[name] = original));
    }
  };
  count(Uring.prototype as unknown as Record<string, (...args: unknown[]) => unknown>, ['recvMulti', 'recvPooled', 'recv', 'poll', 'pollMulti', 'cancel', 'harvest']);
  count(PollSet.prototype as unknown as Record<string, (...args: unknown[]) => unknown>, ['add', 'remove']);
  try {
    return await body(counts);
  } finally {
    for (const undo of restore) undo();
  }
}

function withLoop<T>(mode: Mode, body: (loop: UringEventLoop) => Promise<T>): Promise<T> {
  return runOn(new UringEventLoop(proactorFor(mode)), body);
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000 && !condition(); i++) await sleep(0.001);
  if (!condition()) throw new Error(`timed out waiting for ${what}`);
}

/**
 * A Keeper transport on each pair's first end; `send(i, message)` has pair i's peer send a
 * message and notes it as expected; `allReceived()`: every keeper got all that was sent to it.
 */
async function keepersOf(loop: AbstractEventLoop, pairs: Array<[Socket, Socket]>) {
  const keepers: Keeper[] = [];
  for (const [a] of pairs) {
    const [, protocol] = await loop.createConnection(() => new Keeper(), null, null, { sock: a });
    keepers.push(protocol as Keeper);
  }
  const expected = pairs.map(() => '');
  const send = (i: number, message: string): void => {
    expected[i] += message;
    pairs[i]![1].send(Buffer.from(message));
  };
  const allReceived = (): boolean => keepers.every((k, i) => k.received.toString() === expected[i]);
  return { keepers, expected, send, allReceived };
}

/** A pattern that shows a byte out of place or overwritten. */
function pattern(length: number, seed: number): Buffer {
  const buf = Buffer.alloc(length);
  for (let i = 0; i < length; i++) buf[i] = (i * 31 + seed) & 0xff;
  return buf;
}

/** A server on `loop` and a raw peer connected to it: the Keeper of the accepted connection, the peer, the server. */
async function connectedKeeper(loop: UringEventLoop): Promise<[Keeper, Socket, Server]> {
  const accepted: Keeper[] = [];
  const server = await loop.createServer(
    () => {
      const keeper = new Keeper();
      accepted.push(keeper);
      return keeper;
    },
    '127.0.0.1',
    0,
  );
  const port = (server.sockets[0]!.getsockname() as { port: number }).port;
  const peer = uvSocket('inet', 'stream');
  await loop.sockConnect(peer, ['127.0.0.1', port]);
  await until(() => accepted.length === 1 && accepted[0]!.transport !== null, 'the connection');
  return [accepted[0]!, peer, server];
}

/** Writes all of `data` to a raw non-blocking socket, letting the loop run while it is full. */
async function sendAll(sock: Socket, data: Buffer): Promise<void> {
  for (let off = 0; off < data.length; ) {
    const r = sock.trySend(data, off, data.length - off);
    if (r > 0) off += r;
    else await sleep(0.001);
  }
}

/** The Keeper of a connection on socket `a` (receiving with `mode`) once the raw peer `b` sent all of `data` and closed. */
async function keeperAfter(mode: Mode, a: Socket, b: Socket, data: Buffer): Promise<Keeper> {
  return await withLoop(mode, async (loop) => {
    const [, protocol] = await loop.createConnection(() => new Keeper(), null, null, { sock: a });
    const keeper = protocol as Keeper;
    await sendAll(b, data);
    b.close();
    await until(() => keeper.lost !== undefined, 'connectionLost');
    return keeper;
  });
}

/** Thrown by a protocol callback to leave the loop's turn (see interruptibleLoop). */
class Interrupt extends Error {}

/**
 * As asyncio lets KeyboardInterrupt and SystemExit out of a callback: `loop`'s exception
 * handling lets an Interrupt through, so one thrown from a protocol callback leaves
 * runForever; every other report is kept in `reports`.
 */
function interruptibleLoop(loop: UringEventLoop): { loop: UringEventLoop; reports: unknown[] } {
  const reports: unknown[] = [];
  loop.setExceptionHandler((_l, context) => reports.push(context));
  const handle = loop.callExceptionHandler.bind(loop);
  loop.callExceptionHandler = (context) => {
    if (context.exception instanceof Interrupt) throw context.exception;
    handle(context);
  };
  return { loop, reports };
}

describe.skipIf(UringProactor.problem() !== null)('UringStreamTransport', () => {
  describe.each(MODES)('receiving with %s', (mode) => {
    it('delivers 4 MiB in order, every kept chunk intact, then EOF', async () => {
      const [a, b] = socketpair();
      const data = pattern(4 * 1024 * 1024, 7);
      const keeper = await keeperAfter(mode, a, b, data);
      expect(keeper.received.equals(data)).toBe(true);
      expect(keeper.eof).toBe(true);
      expect(keeper.lost).toBeNull();
    });

    it('pauseReading stops delivery until resumeReading, and no byte is lost or reordered', async () => {
      const [a, b] = socketpair();
      const data = pattern(1024 * 1024, 3);
      await countingRing(async (counts) => {
        const keeper = await withLoop(mode, async (loop) => {
          const [, protocol] = await loop.createConnection(() => new Keeper(), null, null, { sock: a });
          const keeper = protocol as Keeper;
          let pausedAt = -1;
          keeper.onData = (k) => {
            if (pausedAt < 0) {
              k.transport!.pauseReading();
              pausedAt = k.chunks.length;
            }
          };
          const posts = (): number => counts.recvMulti! + counts.recvPooled! + counts.recv! + counts.poll! + counts.pollMulti! + counts.add!;
          const sending = sendAll(b, data);
          await until(() => pausedAt >= 0, 'the first chunk');
          const postedAtPause = posts();
          await sleep(0.02);
          // Paused: nothing more reached the protocol, and no receive was posted.
          expect(keeper.chunks.length).toBe(pausedAt);
          expect(posts()).toBe(postedAtPause);
          keeper.onData = null;
          keeper.transport!.resumeReading();
          await sending;
          b.close();
          await until(() => keeper.lost !== undefined, 'connectionLost');
          return keeper;
        });
        expect(keeper.received.equals(data)).toBe(true);
        // A multishot receive stays in the ring and Node's loop polls a direct reader's socket
        // (what the large transfer switches to): pausing or the EOF withdrew them.
        if (mode === 'multishot' || mode === 'direct') expect(counts.cancel! + counts.remove!).toBeGreaterThanOrEqual(1);
      });
    });

    it('a paused reader stops taking data: the peer\'s writes block, the loop holds at most 1 MiB, and on resume every byte arrives in order', async () => {
      const data = pattern(16 * 1024 * 1024, 23);
      await withLoop(mode, async (loop) => {
        const [keeper, peer, server] = await connectedKeeper(loop);
        let pausedAt = -1;
        keeper.onData = (k) => {
          if (pausedAt < 0) {
            k.transport!.pauseReading();
            pausedAt = k.chunks.length;
          }
        };
        // The peer writes as fast as the kernel takes it, letting the loop run whenever a
        // write would block, until its writes stayed blocked for 50 loop turns in a row.
        let written = 0;
        for (let blocked = 0; written < data.length && blocked < 50; ) {
          const r = peer.trySend(data, written, data.length - written);
          if (r > 0) {
            written += r;
            blocked = 0;
          } else {
            if (pausedAt >= 0) blocked++;
            await sleep(0.001);
          }
        }
        const transport = keeper.transport as unknown as { _held: Uint8Array[] | null; received: Uint8Array | null; receivedMore: Uint8Array[] | null };
        const notDelivered = [...(transport._held ?? []), ...(transport.received === null ? [] : [transport.received]), ...(transport.receivedMore ?? [])];
        const held = notDelivered.reduce((sum, chunk) => sum + chunk.byteLength, 0);
        expect(written).toBeLessThan(data.length); // the peer was throttled: the bytes wait in the kernel
        expect(pausedAt).toBeGreaterThan(0);
        expect(keeper.chunks.length).toBe(pausedAt); // no dataReceived after pauseReading
        expect(held).toBeLessThanOrEqual(1024 * 1024);
        keeper.onData = null;
        keeper.transport!.resumeReading();
        await sendAll(peer, data.subarray(written));
        peer.close();
        await until(() => keeper.lost !== undefined, 'connectionLost');
        expect(keeper.received.equals(data)).toBe(true);
        server.close();
        await server.waitClosed();
      });
    }, 30000);

    it('a BufferedProtocol gets every byte in its own small buffers, in order', async () => {
      const [a, b] = socketpair();
      const data = pattern(1024 * 1024 + 77, 5);
      const filled: Buffer[] = [];
      class Filler extends BufferedProtocol {
        private readonly buf = Buffer.alloc(1000);
        lost: unknown = undefined;
        override getBuffer(): Uint8Array {
          return this.buf;
        }
        override bufferUpdated(nbytes: number): void {
          filled.push(Buffer.from(this.buf.subarray(0, nbytes)));
        }
        override eofReceived(): boolean {
          return false;
        }
        override connectionLost(exc: unknown): void {
          this.lost = exc;
        }
      }
      await withLoop(mode, async (loop) => {
        const [, protocol] = await loop.createConnection(() => new Filler(), null, null, { sock: a });
        await sendAll(b, data);
        b.close();
        await until(() => (protocol as Filler).lost !== undefined, 'connectionLost');
        expect((protocol as Filler).lost).toBeNull();
      });
      expect(Buffer.concat(filled).equals(data)).toBe(true);
    });

    it('close() with a receive armed: the ring lets go of the socket, so the peer sees EOF', async () => {
      const [a, b] = socketpair();
      await withLoop(mode, async (loop) => {
        const [transport, protocol] = await loop.createConnection(() => new Keeper(), null, null, { sock: a });
        await sleep(0.005); // the receive is in the kernel
        transport.close();
        const buf = Buffer.alloc(16);
        await until(() => b.tryRecvInto(buf, 0, 16) === 0, 'EOF at the peer');
        expect((protocol as Keeper).lost).toBeNull();
      });
      b.close();
    });

    it('close() with megabytes buffered: every byte reaches a slow peer, then connectionLost(null)', async () => {
      const [a, b] = socketpair();
      const data = pattern(4 * 1024 * 1024, 17);
      const atPeer: Buffer[] = [];
      await withLoop(mode, async (loop) => {
        const [transport, protocol] = await loop.createConnection(() => new Keeper(), null, null, { sock: a });
        transport.write(data);
        transport.close();
        // The peer reads in small bites with pauses: the buffer drains over many write polls.
        const buf = Buffer.alloc(48 * 1024);
        for (let got = 0; got < data.length; ) {
          const r = b.tryRecvInto(buf, 0, buf.length);
          if (r > 0) {
            atPeer.push(Buffer.from(buf.subarray(0, r)));
            got += r;
          } else await sleep(0.001);
        }
        await until(() => (protocol as Keeper).lost !== undefined, 'connectionLost');
        expect((protocol as Keeper).lost).toBeNull();
      });
      b.close();
      expect(Buffer.concat(atPeer).equals(data)).toBe(true);
    });

    it('a reset peer ends the transport with connectionLost(ConnectionResetError)', async () => {
      await withLoop(mode, async (loop) => {
        const [keeper, client, server] = await connectedKeeper(loop);
        keeper.transport!.write(Buffer.alloc(1000, 1));
        await sleep(0.005);
        // Closed with bytes unread: the kernel answers with a reset.
        client.close();
        await until(() => keeper.lost !== undefined, 'connectionLost');
        expect(keeper.lost).toBeInstanceOf(ConnectionResetError);
        server.close();
        await server.waitClosed();
      });
    });

    it('Server.close() from dataReceived (its accept cancelled, so the ring harvested at once) while the peer\'s next bytes and FIN arrive: the bytes, then EOF', async () => {
      await withLoop(mode, async (loop) => {
        const [keeper, peer, server] = await connectedKeeper(loop);
        const events: string[] = [];
        keeper.onData = (k) => {
          events.push(Buffer.from(k.chunks[k.chunks.length - 1]!).toString());
          if (events.length > 1) return;
          peer.send(Buffer.from('second'));
          peer.shutdown(SHUT_WR);
          server.close();
        };
        peer.send(Buffer.from('first'));
        await until(() => keeper.lost !== undefined, 'connectionLost');
        // Before: the multishot receive's EOF, harvested with 'second' during the close, came first and 'second' was dropped.
        expect(events.join('')).toBe('firstsecond');
        expect(keeper.eof).toBe(true);
        expect(keeper.lost).toBe(null);
        peer.close();
        await server.waitClosed();
      });
    });
  });

  it('a large transfer switches to direct reads and small messages switch back, every byte in order', async () => {
    const [a, b] = socketpair();
    const big = pattern(512 * 1024, 9);
    await countingRing(async (counts) => {
      const keeper = await withLoop('multishot', async (loop) => {
        const [, protocol] = await loop.createConnection(() => new Keeper(), null, null, { sock: a });
        const keeper = protocol as Keeper;
        await sendAll(b, big);
        await until(() => keeper.received.length === big.length, 'the large transfer');
        // The multishot receive is cancelled, and Node's loop polls the socket once its last completion came.
        await until(() => counts.add! >= 1, 'the readability poll');
        const multishotBefore = counts.recvMulti!;
        // Small messages one at a time, each its own read: after a few the pool takes over again.
        for (let i = 0; i < 20; i++) {
          b.send(Buffer.from(`small ${i};`));
          await until(() => keeper.received.toString('latin1').endsWith(`small ${i};`), `small message ${i}`);
        }
        expect(counts.recvMulti).toBeGreaterThan(multishotBefore);
        b.close();
        await until(() => keeper.lost !== undefined, 'connectionLost');
        return keeper;
      });
      const smalls = Array.from({ length: 20 }, (_, i) => `small ${i};`).join('');
      expect(keeper.received.equals(Buffer.concat([big, Buffer.from(smalls)]))).toBe(true);
      expect(keeper.eof).toBe(true);
    });
  });

  it('a new transport reads directly from the start, and one connection\'s small messages stay direct: no ring receive at all, every byte in order', async () => {
    const [a, b] = socketpair();
    const big = pattern(512 * 1024, 13);
    await countingRing(async (counts) => {
      const keeper = await runOn(new UringEventLoop(new UringProactor()), async (loop) => {
        const [, protocol] = await loop.createConnection(() => new Keeper(), null, null, { sock: a });
        const keeper = protocol as Keeper;
        await sendAll(b, big);
        await until(() => keeper.received.length === big.length, 'the large transfer');
        // Never copied into the pool first: Node's loop polled the socket from the first read.
        expect(counts.add).toBe(1);
        // One socket readable per select: a ring completion's wake-up would cost more than the recv.
        for (let i = 0; i < 20; i++) {
          b.send(Buffer.from(`small ${i};`));
          await until(() => keeper.received.toString('latin1').endsWith(`small ${i};`), `small message ${i}`);
        }
        expect(counts.recvMulti! + counts.recvPooled! + counts.recv!).toBe(0);
        b.close();
        await until(() => keeper.lost !== undefined, 'connectionLost');
        return keeper;
      });
      const smalls = Array.from({ length: 20 }, (_, i) => `small ${i};`).join('');
      expect(keeper.received.equals(Buffer.concat([big, Buffer.from(smalls)]))).toBe(true);
      expect(keeper.eof).toBe(true);
    });
  });

  it('small messages on many connections readable at once go to the pool after a few rounds, every byte in order', async () => {
    const pairs = Array.from({ length: 16 }, () => socketpair());
    await countingRing(async (counts) => {
      await runOn(new UringEventLoop(new UringProactor()), async (loop) => {
        const { keepers, send, allReceived } = await keepersOf(loop, pairs);
        for (let round = 0; round < 12; round++) {
          // All sends before the loop turns: one select finds every socket readable.
          pairs.forEach((_, i) => send(i, `round ${round} socket ${i};`));
          await until(allReceived, `round ${round}`);
        }
        expect(counts.recvMulti).toBeGreaterThanOrEqual(pairs.length);
        for (const [, b] of pairs) b.close();
        await until(() => keepers.every((k) => k.lost !== undefined), 'connectionLost');
      });
    });
  });

  it('a connection left alone on the pool goes back to direct reads: no ring receive once it is, every byte in order', async () => {
    const pairs = Array.from({ length: 12 }, () => socketpair());
    await countingRing(async (counts) => {
      await runOn(new UringEventLoop(new UringProactor()), async (loop) => {
        const { keepers, expected, send, allReceived } = await keepersOf(loop, pairs);
        for (let round = 0; round < 12; round++) {
          pairs.forEach((_, i) => send(i, `round ${round} socket ${i};`));
          await until(allReceived, `round ${round}`);
        }
        expect(counts.recvMulti).toBeGreaterThanOrEqual(pairs.length);
        // All but the first close: it alone has news, one message per wake-up.
        for (const [, b] of pairs.slice(1)) b.close();
        await until(() => keepers.slice(1).every((k) => k.lost !== undefined), 'the others\' connectionLost');
        const [lone] = keepers;
        for (let round = 0; round < 12; round++) {
          send(0, `alone ${round};`);
          await until(() => lone!.received.toString() === expected[0], `alone round ${round}`);
        }
        // Back to Node's poll of its socket within the lone rounds, and no receive posted since.
        expect(counts.add).toBe(pairs.length + 1);
        const receives = counts.recvMulti;
        for (let round = 12; round < 30; round++) {
          send(0, `alone ${round};`);
          await until(() => lone!.received.toString() === expected[0], `alone round ${round}`);
        }
        expect(counts.recvMulti).toBe(receives);
        pairs[0]![1].close();
        await until(() => lone!.lost !== undefined, 'connectionLost');
        expect(lone!.received.toString()).toBe(expected[0]);
      });
    });
  });

  it('connections that start late follow the rest to the pool, the last one too (ring completions count with the sockets reported readable)', async () => {
    const pairs = Array.from({ length: 12 }, () => socketpair());
    await countingRing(async (counts) => {
      await runOn(new UringEventLoop(new UringProactor()), async (loop) => {
        const { keepers, send, allReceived } = await keepersOf(loop, pairs);
        // Socket i sends from round i on: when the last one has read its eight small rounds,
        // every other busy socket is on the pool, and Node's loop reports it alone.
        for (let round = 0; round < pairs.length + 16; round++) {
          pairs.forEach((_, i) => {
            if (i <= round) send(i, `round ${round} socket ${i};`);
          });
          await until(allReceived, `round ${round}`);
        }
        // Each transport stopped Node's poll of its socket when it went to the pool.
        expect(counts.remove).toBe(pairs.length);
        for (const [, b] of pairs) b.close();
        await until(() => keepers.every((k) => k.lost !== undefined), 'connectionLost');
      });
    });
  });

  it('a BufferedProtocol that pauses and resumes from the loop, under a peer writing uneven slices: 4 MiB each way byte-exact across many read switches', async () => {
    // As asyncio's SSLProtocol under a StreamReader: reading pauses part way through a
    // pooled chunk (core holds the rest) and resumes from a later callback, while the peer
    // writes slices of every size with pauses, so reads switch between the pool and direct
    // reads again and again. A direct read must not pass the bytes core still holds.
    const [a, b] = socketpair();
    const toUs = pattern(4 * 1024 * 1024, 11);
    const fromUs = pattern(4 * 1024 * 1024, 13);
    let seed = 12345;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const received: Buffer[] = [];
    let receivedBytes = 0;
    class PausingReader extends BufferedProtocol {
      private readonly buf = Buffer.alloc(16 * 1024);
      transport: Transport | null = null;
      lost: unknown = undefined;
      private unread = 0;
      private paused = false;
      constructor(private readonly loop: UringEventLoop) {
        super();
      }
      override connectionMade(transport: Transport): void {
        this.transport = transport;
      }
      override getBuffer(): Uint8Array {
        return this.buf.subarray(0, 1 + random(this.buf.length));
      }
      override bufferUpdated(nbytes: number): void {
        received.push(Buffer.from(this.buf.subarray(0, nbytes)));
        receivedBytes += nbytes;
        this.unread += nbytes;
        if (this.unread >= 48 * 1024 && !this.paused) {
          this.paused = true;
          this.transport!.pauseReading();
          const resume = (): void => {
            this.unread = 0;
            this.paused = false;
            this.transport!.resumeReading();
          };
          if (random(2) === 0) this.loop.callSoon(resume);
          else this.loop.callLater(random(3) / 1000, resume);
        }
      }
      override eofReceived(): boolean {
        return true; // we close once our own 4 MiB went out
      }
      override connectionLost(exc: unknown): void {
        this.lost = exc;
      }
    }
    const fromUsAtPeer: Buffer[] = [];
    let fromUsBytes = 0;
    await withLoop('multishot', async (loop) => {
      const [transport, protocol] = await loop.createConnection(() => new PausingReader(loop), null, null, { sock: a });
      const reader = protocol as PausingReader;
      const peerWrites = (async () => {
        for (let off = 0; off < toUs.length; ) {
          // Large slices (direct reads) and runs of small ones with pauses (back to the pool).
          const small = random(3) === 0;
          const end = Math.min(toUs.length, off + (small ? 1 + random(2000) : 1 + random(96 * 1024)));
          await sendAll(b, toUs.subarray(off, end));
          off = end;
          if (small || random(4) === 0) await sleep(random(2) / 1000);
        }
        b.shutdown(SHUT_WR);
      })();
      const peerReads = (async () => {
        const buf = Buffer.alloc(64 * 1024);
        while (fromUsBytes < fromUs.length) {
          const r = b.tryRecvInto(buf, 0, buf.length);
          if (r > 0) {
            fromUsAtPeer.push(Buffer.from(buf.subarray(0, r)));
            fromUsBytes += r;
          } else await sleep(0.001);
        }
      })();
      for (let off = 0; off < fromUs.length; ) {
        const end = Math.min(fromUs.length, off + 1 + random(80 * 1024));
        transport.write(fromUs.subarray(off, end));
        off = end;
        if (transport.getWriteBufferSize() > 256 * 1024) await until(() => transport.getWriteBufferSize() === 0, 'our writes to drain');
      }
      await Promise.all([peerWrites, peerReads]);
      await until(() => receivedBytes >= toUs.length, '4 MiB from the peer');
      transport.close();
      await until(() => reader.lost !== undefined, 'connectionLost');
      expect(reader.lost).toBeNull();
    });
    b.close();
    expect(Buffer.concat(fromUsAtPeer).equals(fromUs)).toBe(true);
    const got = Buffer.concat(received);
    expect(got.length).toBe(toUs.length);
    expect(got.equals(toUs)).toBe(true);
  }, 60000);

  it.each(['pooled', 'direct'] as const)('the ring (or Node\'s poll of a socket read directly) turns the loop in runForever\'s async context: a protocol never sees the store of the task that made its server (%s reads)', async (reads) => {
    const store = new AsyncLocalStorage<string>();
    const seen: Array<string | undefined> = [];
    const loop = new UringEventLoop(proactorFor(reads === 'direct' ? 'direct' : 'multishot'));
    await store.run('loop', () =>
      runOn(loop, async () => {
        // The server is made (and the ring used first) inside a task whose store differs.
        const server = await echoServerFromTask(loop, store, seen);
        const port = (server.sockets[0]!.getsockname() as { port: number }).port;
        const client = uvSocket('inet', 'stream');
        await loop.sockConnect(client, ['127.0.0.1', port]);
        for (let i = 0; i < 20; i++) {
          await loop.sockSendall(client, Buffer.from('ping'));
          await loop.sockRecv(client, 16);
        }
        client.close();
      }),
    );
    expect(seen).toHaveLength(20);
    expect(new Set(seen)).toEqual(new Set(['loop']));
  });

  it('a wake-up of the ring alone does not select the inner NetProactor, and what the NetProactor completes (node:dgram) still arrives', async () => {
    const proactor = new UringProactor();
    const inner = (proactor as unknown as { net: { select(timeout: number | null): unknown[] } }).net;
    const innerSelect = inner.select.bind(inner);
    let innerSelects = 0;
    inner.select = (timeout) => {
      innerSelects++;
      return innerSelect(timeout);
    };
    const [a, b] = socketpair();
    const datagrams: string[] = [];
    await runOn(new UringEventLoop(proactor), async (loop) => {
      const [, protocol] = await loop.createConnection(() => new Keeper(), null, null, { sock: a });
      const keeper = protocol as Keeper;
      await sleep(0.005);
      const selectsBefore = innerSelects;
      for (let i = 1; i <= 100; i++) {
        b.send(Buffer.from('x'));
        await until(() => keeper.received.length === i, `ring message ${i}`);
      }
      expect(innerSelects - selectsBefore).toBeLessThan(10); // one a round trip before
      class Recorder extends DatagramProtocol {
        override datagramReceived(data: Uint8Array): void {
          datagrams.push(Buffer.from(data).toString());
        }
      }
      const [receiver] = await loop.createDatagramEndpoint(() => new Recorder(), { localAddr: ['127.0.0.1', 0] });
      const [sender] = await loop.createDatagramEndpoint(() => new DatagramProtocol(), { remoteAddr: ['127.0.0.1', (receiver.getExtraInfo('sockname') as { port: number }).port] });
      for (let i = 0; i < 5; i++) {
        (sender as DatagramTransport).sendto(Buffer.from(`d${i}`));
        b.send(Buffer.from('y')); // ring traffic in between
        await until(() => datagrams.length === i + 1, `datagram ${i}`);
      }
      sender.close();
      receiver.close();
      b.close();
      await until(() => keeper.lost !== undefined, 'connectionLost');
    });
    expect(datagrams).toEqual(['d0', 'd1', 'd2', 'd3', 'd4']);
  });

  it('direct reads: Node\'s loop polls the socket, so 200 round trips post no ring operation and harvest next to nothing (with the server\'s accept waiting in the ring), and every byte arrives in order', async () => {
    await countingRing(async (counts) => {
      await withLoop('direct', async (loop) => {
        const keepers: Keeper[] = [];
        const server = await loop.createServer(() => {
          const keeper = new Keeper();
          keeper.onData = (k) => k.transport!.write(k.chunks[k.chunks.length - 1]!);
          keepers.push(keeper);
          return keeper;
        }, '127.0.0.1', 0);
        const port = (server.sockets[0]!.getsockname() as { port: number }).port;
        // A node:net client sends each message from its own callbacks once the last came back,
        // so the loop wakes only for its socket (a client awaited on the loop, by a timer or a
        // poll, would wake it in between, and a select() after an idle spell harvests).
        const messages = Array.from({ length: 200 }, (_, i) => pattern(1000 + i, i));
        const replies: Buffer[] = [];
        const done = loop.createFuture<void>();
        const before = { ...counts };
        const client = net.connect(port, '127.0.0.1', () => client.write(messages[0]!));
        let next = 1;
        let replied = 0;
        let sent = messages[0]!.length;
        client.on('data', (data: Buffer) => {
          replies.push(data);
          replied += data.length;
          if (replied < sent) return;
          if (next < messages.length) {
            sent += messages[next]!.length;
            client.write(messages[next++]!);
          } else loop.callSoonThreadsafe(() => done.setResult(undefined));
        });
        await done;
        expect(Buffer.concat(replies).equals(Buffer.concat(messages))).toBe(true);
        const ringCalls = ['recvMulti', 'recvPooled', 'recv', 'poll', 'pollMulti', 'harvest'].reduce((sum, name) => sum + counts[name]! - before[name]!, 0);
        // The accept's completion and the one switch to Node's poll; a ring poll and a harvest a round trip before.
        expect(ringCalls).toBeLessThan(10);
        expect(counts.add! - before.add!).toBe(1); // polled once, not re-armed per message
        client.destroy();
        await until(() => keepers[0]!.lost !== undefined, 'connectionLost');
        expect(counts.remove).toBe(1);
        server.close();
        await server.waitClosed();
      });
    });
  });

  it('a socket Node\'s loop already polls (libuv allows one poll per fd) keeps reading through the pool: every byte in order, then EOF', async () => {
    const [a, b] = socketpair();
    const elsewhere = new PollSet();
    elsewhere.add(a.fileno(), READABLE);
    elsewhere.watch(() => {});
    const data = pattern(2 * 1024 * 1024, 17);
    try {
      const keeper = await keeperAfter('direct', a, b, data);
      expect(keeper.received.equals(data)).toBe(true);
      expect(keeper.eof).toBe(true);
      expect(keeper.lost).toBeNull();
    } finally {
      elsewhere.close();
    }
  });

  it('more chunks arrive between two harvests than the pool has buffers (256): receives that found it dry are posted again', async () => {
    const pairs = Array.from({ length: 300 }, () => socketpair());
    await countingRing(async (counts) => {
      await withLoop('multishot', async (loop) => {
        const { keepers } = await keepersOf(loop, pairs);
        await sleep(0.005); // every receive is armed in the kernel
        for (let round = 0; round < 3; round++) {
          // All sends before the next harvest: the kernel fills a buffer for each.
          pairs.forEach(([, b], i) => b.send(Buffer.from(`round ${round} socket ${i};`)));
          await until(() => keepers.every((k) => k.received.toString().endsWith(`round ${round} socket ${keepers.indexOf(k)};`)), `round ${round}`);
        }
        keepers.forEach((k, i) => expect(k.received.toString()).toBe(`round 0 socket ${i};round 1 socket ${i};round 2 socket ${i};`));
        for (const [, b] of pairs) b.close();
        await until(() => keepers.every((k) => k.lost !== undefined), 'connectionLost');
      });
      // The multishot receives that met a dry pool ended (-ENOBUFS) and were posted again.
      expect(counts.recvMulti).toBeGreaterThan(pairs.length);
    });
  });

  it.each(['direct', 'multishot', 'pooled'] as const)('%s receives: a slab that cannot be allocated (a direct read\'s, or a harvest\'s) fails only the transport whose bytes it concerned (connectionLost with the error, reported once); the loop and the other connection go on', async (mode) => {
    const pairs = [socketpair(), socketpair()];
    const withRoom = receiveSlab.withRoom;
    try {
      await withLoop(mode, async (loop) => {
        const reports: Array<Record<string, unknown>> = [];
        loop.setExceptionHandler((_l, context) => reports.push(context));
        const { keepers, send, allReceived } = await keepersOf(loop, pairs);
        send(0, 'before;');
        send(1, 'before;');
        await until(allReceived, 'the first messages');
        const failure = new RangeError('Array buffer allocation failed');
        receiveSlab.withRoom = () => {
          throw failure;
        };
        pairs[0]![1].send(Buffer.from('lost;'));
        await until(() => keepers[0]!.lost !== undefined, 'connectionLost');
        receiveSlab.withRoom = withRoom;
        expect(keepers[0]!.lost).toBe(failure);
        expect(keepers[0]!.received.toString()).toBe('before;');
        expect(reports.map((r) => [r.message, r.exception])).toEqual([['Fatal read error on socket transport', failure]]);
        send(1, 'after;');
        await until(allReceived, "the other connection's message");
        expect(keepers[1]!.lost).toBeUndefined();
        keepers[1]!.transport!.close();
        await until(() => keepers[1]!.lost !== undefined, 'the other connectionLost');
      });
    } finally {
      receiveSlab.withRoom = withRoom;
      for (const [, b] of pairs) b.close();
    }
  });

  it('multishot receives: a chunk harvested after the bytes a harvest dropped is not delivered (the stream has a gap): the chunks before it are, then connectionLost with the allocation error', async () => {
    const pairs = [socketpair()];
    try {
      await withLoop('multishot', async (loop) => {
        loop.setExceptionHandler(() => {});
        const { keepers, send, allReceived } = await keepersOf(loop, pairs);
        send(0, 'before;');
        await until(allReceived, 'the first message');
        // A harvest's order: a chunk, the dropped bytes, a chunk after them (as one harvest
        // with no slab, then the next with one, before the transport ran).
        const transport = keepers[0]!.transport as unknown as { recvId: number; _ringCompleted(id: number, res: number, more: boolean, data: Buffer | null): void; _receiveLost(id: number, more: boolean): void };
        const proactor = (loop as unknown as { _proactor: UringProactor })._proactor;
        const failure = new RangeError('Array buffer allocation failed');
        proactor._slabFailure = failure;
        const id = transport.recvId;
        expect(id).toBeGreaterThan(0);
        transport._ringCompleted(id, 6, true, Buffer.from('noted;'));
        transport._receiveLost(id, true);
        transport._ringCompleted(id, 6, true, Buffer.from('after;'));
        await until(() => keepers[0]!.lost !== undefined, 'connectionLost');
        expect(keepers[0]!.received.toString()).toBe('before;noted;');
        expect(keepers[0]!.lost).toBe(failure);
      });
    } finally {
      for (const [, b] of pairs) b.close();
    }
  });

  it("direct reads: a read-ahead whose slab cannot be allocated leaves each socket to read itself (nothing lost, nothing reported); the loop goes on", async () => {
    const pairs = [socketpair(), socketpair(), socketpair()];
    const readBatch = receiveSlab.readBatch;
    let failed = 0;
    try {
      await withLoop('direct', async (loop) => {
        const reports: Array<Record<string, unknown>> = [];
        loop.setExceptionHandler((_l, context) => reports.push(context));
        const { keepers, send, allReceived } = await keepersOf(loop, pairs);
        for (let i = 0; i < pairs.length; i++) send(i, 'before;');
        await until(allReceived, 'the first messages');
        receiveSlab.readBatch = () => {
          failed++;
          throw new RangeError('Array buffer allocation failed');
        };
        // Until a select found two or more of them readable at once (the read-ahead's case).
        for (let round = 0; failed === 0 && round < 50; round++) {
          for (let i = 0; i < pairs.length; i++) send(i, `round ${round};`);
          await until(allReceived, 'every message of the round');
        }
        receiveSlab.readBatch = readBatch;
        expect(failed).toBeGreaterThan(0);
        for (let i = 0; i < pairs.length; i++) send(i, 'after;');
        await until(allReceived, 'the messages after');
        expect(reports).toEqual([]);
        expect(keepers.map((k) => k.lost)).toEqual([undefined, undefined, undefined]);
        for (const keeper of keepers) keeper.transport!.close();
        await until(() => keepers.every((k) => k.lost !== undefined), 'connectionLost');
      });
    } finally {
      receiveSlab.readBatch = readBatch;
      for (const [, b] of pairs) b.close();
    }
  });

  it("an exception escaping the loop's turn from the first of a harvest's chunks loses none of the rest: they come when the loop runs again", async () => {
    const { loop, reports } = interruptibleLoop(new UringEventLoop(proactorFor('multishot')));
    const pairs = [socketpair(), socketpair()];
    try {
      const { keepers } = await loop.runUntilComplete(() => keepersOf(loop, pairs));
      await loop.runUntilComplete(() => sleep(0.02)); // both are reading
      let interrupted = false;
      keepers[0]!.onData = () => {
        if (interrupted) return;
        interrupted = true;
        throw new Interrupt('interrupted');
      };
      // While the loop is stopped, each message completes on its own (the kernel's receive runs
      // between the sends): the harvest copies them into the slab in that order, so the first
      // transport's two chunks are apart, two chunks of one run.
      const [[, peer0], [, peer1]] = pairs as [[Socket, Socket], [Socket, Socket]];
      for (const [peer, message] of [[peer0, 'first;'], [peer1, 'other;'], [peer0, 'second;']] as const) {
        peer.send(Buffer.from(message));
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await expect(loop.runUntilComplete(() => until(() => keepers[1]!.chunks.length > 0, 'the other message'))).rejects.toBeInstanceOf(Interrupt);
      expect(keepers[0]!.received.toString()).toBe('first;');
      await loop.runUntilComplete(() => until(() => keepers[0]!.received.toString() === 'first;second;' && keepers[1]!.received.toString() === 'other;', 'every message'));
      expect(keepers.map((k) => k.chunks.length)).toEqual([2, 1]);
      for (const keeper of keepers) keeper.transport!.close();
      await loop.runUntilComplete(() => until(() => keepers.every((k) => k.lost !== undefined), 'connectionLost'));
      expect(reports).toEqual([]);
    } finally {
      for (const [, b] of pairs) b.close();
      loop.close();
    }
  });

  it("an exception escaping the loop's turn from resumeWriting leaves no buffered bytes behind: they go out when the loop runs again", async () => {
    const { loop, reports } = interruptibleLoop(new UringEventLoop());
    const [a, b] = socketpair();
    const data = pattern(8 << 20, 7);
    const got = Buffer.alloc(data.length);
    let received = 0;
    const drain = async (): Promise<void> => {
      while (received < data.length) {
        const r = b.tryRecvInto(got, received, got.length - received);
        if (r > 0) received += r;
        else await sleep(0.001);
      }
    };
    let interrupted = false;
    class Writer extends Keeper {
      override connectionMade(transport: Transport): void {
        super.connectionMade(transport);
        // The protocol resumes with 2 MiB still buffered, so the transport still has sends to make after it.
        (transport as unknown as { setWriteBufferLimits(high: number, low: number): void }).setWriteBufferLimits(4 << 20, 2 << 20);
      }
      pauseWriting(): void {}
      resumeWriting(): void {
        if (interrupted) return;
        interrupted = true;
        throw new Interrupt('interrupted');
      }
    }
    try {
      const [transport] = await loop.runUntilComplete(() => loop.createConnection(() => new Writer(), null, null, { sock: a }));
      (transport as Transport).write(data);
      await expect(loop.runUntilComplete(drain)).rejects.toBeInstanceOf(Interrupt);
      expect(received).toBeLessThan(data.length);
      await loop.runUntilComplete(() => Promise.race([drain(), sleep(5).then(() => Promise.reject(new Error(`stalled at ${received} bytes`)))]));
      expect(got.equals(data)).toBe(true);
      (transport as Transport).close();
      await loop.runUntilComplete(() => sleep(0.01));
      expect(reports).toEqual([]);
    } finally {
      b.close();
      loop.close();
    }
  });

  it.each(MODES)("receiving with %s: a transport whose ready entry an exception escaping the loop's turn left unrun delivers its data when the loop runs again", async (mode) => {
    const { loop, reports } = interruptibleLoop(new UringEventLoop(proactorFor(mode)));
    const pairs = [socketpair(), socketpair()];
    try {
      const { keepers } = await loop.runUntilComplete(() => keepersOf(loop, pairs));
      await loop.runUntilComplete(() => sleep(0.02)); // both are reading
      let interrupted = false;
      for (const keeper of keepers) {
        keeper.onData = () => {
          if (interrupted) return;
          interrupted = true;
          throw new Interrupt('interrupted');
        };
      }
      // Both peers send while the loop is stopped: its next select() queues both transports for one batch.
      pairs.forEach(([, b], i) => b.send(Buffer.from(`message ${i}`)));
      await new Promise((resolve) => setTimeout(resolve, 20));
      await expect(loop.runUntilComplete(() => until(() => keepers.every((k) => k.chunks.length > 0), 'both messages'))).rejects.toBeInstanceOf(Interrupt);
      // The transport that ran first delivered its message; the other's entry stayed in the loop's ready queue (core keeps the rest of the batch).
      expect(keepers.filter((k) => k.chunks.length > 0).length).toBe(1);
      await loop.runUntilComplete(() => until(() => keepers.every((k, i) => k.received.toString() === `message ${i}`), "the other transport's message"));
      // And it goes on receiving.
      pairs.forEach(([, b], i) => b.send(Buffer.from(` and ${i}`)));
      await loop.runUntilComplete(() => until(() => keepers.every((k, i) => k.received.toString() === `message ${i} and ${i}`), 'the next messages'));
      for (const keeper of keepers) keeper.transport!.close();
      await loop.runUntilComplete(() => until(() => keepers.every((k) => k.lost !== undefined), 'connectionLost'));
      expect(reports).toEqual([]);
    } finally {
      for (const [, b] of pairs) b.close();
      loop.close();
    }
  });
  it("each chunk a harvest, a read-ahead or a direct read hands over is a Buffer made from the slab's memory: no `buffer` getter per chunk, on any read path", () => {
    // A Buffer's `buffer` getter is a call into V8's C++, and Buffer#subarray calls it: the
    // read paths make each chunk with Node's Buffer class from the slab's ArrayBuffer instead.
    // One connection reads directly (a recv per report), three with direct reads only (a
    // select reporting two or more reads them ahead in one call), three on the pool (the
    // harvest's chunks). Counted on the server's side: the peers are plain Node sockets in the
    // same process, whose reads never call the getter.
    const { counted, notBuffers, intact } = countBufferGetter("const { UringEventLoop, UringProactor } = await import('@loopkit/proactor');", [
      { name: 'direct', connections: 1, makeLoop: 'new UringEventLoop(new UringProactor())' },
      { name: 'read ahead', connections: 3, makeLoop: 'new UringEventLoop(Object.assign(new UringProactor(), { _directReadFrom: 0 }))' },
      { name: 'pooled', connections: 3, makeLoop: 'new UringEventLoop(Object.assign(new UringProactor(), { _startDirect: false, _poolFromReads: 1 }))' },
    ], 30_000);
    expect({ notBuffers, intact }).toEqual({ notBuffers: 0, intact: true });
    // 60 and 180 reads: the getter only where a read starts a fresh slab.
    expect(Object.keys(counted)).toEqual(['direct', 'read ahead', 'pooled']);
    for (const calls of Object.values(counted)) expect(calls).toBeLessThanOrEqual(2);
  });
});
