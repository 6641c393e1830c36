/**
 * The read-ahead of the loops that have one: the default loop (SelectorEventLoop) and
 * UringEventLoop's direct reads read the sockets one wake-up (one select()) found readable in
 * one call into the addon, each transport delivering its read when it runs. A protocol that
 * pauses or closes another transport between two of those deliveries must see what it would
 * have seen had each transport read for itself: nothing while paused (the bytes, and an EOF
 * after them, come on resumeReading, in order), nothing after a close. One scenario set, run
 * per loop with the loop's factory and a spy on the read each transport makes for itself.
 */
import { afterEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { Protocol, sleep, type AbstractEventLoop, type AbstractServer, type Transport } from '@loopkit/core';
import { SelectorEventLoop } from '@loopkit/selector';
import { UringEventLoop, UringProactor } from '@loopkit/proactor';
import { EINPROGRESS, SHUT_WR, Socket, socket } from '@loopkit/uv';
import { Interrupt, lettingThrough } from '@loopkit/conformance/support';

/** Records what it receives; `onData` runs first at each delivery. */
class Recorder extends Protocol {
  transport: Transport | null = null;
  received = '';
  events: string[] = [];
  onData: ((self: Recorder) => void) | null = null;
  override connectionMade(transport: Transport): void {
    this.transport = transport;
  }
  override dataReceived(data: Uint8Array): void {
    this.onData?.(this);
    this.received += Buffer.from(data).toString('latin1');
    this.events.push('data');
  }
  override eofReceived(): boolean {
    this.events.push('eof');
    return true; // stay open: the test closes
  }
  override connectionLost(exc: unknown): void {
    this.events.push(exc === null ? 'lost' : `lost:${(exc as Error).name}`);
  }
}

/** Runs `body` on `loop` with its exception handler's reports, then closes the loop. */
async function runOn<L extends AbstractEventLoop>(loop: L, body: (loop: L, reports: unknown[]) => Promise<void>): Promise<void> {
  const reports: unknown[] = [];
  loop.setExceptionHandler((_loop, context) => reports.push(context));
  try {
    await loop.runUntilComplete(() => body(loop, reports));
  } finally {
    loop.close();
  }
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000 && !condition(); i++) await sleep(0.001);
  if (!condition()) throw new Error(`timed out waiting for ${what}`);
}

function portOf(address: unknown): number {
  return Array.isArray(address) ? (address[1] as number) : (address as { port: number }).port;
}

/**
 * `n` connections to a server on `loop` (TCP on loopback: the sockets a loop accepts itself are
 * the ones its read-ahead reads; the default loop hosts no socket a user passes in): the
 * server's Recorders (reading) and, index for index, each one's client, a raw socket.
 */
async function connections(loop: AbstractEventLoop, n: number): Promise<{ server: AbstractServer; protocols: Recorder[]; peers: Socket[] }> {
  const made: Recorder[] = [];
  const server = await loop.createServer(() => {
    const protocol = new Recorder();
    made.push(protocol);
    return protocol;
  }, '127.0.0.1', 0);
  const port = portOf((server.sockets[0] as { getsockname(): unknown }).getsockname());
  const peers: Socket[] = [];
  for (let i = 0; i < n; i++) {
    const peer = socket('inet', 'stream');
    const r = peer.tryConnect({ address: '127.0.0.1', port });
    if (r !== 0 && r !== -EINPROGRESS) throw new Error(`connect: ${r}`);
    peers.push(peer);
  }
  await until(() => made.length === n && made.every((p) => p.transport !== null), 'every connection');
  await sleep(0.02); // reading starts in a callback after connectionMade
  // A server-side transport's peer port names its client.
  const byPort = new Map(made.map((p) => [portOf(p.transport!.getExtraInfo('peername')), p]));
  return { server, protocols: peers.map((c) => byPort.get(portOf(c.getsockname()))!), peers };
}

async function closeAll(server: AbstractServer, protocols: Recorder[], peers: Socket[]): Promise<void> {
  for (const p of peers) p.close();
  for (const p of protocols) p.transport!.close();
  server.close();
  await server.waitClosed();
}

/**
 * The scenarios, on loops `makeLoop` makes; `spyOnReads` spies on the read a transport makes
 * for itself (never called for a read the read-ahead made).
 */
function readAheadScenarios<L extends AbstractEventLoop>(makeLoop: () => L, spyOnReads: () => MockInstance): void {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('reads the sockets one wake-up found readable in one call, not a recv each; each protocol gets its own bytes', () =>
    runOn(makeLoop(), async (loop, reports) => {
      const { server, protocols, peers } = await connections(loop, 3);
      const recvs = spyOnReads();
      peers.forEach((p, i) => p.trySend(Buffer.from(`message ${i}`))); // one JavaScript turn: one wake-up finds all three
      await until(() => protocols.every((p) => p.received.length > 0), 'every message');
      expect(protocols.map((p) => p.received)).toEqual(['message 0', 'message 1', 'message 2']);
      expect(recvs).not.toHaveBeenCalled();
      expect(reports).toEqual([]);
      await closeAll(server, protocols, peers);
    }));

  it("reads one slab's room ahead at most: the sockets past it read themselves, every byte delivered", () =>
    runOn(makeLoop(), async (loop, reports) => {
      const { server, protocols, peers } = await connections(loop, 8);
      const recvs = spyOnReads();
      // 8 x 96 KiB in one turn: more than a receive slab (512 KiB) holds.
      const messages = peers.map((_, i) => Buffer.alloc(96 * 1024, 65 + i));
      peers.forEach((p, i) => expect(p.trySend(messages[i]!)).toBe(messages[i]!.length));
      await until(() => protocols.every((p, i) => p.received.length === messages[i]!.length), 'every message');
      expect(protocols.map((p) => p.received)).toEqual(messages.map((m) => m.toString('latin1')));
      // The wake-up's batch stopped where the slab's room ran out; the rest read for themselves.
      expect(recvs).toHaveBeenCalled();
      expect(reports).toEqual([]);
      await closeAll(server, protocols, peers);
    }));

  it('a transport paused by an earlier delivery of the same wake-up gets nothing until resumeReading, then its bytes and EOF in order', () =>
    runOn(makeLoop(), async (loop, reports) => {
      const { server, protocols, peers } = await connections(loop, 3);
      const recvs = spyOnReads();
      let first: Recorder | null = null;
      let recvsBeforePause = -1;
      for (const protocol of protocols) {
        protocol.onData = (self) => {
          if (first !== null) return;
          first = self;
          recvsBeforePause = recvs.mock.calls.length;
          for (const other of protocols) if (other !== self) other.transport!.pauseReading();
        };
      }
      peers.forEach((p, i) => {
        p.trySend(Buffer.from(`message ${i}`));
        p.shutdown(SHUT_WR);
      });
      await until(() => first !== null && first.events.includes('eof'), "the first protocol's EOF");
      const paused = protocols.filter((p) => p !== first);
      await sleep(0.05);
      expect(paused.map((p) => p.events)).toEqual([[], []]);
      // The wake-up read all three ahead: the pause came between deliveries of one batch.
      expect(recvsBeforePause).toBe(0);
      for (const p of paused) p.transport!.resumeReading();
      await until(() => paused.every((p) => p.events.includes('eof')), 'the EOFs on resume');
      expect(protocols.map((p) => p.received)).toEqual(['message 0', 'message 1', 'message 2']);
      expect(protocols.map((p) => p.events)).toEqual([['data', 'eof'], ['data', 'eof'], ['data', 'eof']]);
      expect(reports).toEqual([]);
      await closeAll(server, protocols, peers);
    }));

  it('a transport closed by an earlier delivery of the same wake-up gets no data, only connectionLost', () =>
    runOn(makeLoop(), async (loop, reports) => {
      const { server, protocols, peers } = await connections(loop, 3);
      const recvs = spyOnReads();
      let first: Recorder | null = null;
      for (const protocol of protocols) {
        protocol.onData = (self) => {
          if (first !== null) return;
          first = self;
          for (const other of protocols) if (other !== self) other.transport!.close();
        };
      }
      peers.forEach((p, i) => p.trySend(Buffer.from(`message ${i}`)));
      await until(() => protocols.every((p) => p === first || p.events.includes('lost')), 'connectionLost');
      await sleep(0.02);
      expect(protocols.map((p) => (p === first ? 'first' : p.events.join()))).toEqual(protocols.map((p) => (p === first ? 'first' : 'lost')));
      expect(first!.events).toEqual(['data']);
      expect(recvs).not.toHaveBeenCalled();
      expect(reports).toEqual([]);
      await closeAll(server, [first!], peers);
    }));

  it("reads made ahead that an exception escaping the loop's turn left undelivered come first when the loop runs again, with no recv of their own", async () => {
    const loop = lettingThrough(makeLoop());
    const reports: unknown[] = [];
    loop.setExceptionHandler((_loop, context) => reports.push(context));
    const log: string[] = [];
    try {
      const { server, protocols, peers } = await loop.runUntilComplete(() => connections(loop, 3));
      let interrupted = false;
      for (const p of protocols) {
        p.onData = (self) => {
          if (interrupted) return;
          interrupted = true;
          log.push(`interrupted ${protocols.indexOf(self)}`);
          loop.callSoon(() => log.push('queued by the interrupted'));
          throw new Interrupt('dataReceived');
        };
      }
      const recvs = spyOnReads();
      // Sent while the loop is stopped: its first poll finds all three readable and reads them in one call.
      peers.forEach((p, i) => p.trySend(Buffer.from(`message ${i}`)));
      await new Promise((resolve) => setTimeout(resolve, 20));
      await expect(loop.runUntilComplete(loop.createFuture())).rejects.toBeInstanceOf(Interrupt);
      expect(log).toHaveLength(1);
      const others = protocols.filter((_, i) => log[0] !== `interrupted ${i}`);
      for (const p of others) p.onData = () => log.push('delivered');
      expect(others.map((p) => p.received)).toEqual(['', '']);
      loop.callSoon(() => log.push('queued between runs'));
      await loop.runUntilComplete(() => until(() => others.every((p) => p.received.length > 0), 'the reads made ahead'));
      expect(log.slice(1)).toEqual(['delivered', 'delivered', 'queued by the interrupted', 'queued between runs']);
      expect(others.map((p) => p.received)).toEqual(protocols.flatMap((p, i) => (others.includes(p) ? [`message ${i}`] : [])));
      expect(recvs).not.toHaveBeenCalled();
      expect(reports).toEqual([]);
      await loop.runUntilComplete(() => closeAll(server, protocols, peers));
    } finally {
      loop.close();
    }
  });

  it('EOF and a reset are each delivered to their own transport when read in one wake-up', () =>
    runOn(makeLoop(), async (loop, reports) => {
      const { server, protocols, peers } = await connections(loop, 3);
      protocols[1]!.transport!.write(Buffer.from('never read'));
      await sleep(0.02);
      peers[0]!.trySend(Buffer.from('bytes then EOF'));
      peers[0]!.shutdown(SHUT_WR);
      peers[1]!.close(); // with unread bytes: the kernel resets the connection
      peers[2]!.trySend(Buffer.from('bytes'));
      await until(() => protocols[0]!.events.includes('eof') && protocols[1]!.events.length > 0 && protocols[2]!.events.length > 0, 'every outcome');
      expect(protocols[0]!.received).toBe('bytes then EOF');
      expect(protocols[0]!.events).toEqual(['data', 'eof']);
      expect(protocols[1]!.events).toEqual(['lost:ConnectionResetError']);
      expect(protocols[2]!.received).toBe('bytes');
      expect(protocols[2]!.events).toEqual(['data']);
      expect(reports).toEqual([]);
      await closeAll(server, [protocols[0]!, protocols[2]!], [peers[0]!, peers[2]!]);
    }));
}

describe("SelectorEventLoop's read-ahead", () => {
  readAheadScenarios(
    () => new SelectorEventLoop(),
    () => vi.spyOn(Socket.prototype, 'tryRecvInto'),
  );
});

/** A uring loop whose transports read directly from the start and stay direct (small rounds never go to the pool). */
function directUringLoop(): UringEventLoop {
  const proactor = new UringProactor();
  proactor._directReadFrom = 0;
  return new UringEventLoop(proactor);
}

describe.skipIf(UringProactor.problem() !== null)("UringEventLoop's read-ahead (direct reads)", () => {
  readAheadScenarios(directUringLoop, () => vi.spyOn(Socket.prototype, 'tryRecvInto'));
});
