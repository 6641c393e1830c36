/**
 * No fd leaks after 10,000 connect/close cycles on every network loop, both ends on the
 * loop under test, eight cycles in flight at a time, cycling through every way a
 * connection ends: client close, data then close, half-close (writeEof), client abort,
 * server-side close, server-side abort mid-data (a reset), and a refused connect.
 * /proc/self/fd is counted after a warm-up (each kind once) and again once the closes
 * settled; every protocol on both ends got connectionLost exactly once.
 */
import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import { ConnectionRefusedError, type Transport } from '@loopkit/core';
import { ClientSide, ServerSide, endConnection, newCounts } from './cycle-protocols.js';
import { NET_LOOPS, hasProcFd, openFds, portOf, title, waitUntil, withLoop, type ServerLike } from './helpers.js';

const CYCLES = 10_000;
const IN_FLIGHT = 8;

const KINDS = ['close', 'data-close', 'write-eof', 'abort', 'server-close', 'server-abort', 'refused'] as const;

describe.skipIf(!hasProcFd)('no fd leaked over 10,000 connect/close cycles', () => {
  for (const subject of NET_LOOPS) {
    it.skipIf(subject.make === null)(title(subject, 'every ending kind, 8 in flight'), () =>
      withLoop(subject.make!, async (loop, reports) => {
        const serverCounts = newCounts();
        const clientCounts = newCounts();
        const echo = (await loop.createServer(() => new ServerSide('echo', serverCounts), '127.0.0.1', 0, { backlog: 512 })) as unknown as ServerLike;
        const closer = (await loop.createServer(() => new ServerSide('close', serverCounts), '127.0.0.1', 0, { backlog: 512 })) as unknown as ServerLike;
        const aborter = (await loop.createServer(() => new ServerSide('abort', serverCounts), '127.0.0.1', 0, { backlog: 512 })) as unknown as ServerLike;
        const probe = net.createServer();
        await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
        const refusedPort = (probe.address() as net.AddressInfo).port;
        await new Promise<void>((resolve) => probe.close(() => resolve()));
        const payload = Buffer.alloc(1000, 7);
        let refused = 0;

        const cycle = async (kind: (typeof KINDS)[number]): Promise<void> => {
          if (kind === 'refused') {
            const error = await loop.createConnection(() => new ClientSide(loop, clientCounts), '127.0.0.1', refusedPort).then(
              () => null,
              (e: unknown) => e,
            );
            expect(error).toBeInstanceOf(ConnectionRefusedError);
            refused += 1;
            return;
          }
          const port = portOf(kind === 'server-close' ? closer : kind === 'server-abort' ? aborter : echo);
          const [t, c] = (await loop.createConnection(() => new ClientSide(loop, clientCounts), '127.0.0.1', port)) as [Transport, ClientSide];
          await endConnection(kind, t, c, payload);
        };

        // Warm-up: every kind once, so lazily opened fds (Node internals) are counted in the baseline.
        for (const kind of KINDS) await cycle(kind);
        await waitUntil(() => serverCounts.lost === serverCounts.made, 10, 'warm-up settled');
        const before = openFds();

        let next = 0;
        const worker = async (): Promise<void> => {
          while (next < CYCLES) {
            const i = next++;
            await cycle(KINDS[i % KINDS.length]!);
          }
        };
        await Promise.all(Array.from({ length: IN_FLIGHT }, worker));

        await waitUntil(() => serverCounts.lost === serverCounts.made, 15, 'every server side lost');
        await waitUntil(() => openFds() <= before, 10, `fds back to ${before} (now ${openFds()})`);
        expect(openFds() - before).toBe(0);
        const connected = CYCLES + KINDS.length - refused;
        expect(clientCounts).toEqual({ made: connected, lost: connected, twice: 0 });
        expect(serverCounts).toEqual({ made: connected, lost: connected, twice: 0 });
        for (const s of [echo, closer, aborter]) s.close();
        for (const s of [echo, closer, aborter]) await s.waitClosed();
        expect(reports).toEqual([]);
      }), 120_000);
  }
});

