/**
 * 1,000 TLS connect/close cycles on every network loop, both ends on the loop under test,
 * eight in flight, cycling through the ways a TLS connection ends: a clean close
 * (close_notify both ways), data then close, the server closing at once, a client abort,
 * the server aborting mid-data, and a handshake our client refuses (the server's
 * certificate names another host: SSLCertVerificationError at the client, one
 * 'SSL handshake failed' report at the server).
 * After a warm-up (each kind a few times), then again at the end once the closes settled:
 * /proc/self/fd must be back exactly, no TLS engine may be left alive (@loopkit/uv's
 * tlsStats), and the JS heap after a full GC may not grow by more than 2 MiB (printed with
 * the RSS, for the record). Every protocol that was made gets connectionLost exactly once.
 * tests/conformance/tls.ts checks 200 clean cycles one at a time; this is the stress form.
 */
import { describe, expect, it } from 'vitest';
import { SSLCertVerificationError, type Transport } from '@loopkit/core';
import { tlsStats } from '@loopkit/uv';
import { ClientSide, ServerSide, endConnection, newCounts } from './cycle-protocols.js';
import { NET_LOOPS, hasProcFd, openFds, portOf, title, waitUntil, withLoop, type ServerLike } from './helpers.js';
import { certs, tlsMissing } from './tls-helpers.js';

/** TLS_CYCLES=n runs more, to tell growth per cycle from one-off growth. */
const CYCLES = Number(process.env.TLS_CYCLES ?? 1000);
const IN_FLIGHT = 8;
const KINDS = ['close', 'data-close', 'server-close', 'abort', 'server-abort', 'verify-fail'] as const;

function heapAfterGc(): { heap: number; rss: number } {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, rss: m.rss };
}

describe.skipIf(tlsMissing !== null || !hasProcFd)('TLS: 1,000 connect/close cycles leak no fd, engine or memory', () => {
  for (const subject of NET_LOOPS) {
    it.skipIf(subject.make === null)(title(subject, 'every ending kind, 8 in flight'), () =>
      withLoop(subject.make!, async (loop, reports) => {
        const c = certs();
        const serverSsl = { key: c.serverKey, cert: c.serverCert };
        const serverCounts = newCounts();
        const clientCounts = newCounts();
        const serve = async (mode: 'echo' | 'close' | 'abort'): Promise<ServerLike> =>
          (await loop.createServer(() => new ServerSide(mode, serverCounts), '127.0.0.1', 0, { backlog: 512, ssl: serverSsl })) as unknown as ServerLike;
        const [echo, closer, aborter] = [await serve('echo'), await serve('close'), await serve('abort')];
        // One options object for every client: the layer compiles it into a context once.
        const clientSsl = { ca: c.ca };
        const payload = Buffer.alloc(1000, 7);
        let refused = 0;

        const cycle = async (kind: (typeof KINDS)[number]): Promise<void> => {
          const port = portOf(kind === 'server-close' ? closer : kind === 'server-abort' ? aborter : echo);
          const connect = (serverHostname: string) =>
            loop.createConnection(() => new ClientSide(loop, clientCounts), '127.0.0.1', port, { ssl: clientSsl, serverHostname });
          if (kind === 'verify-fail') {
            const error = await connect('wrong.example').then(
              () => null,
              (e: unknown) => e,
            );
            expect(error).toBeInstanceOf(SSLCertVerificationError);
            refused += 1;
            return;
          }
          const [t, p] = (await connect('localhost')) as [Transport, ClientSide];
          await endConnection(kind, t, p, payload);
        };

        // The reports' messages only: a kept report holds its transport, protocol and error,
        // which would show in the heap figure as growth that is the test's, not the loop's.
        const reported: string[] = [];
        const keepMessages = (): void => {
          for (const r of reports.splice(0)) reported.push(r.message);
        };
        let next = 0;
        const run = async (total: number): Promise<void> => {
          next = 0;
          const worker = async (): Promise<void> => {
            while (next < total) {
              const i = next++;
              await cycle(KINDS[i % KINDS.length]!);
              keepMessages();
            }
          };
          await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
          await waitUntil(() => serverCounts.lost === serverCounts.made, 15, 'every server side lost');
          // A refused client's engine closes (and its socket before it) a few callbacks after
          // its handshake failed: measuring before then counted it as the baseline's own.
          await waitUntil(() => tlsStats().engines === 0, 15, 'every engine closed');
        };

        // Warm-up: lazily made things (Node internals, the contexts, the heap's shape) are in the baseline.
        await run(KINDS.length * 10);
        const warm = { fds: openFds(), engines: tlsStats().engines, ...heapAfterGc() };
        const t0 = loop.time();
        await run(CYCLES);
        const took = loop.time() - t0;
        await waitUntil(() => openFds() <= warm.fds, 10, `fds back to ${warm.fds} (now ${openFds()})`);
        const end = { fds: openFds(), engines: tlsStats().engines, ...heapAfterGc() };
        console.log(
          `${subject.name}: ${CYCLES} TLS cycles in ${took.toFixed(1)} s; fds ${warm.fds} -> ${end.fds}; live engines ${warm.engines} -> ${end.engines}; ` +
            `heap ${(warm.heap / 2 ** 20).toFixed(1)} -> ${(end.heap / 2 ** 20).toFixed(1)} MiB; rss ${(warm.rss / 2 ** 20).toFixed(1)} -> ${(end.rss / 2 ** 20).toFixed(1)} MiB`,
        );
        expect(end.fds - warm.fds).toBe(0);
        expect(end.engines).toBe(warm.engines);
        expect(end.heap - warm.heap).toBeLessThan(2 * 2 ** 20);

        const connected = CYCLES + KINDS.length * 10 - refused;
        expect(clientCounts).toEqual({ made: connected, lost: connected, twice: 0 });
        expect(serverCounts).toEqual({ made: connected, lost: connected, twice: 0 });
        // One report per refused handshake, at the server, and nothing else.
        keepMessages();
        expect(reported).toEqual(Array(refused).fill('SSL handshake failed'));
        for (const s of [echo, closer, aborter]) s.close();
        for (const s of [echo, closer, aborter]) await s.waitClosed();
      }), 180_000);
  }
});
