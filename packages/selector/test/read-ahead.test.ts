/**
 * The default loop's read-ahead: the hosted sockets one wake-up found readable are read in
 * one call into the addon, each transport delivering its read when it runs. A protocol that
 * pauses or closes another transport between two of those deliveries must see what it would
 * have seen had each transport read for itself: nothing delivered while paused (the bytes, and
 * an EOF after them, come on resumeReading, in order), nothing after a close.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Protocol, sleep, type Server, type Transport } from '@loopkit/core';
import { Socket, SHUT_WR, socket } from '@loopkit/uv';
import { SelectorEventLoop } from '@loopkit/selector';
import { onLoop, waitUntil } from './support.js';

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
    this.received += Buffer.from(data).toString();
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

function portOf(address: unknown): number {
  return Array.isArray(address) ? (address[1] as number) : (address as { port: number }).port;
}

/** `n` connections to a server on `loop`: the clients (raw sockets) and, index for index, the server's protocols, reading. */
async function connections(loop: SelectorEventLoop, n: number): Promise<{ server: Server<Socket>; clients: Socket[]; protocols: Recorder[] }> {
  const made: Recorder[] = [];
  const server = await loop.createServer(() => {
    const protocol = new Recorder();
    made.push(protocol);
    return protocol;
  }, '127.0.0.1', 0);
  const port = (server.sockets[0]!.getsockname() as { port: number }).port;
  const clients: Socket[] = [];
  for (let i = 0; i < n; i++) {
    const client = socket('inet', 'stream');
    await loop.sockConnect(client, { address: '127.0.0.1', port });
    clients.push(client);
  }
  await waitUntil(() => made.length === n && made.every((p) => p.transport !== null));
  await sleep(0.02); // reading starts in a callback after connectionMade
  // A server-side transport's peer port names its client.
  const byPort = new Map(made.map((p) => [portOf(p.transport!.getExtraInfo('peername')), p]));
  const protocols = clients.map((c) => byPort.get(portOf(c.getsockname()))!);
  return { server, clients, protocols };
}

async function closeAll(server: Server<Socket>, clients: Socket[], protocols: Recorder[]): Promise<void> {
  for (const c of clients) c.close();
  for (const p of protocols) p.transport!.close();
  server.close();
  await server.waitClosed();
}

describe("SelectorEventLoop's read-ahead", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("reads the sockets one wake-up found readable in one call, not a recv each; each protocol gets its own bytes", () =>
    onLoop(async (loop, reports) => {
      const { server, clients, protocols } = await connections(loop, 3);
      const recvs = vi.spyOn(Socket.prototype, 'tryRecvInto');
      clients.forEach((c, i) => c.trySend(Buffer.from(`message ${i}`))); // one JavaScript turn: one wake-up finds all three
      await waitUntil(() => protocols.every((p) => p.received.length > 0));
      expect(protocols.map((p) => p.received)).toEqual(['message 0', 'message 1', 'message 2']);
      expect(recvs).not.toHaveBeenCalled();
      expect(reports).toEqual([]);
      await closeAll(server, clients, protocols);
    }));

  it("reads one slab's room ahead at most: the sockets past it read themselves, every byte delivered", () =>
    onLoop(async (loop, reports) => {
      const { server, clients, protocols } = await connections(loop, 8);
      const recvs = vi.spyOn(Socket.prototype, 'tryRecvInto');
      // 8 x 96 KiB in one turn: more than a receive slab (512 KiB) holds.
      const messages = clients.map((_, i) => Buffer.alloc(96 * 1024, 65 + i));
      clients.forEach((c, i) => expect(c.trySend(messages[i]!)).toBe(messages[i]!.length));
      await waitUntil(() => protocols.every((p, i) => p.received.length === messages[i]!.length));
      expect(protocols.map((p) => p.received)).toEqual(messages.map((m) => m.toString()));
      // The wake-up's batch stopped where the slab's room ran out; the rest read for themselves.
      expect(recvs).toHaveBeenCalled();
      expect(reports).toEqual([]);
      await closeAll(server, clients, protocols);
    }));

  it('a transport paused by an earlier delivery of the same wake-up gets nothing until resumeReading, then its bytes and EOF in order', () =>
    onLoop(async (loop, reports) => {
      const { server, clients, protocols } = await connections(loop, 3);
      const recvs = vi.spyOn(Socket.prototype, 'tryRecvInto');
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
      clients.forEach((c, i) => {
        c.trySend(Buffer.from(`message ${i}`));
        c.shutdown(SHUT_WR);
      });
      await waitUntil(() => first !== null && first.events.includes('eof'));
      const paused = protocols.filter((p) => p !== first);
      await sleep(0.05);
      expect(paused.map((p) => p.events)).toEqual([[], []]);
      // The wake-up read all three ahead: the pause came between deliveries of one batch.
      expect(recvsBeforePause).toBe(0);
      for (const p of paused) p.transport!.resumeReading();
      await waitUntil(() => paused.every((p) => p.events.includes('eof')));
      expect(protocols.map((p) => p.received)).toEqual(['message 0', 'message 1', 'message 2']);
      expect(protocols.map((p) => p.events)).toEqual([['data', 'eof'], ['data', 'eof'], ['data', 'eof']]);
      expect(reports).toEqual([]);
      await closeAll(server, clients, protocols);
    }));

  it('a transport closed by an earlier delivery of the same wake-up gets no data, only connectionLost', () =>
    onLoop(async (loop, reports) => {
      const { server, clients, protocols } = await connections(loop, 3);
      let first: Recorder | null = null;
      for (const protocol of protocols) {
        protocol.onData = (self) => {
          if (first !== null) return;
          first = self;
          for (const other of protocols) if (other !== self) other.transport!.close();
        };
      }
      clients.forEach((c, i) => c.trySend(Buffer.from(`message ${i}`)));
      await waitUntil(() => protocols.every((p) => p === first || p.events.includes('lost')));
      await sleep(0.02);
      expect(protocols.map((p) => (p === first ? 'first' : p.events.join()))).toEqual(
        protocols.map((p) => (p === first ? 'first' : 'lost')),
      );
      expect(first!.events).toEqual(['data']);
      expect(reports).toEqual([]);
      await closeAll(server, clients, protocols.filter((p) => p === first));
    }));

  it('EOF and a reset are each delivered to their own transport when read in one wake-up', () =>
    onLoop(async (loop, reports) => {
      const { server, clients, protocols } = await connections(loop, 3);
      protocols[1]!.transport!.write(Buffer.from('never read'));
      await sleep(0.02);
      clients[0]!.trySend(Buffer.from('bytes then EOF'));
      clients[0]!.shutdown(SHUT_WR);
      clients[1]!.close(); // with unread bytes: the kernel resets the connection
      clients[2]!.trySend(Buffer.from('bytes'));
      await waitUntil(
        () => protocols[0]!.events.includes('eof') && protocols[1]!.events.length > 0 && protocols[2]!.events.length > 0,
      );
      expect(protocols[0]!.received).toBe('bytes then EOF');
      expect(protocols[0]!.events).toEqual(['data', 'eof']);
      expect(protocols[1]!.events).toEqual(['lost:ConnectionResetError']);
      expect(protocols[2]!.received).toBe('bytes');
      expect(protocols[2]!.events).toEqual(['data']);
      expect(reports).toEqual([]);
      await closeAll(server, [clients[0]!, clients[2]!], [protocols[0]!, protocols[2]!]);
    }));

  it('reads made ahead whose entries never ran (a batch dropped by an escaping exception) are delivered at the next poll', () =>
    onLoop(async (loop, reports) => {
      const { server, clients, protocols } = await connections(loop, 2);
      for (const p of protocols) p.transport!.pauseReading();
      clients.forEach((c, i) => c.trySend(Buffer.from(`message ${i}`)));
      await sleep(0.02);
      // As the loop's ioPoll does, but without queueing the transports' read entries: as if
      // an exception had dropped the rest of the batch that held them.
      for (const p of protocols) p.transport!.resumeReading();
      for (const p of protocols) loop._readAhead.queue(p.transport as unknown as Parameters<typeof loop._readAhead.queue>[0]);
      loop._readAhead.read();
      // The kernel holds nothing more for them: only the loop's next poll can deliver what was read.
      await waitUntil(() => protocols.every((p) => p.received.length > 0));
      expect(protocols.map((p) => p.received)).toEqual(['message 0', 'message 1']);
      expect(reports).toEqual([]);
      await closeAll(server, clients, protocols);
    }));
});
