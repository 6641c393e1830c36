/**
 * `loop.sockAccept` cancelled in the iteration its connection is accepted, on every network
 * loop (the io_uring one where the kernel has it), with a uv listener and node:net clients.
 * Whichever wins (the caller gets the connection, or CancelledError), no fd is left behind and
 * the listener serves on.
 *
 * Session 25 found the ProactorEventLoop (NetProactor on a uv Socket) leaking one fd each time:
 * the accept completed in the loop's I/O step, the cancel queued before it then threw
 * CancelledError at the call's await, and the accepted socket reached nobody and was never
 * closed. It is now closed, so the client sees its connection end (asyncio 3.13 drops such a
 * connection too, to the garbage collector; Node has none for an fd).
 */
import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import { CancelledError, sleep, type AbstractEventLoop } from '@loopkit/core';
import { UringEventLoop, UringProactor } from '@loopkit/proactor';
import { socket, type Socket } from '@loopkit/uv';
import { NET_LOOPS, hasProcFd, openFds, title, withLoop } from './helpers.js';

const SUBJECTS = [
  ...NET_LOOPS,
  UringProactor.problem() === null
    ? { name: 'UringEventLoop', make: () => new UringEventLoop() as AbstractEventLoop, reason: null }
    : { name: 'UringEventLoop', make: null, reason: UringProactor.problem() },
];

/** A node:net client of `port`, once connected (its end of the accept race). */
async function connected(port: number): Promise<net.Socket> {
  const client = net.connect(port, '127.0.0.1');
  client.on('error', () => {});
  await new Promise<void>((resolve) => client.once('connect', resolve));
  return client;
}

describe.skipIf(!hasProcFd)('sockAccept cancelled as its connection arrives', () => {
  for (const subject of SUBJECTS) {
    describe.skipIf(subject.make === null)(subject.name, () => {
      it(title(subject, '20 rounds: the connection is the caller\'s or closed, no fd left, the listener serves on'), () =>
        withLoop(subject.make!, async (loop, reports) => {
          const listener = socket('inet', 'stream');
          listener.bind({ address: '127.0.0.1', port: 0 });
          listener.listen(100);
          const port = (listener.getsockname() as { port: number }).port;
          const round = async (): Promise<'accepted' | 'cancelled'> => {
            const task = loop.createTask(async () => await loop.sockAccept(listener));
            await sleep(0);
            const client = await connected(port);
            loop.callSoon(() => task.cancel());
            try {
              const [conn] = (await task) as [Socket, unknown];
              conn.close();
              return 'accepted';
            } catch (error) {
              if (!(error instanceof CancelledError)) throw error;
              return 'cancelled';
            } finally {
              client.destroy();
            }
          };
          await round();
          await sleep(0.05);
          const before = openFds();
          for (let i = 0; i < 20; i++) await round();
          await sleep(0.1);
          expect(openFds()).toBe(before);
          // Served on: a plain accept gets the next client.
          const client = await connected(port);
          const [conn] = (await loop.sockAccept(listener)) as [Socket, unknown];
          conn.close();
          client.destroy();
          listener.close();
          expect(reports).toEqual([]);
        }));
    });
  }
});
