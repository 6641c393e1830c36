/**
 * 10,000 concurrent idle connections, held and then closed cleanly, on every network loop.
 * The server runs on the loop under test in this process; the 10,000 clients run on the same
 * loop class in a child process, since both ends in one process need 20,000 fds plus a few
 * and the hard RLIMIT_NOFILE here is 20,000 (raising it needs CAP_SYS_RESOURCE). A soft
 * limit below what is needed is raised with prlimit up to the hard one; where even that is
 * too low, the test holds as many as fit and prints the figure.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { Protocol, type AbstractEventLoop, type Transport } from '@loopkit/core';
import { Child, NET_LOOPS, hasPrlimit, hasProcFd, nofileLimits, openFds, portOf, title, waitUntil, withLoop, type ServerLike } from './helpers.js';

const CONNECTIONS = 10_000;

class ServerSide extends Protocol {
  transport: Transport | null = null;
  lostWith: unknown = undefined;
  lostCount = 0;
  eof = false;
  constructor(private readonly live: Set<ServerSide>, private readonly stats: { made: number; lost: number; peak: number }) {
    super();
  }
  override connectionMade(t: Transport): void {
    this.transport = t;
    this.live.add(this);
    this.stats.made += 1;
    this.stats.peak = Math.max(this.stats.peak, this.live.size);
  }
  override dataReceived(): void {
    throw new Error('an idle connection received data');
  }
  override eofReceived(): boolean {
    this.eof = true;
    return false;
  }
  override connectionLost(exc: unknown): void {
    this.lostCount += 1;
    this.lostWith = exc;
    this.live.delete(this);
    this.stats.lost += 1;
  }
}

/**
 * How many connections this process can hold: RLIMIT_NOFILE's soft limit is raised to what
 * 10,000 need (with `prlimit --pid`, allowed up to the hard limit), else the figure is what fits.
 */
function reachableConnections(): number {
  const need = CONNECTIONS + 200;
  let { soft, hard } = nofileLimits();
  if (soft < need && hasPrlimit) {
    spawnSync('prlimit', ['--pid', String(process.pid), `--nofile=${Math.min(need, hard)}:${hard}`]);
    ({ soft, hard } = nofileLimits());
  }
  return Math.min(CONNECTIONS, (soft - 200) & ~1);
}

describe.skipIf(!hasProcFd)('10,000 concurrent idle connections', () => {
  for (const subject of NET_LOOPS) {
    it.skipIf(subject.make === null)(title(subject, 'held at once, then closed cleanly from both ends'), async () => {
      const count = reachableConnections();
      if (count < CONNECTIONS) console.warn(`RLIMIT_NOFILE allows only ${count} concurrent connections here (hard limit ${nofileLimits().hard})`);
      expect(count).toBeGreaterThanOrEqual(1000);
      const need = count + 200;
      let child: Child | null = null;
      try {
        await withLoop(subject.make!, async (loop: AbstractEventLoop, reports) => {
          const live = new Set<ServerSide>();
          const all: ServerSide[] = [];
          const stats = { made: 0, lost: 0, peak: 0 };
          const server = (await loop.createServer(
            () => {
              const p = new ServerSide(live, stats);
              all.push(p);
              return p;
            },
            '127.0.0.1',
            0,
            { backlog: 4096 },
          )) as unknown as ServerLike;
          const fdsBefore = openFds();
          child = new Child('idle-clients.mjs', [subject.name, String(portOf(server)), String(count)], { nofile: Math.min(need, nofileLimits().hard) });
          const held = await child.next<{ held: number }>(90_000);
          expect(held.held).toBe(count);
          await waitUntil(() => stats.made === count, 30, 'every connection accepted');
          // All of them open at the same time, on both sides.
          expect(live.size).toBe(count);
          expect(stats.lost).toBe(0);
          expect(openFds() - fdsBefore).toBeGreaterThanOrEqual(count);

          // Half close from the client side (the server sees EOF), half from the server side.
          child.send({ op: 'close', from: 0, to: count / 2 });
          await child.next();
          await waitUntil(() => stats.lost === count / 2, 30, 'the client-closed half lost');
          const serverClosed = [...live];
          expect(serverClosed.length).toBe(count / 2);
          for (const p of serverClosed) p.transport!.close();
          child.send({ op: 'await-lost' });
          const done = await child.next<{ lost: number; eofs: number; errorCount: number; errors: string[]; reports: string[] }>(90_000);
          expect(done).toMatchObject({ lost: count, eofs: count / 2, errorCount: 0, reports: [] });
          await waitUntil(() => stats.lost === count, 30, 'every server side lost');

          expect(all.every((p) => p.lostCount === 1 && p.lostWith === null)).toBe(true);
          expect(all.filter((p) => p.eof).length).toBe(count / 2);
          expect(stats.peak).toBe(count);
          expect(reports).toEqual([]);
          server.close();
          await server.waitClosed();
          expect(await child.exit()).toBe(0);
          await waitUntil(() => openFds() <= fdsBefore, 10, 'server-side fds released');
        });
      } finally {
        (child as Child | null)?.kill();
      }
    }, 180_000);
  }
});
