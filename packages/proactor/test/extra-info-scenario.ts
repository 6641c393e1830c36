/**
 * A connection's extra info made when first asked for, from the addresses read when the
 * connection was made (NetProactor's and uring's transports, as the selector's): what a
 * server asks in connectionLost must still be there after the peer's reset and after its own
 * close(), and what it asks while open must be what the socket itself gives.
 */
import * as net from 'node:net';
import { expect } from 'vitest';
import { Protocol, sleep, type AbstractEventLoop, type Transport } from '@loopkit/core';

async function until(ready: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (ready()) return;
    await sleep(0.01);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Runs the scenario on `loop` (inside one of its tasks). */
export async function extraInfoMadeWhenAsked(loop: AbstractEventLoop): Promise<void> {
  const seen: Array<[unknown, unknown]> = [];
  const socketSays: unknown[] = [];
  const made: Transport[] = [];
  class AsksAtLost extends Protocol {
    transport: Transport | null = null;
    override connectionMade(transport: Transport): void {
      this.transport = transport;
      made.push(transport);
    }
    override connectionLost(): void {
      seen.push([this.transport!.getExtraInfo('sockname'), this.transport!.getExtraInfo('peername')]);
      try {
        socketSays.push(this.transport!.getExtraInfo<{ getpeername(): unknown }>('socket')!.getpeername());
      } catch (error) {
        socketSays.push((error as { code?: unknown }).code);
      }
    }
  }
  const server = await loop.createServer(() => new AsksAtLost(), '127.0.0.1', 0);
  const port = (server.sockets[0]!.getsockname() as { port: number }).port;
  const local = { address: '127.0.0.1', family: 'IPv4', port };
  const connected = async (count: number): Promise<net.Socket> => {
    const peer = net.connect(port, '127.0.0.1');
    await new Promise((resolve) => peer.once('connect', resolve));
    await until(() => made.length === count, 'accepted');
    return peer;
  };
  // A peer that resets before anyone asked: the socket can no longer tell its address by then.
  const resetter = await connected(1);
  // Not made while nobody asks (the info and its address objects: ~150 bytes per idle connection).
  expect(Object.keys((made[0] as unknown as { _extra: object })._extra)).toEqual([]);
  const resetterPort = resetter.localPort;
  resetter.resetAndDestroy();
  await until(() => seen.length === 1, 'connectionLost after the reset');
  expect(seen[0]).toEqual([local, { address: '127.0.0.1', family: 'IPv4', port: resetterPort }]);
  // The socket itself is asked (as Python's): no address once reset.
  expect(socketSays[0]).toBe('ENOTCONN');
  // Asked while open: the same objects every time, equal to what the socket itself gives.
  const peer = await connected(2);
  const transport = made[1]!;
  const sock = transport.getExtraInfo('socket') as { getsockname(): unknown; getpeername(): unknown };
  expect(transport.getExtraInfo('peername')).toEqual(sock.getpeername());
  expect(transport.getExtraInfo('sockname')).toEqual(sock.getsockname());
  expect(transport.getExtraInfo('peername')).toBe(transport.getExtraInfo('peername'));
  expect(transport.getExtraInfo('peername')).toEqual({ address: '127.0.0.1', family: 'IPv4', port: peer.localPort });
  // Closed by us without anyone asking: still there in connectionLost.
  const closer = await connected(3);
  const closerPort = closer.localPort;
  made[2]!.close();
  await until(() => seen.length === 2, 'connectionLost after close()');
  expect(seen[1]).toEqual([local, { address: '127.0.0.1', family: 'IPv4', port: closerPort }]);
  peer.destroy();
  closer.destroy();
  server.close();
  await server.waitClosed();
}
