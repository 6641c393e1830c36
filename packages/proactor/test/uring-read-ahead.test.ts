/**
 * UringEventLoop's read-ahead on direct reads: the directly read sockets one select() found
 * readable are read in one call into the addon, each transport delivering its read when it
 * runs (as the default loop's read-ahead). A protocol that pauses or closes another transport
 * between two of those deliveries must see what it would have seen had each transport read
 * for itself: nothing while paused (the bytes, and an EOF after them, come on resumeReading,
 * in order), nothing after a close.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Protocol, sleep, type Transport } from '@loopkit/core';
import { UringEventLoop, UringProactor } from '@loopkit/proactor';
import { SHUT_WR, Socket, socketpair } from '@loopkit/uv';
import { runOn } from './run-loop.js';

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

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000 && !condition(); i++) await sleep(0.001);
  if (!condition()) throw new Error(`timed out waiting for ${what}`);
}

/** A loop whose transports read directly from the start and stay direct (small rounds never go to the pool). */
function directLoop(): UringEventLoop {
  const proactor = new UringProactor();
  proactor._directReadFrom = 0;
  return new UringEventLoop(proactor);
}

/** `n` transports on socket pairs: the Recorders (reading) and each one's raw peer. */
async function connections(loop: UringEventLoop, n: number): Promise<{ protocols: Recorder[]; peers: Socket[] }> {
  const protocols: Recorder[] = [];
  const peers: Socket[] = [];
  for (let i = 0; i < n; i++) {
    const [a, b] = socketpair();
    const [, protocol] = await loop.createConnection(() => new Recorder(), null, null, { sock: a });
    protocols.push(protocol as Recorder);
    peers.push(b);
  }
  await sleep(0.02); // reading starts in a callback after connectionMade
  return { protocols, peers };
}

function closeAll(protocols: Recorder[], peers: Socket[]): void {
  for (const p of peers) p.close();
  for (const p of protocols) p.transport!.close();
}

describe.skipIf(UringProactor.problem() !== null)("UringEventLoop's read-ahead (direct reads)", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('reads the sockets one select found readable in one call, not a recv each; each protocol gets its own bytes', () =>
    runOn(directLoop(), async (loop) => {
      const { protocols, peers } = await connections(loop, 3);
      const recvs = vi.spyOn(Socket.prototype, 'tryRecvInto');
      peers.forEach((p, i) => p.trySend(Buffer.from(`message ${i}`))); // one JavaScript turn: one select finds all three
      await until(() => protocols.every((p) => p.received.length > 0), 'every message');
      expect(protocols.map((p) => p.received)).toEqual(['message 0', 'message 1', 'message 2']);
      expect(recvs).not.toHaveBeenCalled();
      closeAll(protocols, peers);
    }));

  it("reads one slab's room ahead at most: the sockets past it read themselves, every byte delivered", () =>
    runOn(directLoop(), async (loop) => {
      const { protocols, peers } = await connections(loop, 8);
      const recvs = vi.spyOn(Socket.prototype, 'tryRecvInto');
      // 8 x 96 KiB in one turn: more than a receive slab (512 KiB) holds.
      const messages = peers.map((_, i) => Buffer.alloc(96 * 1024, 65 + i));
      peers.forEach((p, i) => expect(p.trySend(messages[i]!)).toBe(messages[i]!.length));
      await until(() => protocols.every((p, i) => p.received.length === messages[i]!.length), 'every message');
      expect(protocols.map((p) => p.received)).toEqual(messages.map((m) => m.toString('latin1')));
      // The batch stopped where the slab's room ran out; the rest read for themselves.
      expect(recvs).toHaveBeenCalled();
      closeAll(protocols, peers);
    }));

  it('a transport paused by an earlier delivery of the same select gets nothing until resumeReading, then its bytes and EOF in order', () =>
    runOn(directLoop(), async (loop) => {
      const { protocols, peers } = await connections(loop, 3);
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
      peers.forEach((p, i) => {
        p.trySend(Buffer.from(`message ${i}`));
        p.shutdown(SHUT_WR);
      });
      await until(() => first !== null && first.events.includes('eof'), "the first protocol's EOF");
      const paused = protocols.filter((p) => p !== first);
      await sleep(0.05);
      expect(paused.map((p) => p.events)).toEqual([[], []]);
      // The select read all three ahead: the pause came between deliveries of one batch.
      expect(recvsBeforePause).toBe(0);
      for (const p of paused) p.transport!.resumeReading();
      await until(() => paused.every((p) => p.events.includes('eof')), 'the EOFs on resume');
      expect(protocols.map((p) => p.received)).toEqual(['message 0', 'message 1', 'message 2']);
      expect(protocols.map((p) => p.events)).toEqual([['data', 'eof'], ['data', 'eof'], ['data', 'eof']]);
      closeAll(protocols, peers);
    }));

  it('a transport closed by an earlier delivery of the same select gets no data, only connectionLost', () =>
    runOn(directLoop(), async (loop) => {
      const { protocols, peers } = await connections(loop, 3);
      const recvs = vi.spyOn(Socket.prototype, 'tryRecvInto');
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
      closeAll([first!], peers);
    }));

  it('EOF and a reset are each delivered to their own transport when read in one select', () =>
    runOn(directLoop(), async (loop) => {
      const { protocols, peers } = await connections(loop, 3);
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
      closeAll([protocols[0]!, protocols[2]!], [peers[0]!, peers[2]!]);
    }));
});
