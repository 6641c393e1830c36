/**
 * Real network I/O, for loops with `caps.network` (selector and proactor alike): TCP and
 * Unix echo, write flow control against a slow reader, connection errors, half-close,
 * sock* round trips on @loopkit/uv sockets, fd leaks, server shutdown, UDP.
 */
import * as net from 'node:net';
import * as path from 'node:path';
import { expect } from './expect.js';
import { describe, it } from './kit.js';
import { rule } from './rules.js';
import {
  ConnectionRefusedError,
  ExceptionGroup,
  ConnectionResetError,
  DatagramProtocol,
  Protocol,
  sleep,
  type DatagramTransport,
  type Transport,
} from '@loopkit/core';
import { uv, uvMissing } from './support/uv.js';
import { lacks, withLoop, type LoopUnderTest } from './context.js';
import { Echo, Recorder as Peer, hasProcFd, noProcFd, openFds, pattern, portOf } from './support/net.js';
import { tempDir } from './support/temp-dir.js';
import { Interrupt, lettingThrough } from './support/escape.js';
import { waitUntil } from './transports.js';

type Server = { close(): void; waitClosed(): Promise<void>; sockets: readonly { getsockname(): { port?: number } }[]; isServing(): boolean };

/** Counts the bytes it receives (without keeping them: cheap enough to read every iteration). */
class ByteCounter extends Protocol {
  bytes = 0;
  override dataReceived(data: Uint8Array): void {
    this.bytes += data.length;
  }
}

/** Close the client transport, then the server; wait for both. Gives what the client's connection was lost with. */
async function closeBoth(transport: Transport, client: Peer, server: Server): Promise<unknown> {
  transport.close();
  const lost = await client.lost;
  server.close();
  await server.waitClosed();
  return lost;
}

/** A fresh Unix socket path; on Windows, where node:net serves "Unix" paths as named pipes, a pipe name. */
function tempSocketPath(): string {
  if (process.platform === 'win32') return `\\\\.\\pipe\\loopkit-${process.pid}-${Math.random().toString(36).slice(2)}`;
  return path.join(tempDir('unix'), 's.sock');
}


export function networkSuite(subject: LoopUnderTest): void {
  describe('network', () => {
    it('echoes over TCP (createServer / createConnection)', rule("createServer and createConnection carry bytes both ways unchanged, and closing ends both sides' connections", () =>
      withLoop(subject, async (loop, reports) => {
        const server = (await loop.createServer(() => new Echo(), '127.0.0.1', 0)) as unknown as Server;
        expect(server.isServing()).toBe(true);
        const [transport, client] = (await loop.createConnection(() => new Peer(loop), '127.0.0.1', portOf(server))) as [Transport, Peer];
        const peer = transport.getExtraInfo<{ address: string; family: string; port: number }>('peername');
        expect(peer).toEqual({ address: '127.0.0.1', family: 'IPv4', port: portOf(server) });
        const data = pattern(100_000);
        transport.write(data);
        await waitUntil(() => client.received.length >= data.length);
        expect(client.received.equals(data)).toBe(true);
        expect(await closeBoth(transport, client, server)).toBe(null);
        expect(reports).toEqual([]);
      })));

    // A loop may skip its backend's poll while nothing suggests news, never for good: this storm
    // reschedules itself every iteration, so the loop never idles, and the round trips must go on.
    it('an echo keeps answering while a callSoon storm never lets the ready queue empty', rule('I/O is still delivered while callbacks keep the loop busy every iteration', () =>
      withLoop(subject, async (loop, reports) => {
        const server = (await loop.createServer(() => new Echo(), '127.0.0.1', 0)) as unknown as Server;
        const counter = new ByteCounter();
        const [transport] = (await loop.createConnection(() => counter, '127.0.0.1', portOf(server))) as [Transport, ByteCounter];
        const ROUNDS = 20;
        const MAX_ITERATIONS = 5_000_000; // the rounds take a few thousand; a starved socket never finishes them
        const ping = Buffer.from('ping');
        const done = loop.createFuture<number>();
        let iterations = 0;
        let rounds = 0;
        const storm = (): void => {
          iterations++;
          if (counter.bytes === ping.length * (rounds + 1)) {
            rounds++;
            if (rounds < ROUNDS) transport.write(ping);
          }
          if (rounds === ROUNDS || iterations === MAX_ITERATIONS) done.setResult(rounds);
          else loop.callSoon(storm);
        };
        transport.write(ping);
        loop.callSoon(storm);
        expect(await done).toBe(ROUNDS);
        transport.close();
        server.close();
        await server.waitClosed();
        expect(reports).toEqual([]);
      })));

    // Counted in chain steps (one per iteration), never in time. The peer is a raw Unix socket
    // driven from inside the chain: a Unix send lands in the other end's queue before it
    // returns, so the kernel adds no delay of its own to either count.
    it.skipIf(lacks(subject, 'unixSockets') ?? uvMissing)('during a callSoon chain a request reaches dataReceived while the chain runs, and its reply is readable at the next step', rule('a write from dataReceived is sent at once, not when the loop next idles; a busy loop still reads its sockets (a readiness loop within a bounded number of iterations)', () =>
      withLoop(subject, async (loop, reports) => {
        const ROUNDS = 20;
        const MAX_STEPS = 5_000_000; // a loop that starves its sockets never finishes the rounds
        // asyncio polls every iteration (1 step); loopkit's selector polls a busy loop at least every 512 iterations.
        const READINESS_STEPS = 513;
        let step = 0;
        const readAt: number[] = [];
        let connected: (() => void) | null = null;
        const made = new Promise<void>((resolve) => (connected = resolve));
        class StepEcho extends Protocol {
          private transport: Transport | null = null;
          override connectionMade(transport: Transport): void {
            this.transport = transport;
            connected!();
          }
          override dataReceived(data: Uint8Array): void {
            readAt.push(step);
            this.transport!.write(data);
          }
        }
        const file = tempSocketPath();
        const server = (await loop.createUnixServer(() => new StepEcho(), file)) as unknown as Server;
        const peer = uv!.socket('unix', 'stream');
        try {
          peer.connect({ path: file });
          await made;
          const ping = Buffer.from('ping');
          const reply = Buffer.alloc(ping.length);
          const sentAt: number[] = [];
          const repliedAt: number[] = [];
          let got = -1; // -1: no request outstanding
          const done = loop.createFuture<void>();
          const chain = (): void => {
            step++;
            if (got < 0) {
              const sent = peer.trySend(ping);
              if (sent !== ping.length) {
                done.setException(new Error(`the peer's send of ${ping.length} bytes gave ${sent}`));
                return;
              }
              sentAt.push(step);
              got = 0;
            } else {
              const r = peer.tryRecvInto(reply, got);
              if (r > 0) got += r;
              if (got === ping.length) {
                repliedAt.push(step);
                got = -1;
              }
            }
            if (repliedAt.length === ROUNDS || step === MAX_STEPS) done.setResult();
            else loop.callSoon(chain);
          };
          loop.callSoon(chain);
          await done;
          expect(repliedAt.length).toBe(ROUNDS);
          expect(reply.equals(ping)).toBe(true);
          // Whether the read ran before or after this iteration's chain step, the next step finds the reply.
          expect(repliedAt.map((at, i) => at - readAt[i]!)).toEqual(repliedAt.map(() => 1));
          if (subject.caps.readiness) {
            const waits = readAt.map((at, i) => at - sentAt[i]!);
            expect(Math.max(...waits)).toBeLessThanOrEqual(READINESS_STEPS);
          }
        } finally {
          peer.close();
        }
        server.close();
        await server.waitClosed();
        expect(reports).toEqual([]);
      })));

    it.skipIf(lacks(subject, 'unixSockets'))('echoes over a Unix socket (createUnixServer / createUnixConnection)', () =>
      withLoop(subject, async (loop) => {
        const file = tempSocketPath();
        const server = (await loop.createUnixServer(() => new Echo(), file)) as unknown as Server;
        const [transport, client] = (await loop.createUnixConnection(() => new Peer(loop), file)) as [Transport, Peer];
        expect(transport.getExtraInfo('peername')).toEqual({ path: file });
        transport.write(Buffer.from('over unix'));
        await waitUntil(() => client.received.length >= 9);
        expect(client.received.toString()).toBe('over unix');
        await closeBoth(transport, client, server);
      }));

    // Abstract names are Linux's own (a leading NUL byte).
    it.skipIf(lacks(subject, 'unixSockets') ?? (process.platform !== 'linux' && 'skipped: abstract Unix names are Linux only'))('serves on an abstract Unix name (no file) and close() frees it', () =>
      withLoop(subject, async (loop) => {
        const name = `\0loopkit-abstract-${process.pid}-${Math.random().toString(36).slice(2)}`;
        const round = async (): Promise<void> => {
          const server = (await loop.createUnixServer(() => new Echo(), name)) as unknown as Server;
          const [transport, client] = (await loop.createUnixConnection(() => new Peer(loop), name)) as [Transport, Peer];
          transport.write(Buffer.from('abstract'));
          await waitUntil(() => client.received.length >= 8);
          expect(client.received.toString()).toBe('abstract');
          await closeBoth(transport, client, server);
        };
        await round(); // the first round may set up the backend's own fds (a ring, say)
        const fdsAfterFirst = openFds();
        await round(); // the name is free again, and nothing of the first round is left
        await waitUntil(() => openFds() <= fdsAfterFirst);
        await expect(loop.createUnixConnection(() => new Peer(loop), name)).rejects.toThrow();
      }));

    it('a protocol may keep every chunk it receives: later reads never change one', rule('dataReceived may keep the bytes it is given: the transport never reuses or changes them', () =>
      withLoop(subject, async (loop, reports) => {
        /** Keeps each chunk as given (no copy), and a copy of it as it was on arrival. */
        class Keeper extends Protocol {
          kept: Uint8Array[] = [];
          onArrival: Buffer[] = [];
          override dataReceived(data: Uint8Array): void {
            this.kept.push(data);
            this.onArrival.push(Buffer.from(data));
          }
        }
        let keeper: Keeper | null = null;
        const server = (await loop.createServer(() => (keeper = new Keeper()), '127.0.0.1', 0)) as unknown as Server;
        const [transport, client] = (await loop.createConnection(() => new Peer(loop), '127.0.0.1', portOf(server))) as [Transport, Peer];
        // Sizes around every read size and slab boundary a backend may use, some sent alone
        // (a short read), some back to back (reads that fill what they read into).
        const sizes = [1, 7, 1000, 4095, 4096, 16383, 16384, 16385, 65535, 65536, 65537, 100 * 1024, 256 * 1024, 300 * 1024, 3, 1 << 20];
        const sent: Buffer[] = [];
        for (const [i, size] of sizes.entries()) {
          const data = pattern(size, i + 1);
          sent.push(data);
          transport.write(data);
          if (i % 3 === 0) await sleep(0.002);
        }
        const all = Buffer.concat(sent);
        const receivedBytes = (): number => keeper?.kept.reduce((n, c) => n + c.length, 0) ?? 0;
        await waitUntil(() => receivedBytes() >= all.length, 20);
        expect(receivedBytes()).toBe(all.length);
        keeper!.kept.forEach((chunk, i) => expect(Buffer.from(chunk).equals(keeper!.onArrival[i]!)).toBe(true));
        expect(Buffer.concat(keeper!.kept).equals(all)).toBe(true);
        expect(await closeBoth(transport, client, server)).toBe(null);
        expect(reports).toEqual([]);
      })));

    it('a write that completes at once never pauses the protocol', () =>
      withLoop(subject, async (loop) => {
        const server = (await loop.createServer(() => new Echo(), '127.0.0.1', 0)) as unknown as Server;
        const [transport, client] = (await loop.createConnection(() => new Peer(loop), '127.0.0.1', portOf(server))) as [Transport, Peer];
        transport.setWriteBufferLimits({ high: 0 });
        transport.write(Buffer.from('small'));
        expect(transport.getWriteBufferSize()).toBe(0);
        await waitUntil(() => client.received.length >= 5);
        expect(client.events).toEqual(['made']);
        transport.close();
        await client.lost;
        server.close();
      }));

    it('pushes megabytes through a slow reader: pauseWriting, then resumeWriting, no byte lost', rule('a writer faster than its reader is paused and resumed by flow control, and no byte is lost or reordered', () =>
      withLoop(subject, async (loop) => {
        let reader: Peer | null = null;
        const server = (await loop.createServer(() => {
          reader = new Peer(loop);
          return reader;
        }, '127.0.0.1', 0)) as unknown as Server;
        const [transport, writer] = (await loop.createConnection(() => new Peer(loop), '127.0.0.1', portOf(server))) as [Transport, Peer];
        await waitUntil(() => reader?.transport != null);
        reader!.transport!.pauseReading();
        // The buffer's size when the protocol was paused (it may drain again before the test looks).
        const sizesAtPause: number[] = [];
        const pauseWriting = writer.pauseWriting.bind(writer);
        writer.pauseWriting = () => {
          sizesAtPause.push(transport.getWriteBufferSize());
          pauseWriting();
        };
        const chunk = pattern(1 << 20);
        let sent = 0;
        while (!writer.events.includes('pause') && sent < 32 << 20) {
          transport.write(chunk);
          sent += chunk.length;
          await sleep(0.01);
        }
        expect(writer.events).toContain('pause');
        expect(sizesAtPause[0]).toBeGreaterThan(transport.getWriteBufferLimits()[1]);
        // The slow reader: resume for a moment, pause again, until everything arrived.
        while (reader!.received.length < sent) {
          reader!.transport!.resumeReading();
          await sleep(0.005);
          reader!.transport!.pauseReading();
          await sleep(0.001);
        }
        expect(reader!.received.length).toBe(sent);
        for (let off = 0; off < sent; off += chunk.length) {
          expect(reader!.received.subarray(off, off + chunk.length).equals(chunk)).toBe(true);
        }
        await waitUntil(() => transport.getWriteBufferSize() === 0);
        const flow = writer.events.filter((e) => e === 'pause' || e === 'resume');
        expect(flow.length % 2).toBe(0);
        flow.forEach((e, i) => expect(e).toBe(i % 2 === 0 ? 'pause' : 'resume'));
        transport.close();
        await writer.lost;
        server.close();
      })));

    it('the caller may change its buffer as soon as write() or writelines() returns', () =>
      withLoop(subject, async (loop, reports) => {
        let reader: Peer | null = null;
        const server = (await loop.createServer(() => {
          reader = new Peer(loop);
          return reader;
        }, '127.0.0.1', 0)) as unknown as Server;
        const [transport, writer] = (await loop.createConnection(() => new Peer(loop), '127.0.0.1', portOf(server))) as [Transport, Peer];
        await waitUntil(() => reader?.transport != null);
        const expected: Buffer[] = [];
        let seed = 0;
        /** Bytes to write, remembered as they are now; the caller scribbles over them afterwards. */
        const fresh = (n: number): Buffer => {
          const data = pattern(n, ++seed);
          expected.push(Buffer.from(data));
          return data;
        };
        const receivedBytes = (): number => reader!.chunks.reduce((n, c) => n + c.length, 0);
        const drain = async (): Promise<void> => {
          const total = expected.reduce((n, c) => n + c.length, 0);
          reader!.transport!.resumeReading();
          await waitUntil(() => receivedBytes() >= total, 20);
          await waitUntil(() => transport.getWriteBufferSize() === 0);
          expect(receivedBytes()).toBe(total);
          expect(reader!.received.equals(Buffer.concat(expected))).toBe(true);
        };

        // Into an empty buffer (most of it stays unsent: nobody reads), then behind it.
        reader!.transport!.pauseReading();
        const big = fresh(8 << 20);
        transport.write(big);
        big.fill(0);
        expect(transport.getWriteBufferSize()).toBeGreaterThan(0);
        for (let i = 0; i < 20; i++) {
          const small = fresh(100 + i * 997);
          transport.write(small);
          small.fill(1);
        }
        const lines = [fresh(10), fresh(70_000), fresh(3)];
        transport.writelines(lines);
        for (const line of lines) line.fill(2);
        const after = fresh(1 << 20);
        transport.write(after);
        after.fill(3);
        await drain();

        // writelines() into an empty buffer.
        reader!.transport!.pauseReading();
        const head = fresh(200);
        const body = fresh(8 << 20);
        transport.writelines([head, body]);
        head.fill(4);
        body.fill(4);
        const tail = fresh(5000);
        transport.write(tail);
        tail.fill(5);
        await drain();

        expect(await closeBoth(transport, writer, server)).toBe(null);
        expect(reports).toEqual([]);
      }));

    it('connection refused rejects with ConnectionRefusedError, code ECONNREFUSED', () =>
      withLoop(subject, async (loop) => {
        const probe = net.createServer();
        await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
        const port = (probe.address() as net.AddressInfo).port;
        await new Promise<void>((resolve) => probe.close(() => resolve()));
        const error = await loop.createConnection(() => new Peer(loop), '127.0.0.1', port).then(
          () => null,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(ConnectionRefusedError);
        expect(error).toMatchObject({ code: 'ECONNREFUSED', syscall: 'connect' });
      }));

    it('allErrors: a failed connect rejects with an ExceptionGroup of every attempt\'s error (asyncio 3.12)', rule('createConnection(..., {allErrors: true}) gathers the attempts\' errors in ExceptionGroup("create_connection failed"); a non-boolean is a TypeError', () =>
      withLoop(subject, async (loop) => {
        const probe = net.createServer();
        await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
        const port = (probe.address() as net.AddressInfo).port;
        await new Promise<void>((resolve) => probe.close(() => resolve()));
        const error = (await loop.createConnection(() => new Peer(loop), '127.0.0.1', port, { allErrors: true }).then(
          () => null,
          (e: unknown) => e,
        )) as ExceptionGroup;
        expect(error).toBeInstanceOf(ExceptionGroup);
        expect(error.message).toBe('create_connection failed');
        expect(error.exceptions.length).toBe(1);
        expect(error.exceptions[0]).toBeInstanceOf(ConnectionRefusedError);
        await expect(loop.createConnection(() => new Peer(loop), '127.0.0.1', port, { allErrors: 'yes' } as object)).rejects.toThrow(/allErrors must be a boolean/);
      })));

    it.skipIf(uvMissing)('keepAlive: the connections a server accepts have SO_KEEPALIVE (asyncio 3.13)', rule('createServer(..., {keepAlive: true}) turns TCP keep-alive on for accepted connections, and only then', () =>
      withLoop(subject, async (loop) => {
        const keepAliveOf = async (keepAlive: boolean): Promise<number> => {
          const accepted: Transport[] = [];
          const server = (await loop.createServer(() => {
            const p = new Peer(loop);
            void p.made.then((t) => accepted.push(t));
            return p;
          }, '127.0.0.1', 0, { keepAlive })) as unknown as Server;
          const client = net.connect({ host: '127.0.0.1', port: portOf(server) });
          try {
            await waitUntil(() => accepted.length === 1);
            const fd = accepted[0]!.getExtraInfo<{ fileno(): number }>('socket')!.fileno();
            const probe = uv!.Socket.fromFd(fd);
            try {
              return probe.getsockopt(uv!.SOL_SOCKET, uv!.SO_KEEPALIVE);
            } finally {
              probe.detach();
            }
          } finally {
            client.destroy();
            accepted[0]?.close();
            server.close();
            await server.waitClosed();
          }
        };
        expect(await keepAliveOf(true)).toBeGreaterThan(0);
        expect(await keepAliveOf(false)).toBe(0);
        await expect(loop.createServer(() => new Peer(loop), '127.0.0.1', 0, { keepAlive: 1 } as object)).rejects.toThrow(/keepAlive must be a boolean/);
      })));

    it("an exception escaping dataReceived keeps the other connection's read of that iteration: the next run delivers it first", rule("an exception that leaves the loop's turn from a protocol's dataReceived (asyncio's KeyboardInterrupt) loses no data: the reads its iteration had not delivered yet come first when the loop runs again, before what was queued since", async () => {
      const loop = lettingThrough(subject.make());
      const reports: unknown[] = [];
      loop.setExceptionHandler((_loop, context) => reports.push(context));
      const log: string[] = [];
      const accepted: Peer[] = [];
      let interrupted = false;
      class Interrupting extends Peer {
        override dataReceived(data: Uint8Array): void {
          super.dataReceived(data);
          log.push(`data: ${Buffer.from(data).toString()}`);
          if (interrupted) return;
          interrupted = true;
          loop.callSoon(() => log.push('queued by the interrupted callback'));
          throw new Interrupt('dataReceived');
        }
      }
      const peers: net.Socket[] = [];
      let server: Server | null = null;
      try {
        server = (await loop.runUntilComplete(() => loop.createServer(() => accepted[accepted.push(new Interrupting(loop)) - 1]!, '127.0.0.1', 0))) as unknown as Server;
        for (let i = 0; i < 2; i++) peers.push(net.connect(portOf(server), '127.0.0.1'));
        await loop.runUntilComplete(() => waitUntil(() => accepted.length === 2 && accepted.every((p) => p.transport !== null)));
        // Both peers send while the loop is stopped, and both writes are in the kernel (their
        // callbacks ran; a client not yet connected on Node's side writes only once it is)
        // before it runs again: its next poll finds both connections readable.
        await Promise.all(peers.map((peer, i) => new Promise<void>((resolve, reject) => peer.write(`message ${i}`, (error) => (error ? reject(error) : resolve())))));
        const never = loop.createFuture();
        await expect(loop.runUntilComplete(never)).rejects.toBeInstanceOf(Interrupt);
        expect(log).toHaveLength(1);
        loop.callSoon(() => log.push('queued between runs'));
        // A loop that lost the second read would never deliver it: stopped from outside, it fails here instead.
        const guard = setTimeout(() => loop.stop(), 2000);
        try {
          await loop.runUntilComplete(() => waitUntil(() => log.length === 4, 1.5));
        } finally {
          clearTimeout(guard);
        }
        never.cancel();
        // asyncio's order: the read the iteration had not delivered, then the callbacks queued since.
        const other = log[0] === 'data: message 0' ? 'data: message 1' : 'data: message 0';
        expect(log.slice(1)).toEqual([other, 'queued by the interrupted callback', 'queued between runs']);
        expect(accepted.map((p) => p.received.toString()).sort()).toEqual(['message 0', 'message 1']);
        expect(reports).toEqual([]);
      } finally {
        for (const peer of peers) peer.destroy();
        server?.close();
        if (!loop.isClosed()) {
          for (const p of accepted) p.transport?.close();
          await loop.runUntilComplete(() => sleep(0.01));
          loop.close();
        }
      }
    }));

    it('a peer reset gives connectionLost(ConnectionResetError) once', () =>
      withLoop(subject, async (loop) => {
        const peer = net.createServer((s) => s.once('data', () => s.resetAndDestroy()));
        await new Promise<void>((resolve) => peer.listen(0, '127.0.0.1', resolve));
        try {
          const port = (peer.address() as net.AddressInfo).port;
          const [transport, client] = (await loop.createConnection(() => new Peer(loop), '127.0.0.1', port)) as [Transport, Peer];
          transport.write(Buffer.from('trigger'));
          const exc = await client.lost;
          expect(exc).toBeInstanceOf(ConnectionResetError);
          expect(exc).toMatchObject({ code: 'ECONNRESET' });
          transport.close();
          await sleep(0.02);
          expect(client.events.filter((e) => e === 'lost')).toEqual(['lost']);
        } finally {
          peer.close();
        }
      }));

    it("delivers every byte sent before the peer's half-close, then eofReceived", rule("every byte sent before the peer's half-close arrives before eofReceived", () =>
      withLoop(subject, async (loop) => {
        let serverSide: Peer | null = null;
        const server = (await loop.createServer(() => {
          serverSide = new Peer(loop);
          serverSide.keepOpenOnEof = true;
          return serverSide;
        }, '127.0.0.1', 0)) as unknown as Server;
        const [transport, client] = (await loop.createConnection(() => new Peer(loop), '127.0.0.1', portOf(server))) as [Transport, Peer];
        const data = pattern(300_000);
        expect(transport.canWriteEof()).toBe(true);
        transport.write(data);
        transport.writeEof();
        await waitUntil(() => serverSide?.events.includes('eof') === true);
        expect(serverSide!.received.equals(data)).toBe(true);
        expect(serverSide!.events).toEqual(['made', 'eof']);
        // eofReceived returned true: the server side can still answer.
        serverSide!.transport!.write(Buffer.from('reply'));
        serverSide!.transport!.close();
        await client.lost;
        expect(client.received.toString()).toBe('reply');
        expect(client.events).toEqual(['made', 'eof', 'lost']);
        server.close();
        await server.waitClosed();
      })));

    it('closing a transport twice calls connectionLost once', rule("a protocol's connectionLost is called exactly once, however often the transport is closed", () =>
      withLoop(subject, async (loop) => {
        const server = (await loop.createServer(() => new Echo(), '127.0.0.1', 0)) as unknown as Server;
        const [transport, client] = (await loop.createConnection(() => new Peer(loop), '127.0.0.1', portOf(server))) as [Transport, Peer];
        transport.close();
        transport.close();
        transport.abort();
        await client.lost;
        await sleep(0.01);
        expect(client.events).toEqual(['made', 'lost']);
        expect(transport.isClosing()).toBe(true);
        server.close();
      })));

    it('server.close() stops accepting; waitClosed() waits for its connections', () =>
      withLoop(subject, async (loop) => {
        let serverSide: Peer | null = null;
        const server = (await loop.createServer(() => (serverSide = new Peer(loop)), '127.0.0.1', 0)) as unknown as Server;
        const port = portOf(server);
        const [transport, client] = (await loop.createConnection(() => new Peer(loop), '127.0.0.1', port)) as [Transport, Peer];
        await waitUntil(() => serverSide !== null);
        server.close();
        expect(server.isServing()).toBe(false);
        expect(server.sockets).toEqual([]);
        let closed = false;
        const waiting = loop.createTask(async () => {
          await server.waitClosed();
          closed = true;
        });
        await sleep(0.05);
        expect(closed).toBe(false);
        const refused = await loop.createConnection(() => new Peer(loop), '127.0.0.1', port).then(
          () => null,
          (e: unknown) => e,
        );
        expect(refused).toBeInstanceOf(ConnectionRefusedError);
        transport.close(); // the server side sees EOF and closes: the last connection is gone
        await client.lost;
        await waiting;
        expect(closed).toBe(true);
        await server.waitClosed(); // closed already: returns at once
      }));

    it('loop.close() closes the transports and servers the loop still owns', rule('loop.close() closes the transports and servers the loop still owns, so nothing outlives its loop', async () => {
      const loop = subject.make();
      let client: Peer | null = null;
      let server: Server | null = null;
      await loop.runUntilComplete(async () => {
        server = (await loop.createServer(() => new Echo(), '127.0.0.1', 0)) as unknown as Server;
        [, client] = (await loop.createConnection(() => new Peer(loop), '127.0.0.1', portOf(server))) as [Transport, Peer];
      });
      expect(client!.events).toEqual(['made']);
      loop.close();
      expect(client!.events).toEqual(['made', 'lost']);
      expect(server!.sockets).toEqual([]);
    }));

    it.skipIf(lacks(subject, 'udp'))('echoes datagrams (createDatagramEndpoint)', () =>
      withLoop(subject, async (loop) => {
        class UdpEcho extends DatagramProtocol {
          transport: DatagramTransport | null = null;
          override connectionMade(t: DatagramTransport): void {
            this.transport = t;
          }
          override datagramReceived(data: Uint8Array, addr: never): void {
            this.transport!.sendto(data, addr);
          }
        }
        class UdpClient extends DatagramProtocol {
          got: Buffer[] = [];
          override datagramReceived(data: Uint8Array): void {
            this.got.push(Buffer.from(data));
          }
        }
        const [serverT] = (await loop.createDatagramEndpoint(() => new UdpEcho(), { localAddr: ['127.0.0.1', 0] })) as [DatagramTransport, UdpEcho];
        const port = serverT.getExtraInfo<{ port: number }>('sockname')!.port;
        const [clientT, client] = (await loop.createDatagramEndpoint(() => new UdpClient(), { remoteAddr: ['127.0.0.1', port] })) as [DatagramTransport, UdpClient];
        for (const word of ['one', 'two', 'three']) clientT.sendto(Buffer.from(word));
        await waitUntil(() => client.got.length === 3);
        expect(client.got.map(String).sort()).toEqual(['one', 'three', 'two']);
        clientT.close();
        serverT.close();
        await sleep(0.01);
      }));

    describe.skipIf(uvMissing)('sock* methods on @loopkit/uv sockets', () => {
      it('sockConnect, sockAccept, sockSendall, sockRecv and sockRecvInto round-trip', () =>
        withLoop(subject, async (loop) => {
          const listener = uv!.socket('inet', 'stream');
          listener.bind({ address: '127.0.0.1', port: 0 });
          listener.listen(8);
          const client = uv!.socket('inet', 'stream');
          try {
            const accepting = loop.createTask(() => loop.sockAccept(listener));
            await loop.sockConnect(client, { address: '127.0.0.1', port: (listener.getsockname() as { port: number }).port });
            const [conn, addr] = (await accepting) as [ReturnType<NonNullable<typeof uv>['socket']>, { port: number }];
            expect(addr.port).toBe((client.getsockname() as { port: number }).port);
            const data = pattern(500_000);
            const sending = loop.createTask(() => loop.sockSendall(client, data));
            const parts: Buffer[] = [];
            let got = 0;
            while (got < data.length) {
              const part = Buffer.from(await loop.sockRecv(conn, 65536));
              expect(part.length).toBeGreaterThan(0);
              parts.push(part);
              got += part.length;
            }
            await sending;
            expect(Buffer.concat(parts).equals(data)).toBe(true);
            await loop.sockSendall(conn, Buffer.from('back'));
            const buf = Buffer.alloc(16);
            let n = 0;
            while (n < 4) n += await loop.sockRecvInto(client, buf.subarray(n));
            expect(buf.subarray(0, n).toString()).toBe('back');
            conn.close();
            expect((await loop.sockRecv(client, 10)).length).toBe(0); // EOF
          } finally {
            client.close();
            listener.close();
          }
        }));

      it('sockSendto, sockRecvfrom and sockRecvfromInto carry datagrams with their sender\'s address', rule('the datagram sock* methods (asyncio 3.11) send and receive whole datagrams, a receive waits for one, and nbytes is checked', () =>
        withLoop(subject, async (loop) => {
          const a = uv!.socket('inet', 'dgram');
          const b = uv!.socket('inet', 'dgram');
          try {
            a.bind({ address: '127.0.0.1', port: 0 });
            b.bind({ address: '127.0.0.1', port: 0 });
            const portA = (a.getsockname() as { port: number }).port;
            const portB = (b.getsockname() as { port: number }).port;
            const waiting = loop.createTask(() => loop.sockRecvfrom(b, 100));
            await sleep(0.01);
            expect(waiting.done()).toBe(false);
            expect(await loop.sockSendto(a, Buffer.from('first'), { address: '127.0.0.1', port: portB })).toBe(5);
            const [data, from] = (await waiting) as [Uint8Array, { address: string; port: number }];
            expect(Buffer.from(data).toString()).toBe('first');
            expect(from).toMatchObject({ address: '127.0.0.1', port: portA });
            await loop.sockSendto(b, Buffer.from('hello world'), { address: '127.0.0.1', port: portA });
            const buf = Buffer.alloc(16);
            const [n, sender] = (await loop.sockRecvfromInto(a, buf, 5)) as [number, { port: number }];
            expect([n, buf.subarray(0, n).toString(), sender.port]).toEqual([5, 'hello', portB]);
            await expect(loop.sockRecvfromInto(a, buf, 17)).rejects.toThrow(/nbytes is greater than the length of the buffer/);
          } finally {
            a.close();
            b.close();
          }
        })));

      it('connectAcceptedSocket makes a server-side transport on a socket accepted outside the loop', rule('connect_accepted_socket serves a connection the user accepted, and refuses unknown options', () =>
        withLoop(subject, async (loop, reports) => {
          const listener = uv!.socket('inet', 'stream');
          listener.bind({ address: '127.0.0.1', port: 0 });
          listener.listen(8);
          const client = net.connect({ host: '127.0.0.1', port: (listener.getsockname() as { port: number }).port });
          client.on('error', () => undefined);
          try {
            const [conn] = (await loop.sockAccept(listener)) as [unknown, unknown];
            await expect(loop.connectAcceptedSocket(() => new Echo(), conn, { serverHostname: 'x' } as object)).rejects.toThrow(/serverHostname/);
            const [transport] = (await loop.connectAcceptedSocket(() => new Echo(), conn)) as [Transport, Echo];
            const echoed = new Promise<string>((resolve) => client.once('data', (d: Buffer) => resolve(d.toString())));
            client.write('accepted');
            expect(await echoed).toBe('accepted');
            transport.close();
          } finally {
            client.destroy();
            listener.close();
          }
          expect(reports).toEqual([]);
        })));

      it('a connected uv socket becomes a transport (createConnection with sock)', () =>
        withLoop(subject, async (loop) => {
          const server = (await loop.createServer(() => new Echo(), '127.0.0.1', 0)) as unknown as Server;
          const sock = uv!.socket('inet', 'stream');
          await loop.sockConnect(sock, { address: '127.0.0.1', port: portOf(server) });
          const [transport, client] = (await loop.createConnection(() => new Peer(loop), null, null, { sock })) as [Transport, Peer];
          transport.write(Buffer.from('adopted'));
          await waitUntil(() => client.received.length >= 7);
          expect(client.received.toString()).toBe('adopted');
          transport.close();
          await client.lost;
          server.close();
        }));
    });

    it.skipIf(!hasProcFd && noProcFd)('leaks no fd over 1,000 connect/close cycles', () =>
      withLoop(subject, async (loop) => {
        const server = (await loop.createServer(() => new Echo(), '127.0.0.1', 0)) as unknown as Server;
        const port = portOf(server);
        const warm = (await loop.createConnection(() => new Peer(loop), '127.0.0.1', port)) as [Transport, Peer];
        warm[0].close();
        await warm[1].lost;
        await sleep(0.05);
        const before = openFds();
        for (let i = 0; i < 1000; i++) {
          const [transport, client] = (await loop.createConnection(() => new Peer(loop), '127.0.0.1', port)) as [Transport, Peer];
          transport.close();
          await client.lost;
        }
        await sleep(0.2); // the server sides see EOF and close
        expect(openFds() - before).toBeLessThanOrEqual(2);
        server.close();
        await server.waitClosed();
      }), 60_000);
  });
}
