/**
 * accept() hitting EMFILE does not stop a server, on every network loop. The server runs in
 * a child process started with `prlimit --nofile=128` (a low RLIMIT_NOFILE); the child then
 * opens /dev/null until open() fails with EMFILE, so the next accept has no fd to use.
 * Clients connect meanwhile; once the child closes those fds, the same server serves new
 * clients again. What each backend does with the connection that arrived during the
 * shortage differs and both are accepted: the selector loop (asyncio's way) reports
 * "socket.accept() out of system resource", stops accepting for 1 s and then accepts it;
 * Node's libuv (under the proactor) accepts and closes it at once with its reserved fd.
 */
import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import { Child, NET_LOOPS, hasPrlimit, hasProcFd, title } from './helpers.js';

/** Connect, send `text`, and resolve with what came back before the server closed or `ms` passed. */
function probe(port: number, text: string, ms: number): { done: Promise<{ echoed: string; closed: boolean }>; socket: net.Socket } {
  const socket = net.connect(port, '127.0.0.1');
  let echoed = '';
  const done = new Promise<{ echoed: string; closed: boolean }>((resolve) => {
    const timer = setTimeout(() => resolve({ echoed, closed: false }), ms);
    socket.on('connect', () => socket.write(text));
    socket.on('data', (d) => {
      echoed += d.toString();
      if (echoed === text) {
        clearTimeout(timer);
        resolve({ echoed, closed: false });
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ echoed, closed: true });
    });
  });
  return { done, socket };
}

describe.skipIf(!hasPrlimit || !hasProcFd)('accept hitting EMFILE (child under prlimit --nofile=128)', () => {
  for (const subject of NET_LOOPS) {
    it.skipIf(subject.make === null)(title(subject, 'the server survives the fd shortage and serves again once fds free up'), async () => {
      const child = new Child('emfile-server.mjs', [subject.name], { nofile: 128 });
      const sockets: net.Socket[] = [];
      try {
        const { port } = await child.next<{ port: number }>();
        // Serves before the shortage.
        const before = probe(port, 'before', 10_000);
        sockets.push(before.socket);
        expect(await before.done).toEqual({ echoed: 'before', closed: false });

        child.send({ op: 'exhaust' });
        const filled = await child.next<{ filled: number; code: string }>();
        expect(filled.code).toBe('EMFILE');
        expect(filled.filled).toBeGreaterThan(0);

        // Connections during the shortage: the kernel completes them (the listen backlog)
        // but the server cannot accept them into an fd.
        const during = [0, 1, 2].map((i) => probe(port, `during-${i}`, 20_000));
        sockets.push(...during.map((d) => d.socket));
        await new Promise((resolve) => setTimeout(resolve, 300));
        child.send({ op: 'status' });
        const mid = await child.next<{ serving: boolean; reports: Array<{ message: string; code: string | null }> }>();
        expect(mid.serving).toBe(true);

        child.send({ op: 'release' });
        await child.next();

        // Serves again once fds are free (the selector loop retries accept after 1 s).
        const after = probe(port, 'after the shortage', 15_000);
        sockets.push(after.socket);
        expect(await after.done).toEqual({ echoed: 'after the shortage', closed: false });

        // Every connection made during the shortage was either served late or closed; none hangs.
        for (const [i, d] of during.entries()) {
          const outcome = await d.done;
          expect(outcome.echoed === `during-${i}` || (outcome.closed && outcome.echoed === '')).toBe(true);
        }

        child.send({ op: 'status' });
        const end = await child.next<{ serving: boolean; reports: Array<{ message: string; code: string | null }> }>();
        expect(end.serving).toBe(true);
        for (const r of end.reports) {
          // The only thing reported is the shortage itself.
          expect(r).toEqual({ message: 'socket.accept() out of system resource', code: 'EMFILE' });
        }
        console.log(`${subject.name}: during the shortage: ${JSON.stringify(await Promise.all(during.map((d) => d.done)))}; reports: ${JSON.stringify(end.reports)}`);

        for (const s of sockets) s.destroy(); // server.waitClosed() in the child waits for these
        child.send({ op: 'quit' });
        await child.next();
        expect(await child.exit()).toBe(0);
      } finally {
        for (const s of sockets) s.destroy();
        child.kill();
      }
    }, 60_000);
  }
});
