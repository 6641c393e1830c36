/** UringProactor / UringEventLoop: how completions reach the loop (Linux with io_uring only). */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { Protocol, receiveSlab, sleep, type Transport } from '@loopkit/core';
import { UringEventLoop, UringProactor } from '@loopkit/proactor';
import { socketpair, Uring } from '@loopkit/uv';

/**
 * A one-connection ping-pong client on its own thread (so its sends reach the kernel while
 * the loop's thread sleeps, possibly from another CPU): `rounds` round trips of one
 * message each, then it posts the number it completed.
 */
function pingPongClient(port: number, rounds: number): Worker {
  const source = `
    const net = require('node:net');
    const { parentPort, workerData } = require('node:worker_threads');
    const sock = net.connect(workerData.port, '127.0.0.1', () => sock.write('x'));
    sock.setNoDelay(true);
    let done = 0;
    sock.on('data', (chunk) => {
      done += chunk.length;
      if (done < workerData.rounds) sock.write('x');
      else sock.end(() => parentPort.postMessage(done));
    });
  `;
  return new Worker(source, { eval: true, workerData: { port, rounds } });
}

class Echo extends Protocol {
  private transport: Transport | null = null;
  override connectionMade(transport: Transport): void {
    this.transport = transport;
  }
  override dataReceived(data: Uint8Array): void {
    this.transport!.write(data);
  }
}

describe.skipIf(UringProactor.problem() !== null)('UringEventLoop: completions wake the loop at once', () => {
  it('a one-connection ping-pong wakes the loop once per round trip, each time with a completion to take', async () => {
    const rounds = 300;
    const proactor = new UringProactor();
    // Count the proactor's wake-ups that end an idle wait, and those after which the loop's
    // I/O step found nothing: a completion signalled late or twice shows up as one too many.
    let wakes = 0;
    let empty = 0;
    let sleeping = false;
    let justWoke = false;
    const setWakeup = proactor.setWakeup.bind(proactor);
    proactor.setWakeup = (wake) =>
      setWakeup(
        wake === null
          ? null
          : () => {
              if (sleeping) {
                wakes++;
                justWoke = true;
                sleeping = false;
              }
              wake();
            },
      );
    // The transport takes its completions without futures: count what the ring's harvests return.
    let harvested = 0;
    const harvest = Uring.prototype.harvest;
    Uring.prototype.harvest = function (this: Uring, ...args: Parameters<Uring['harvest']>) {
      const n = harvest.apply(this, args);
      harvested += Math.max(n, 0);
      return n;
    };
    const select = proactor.select.bind(proactor);
    proactor.select = (timeout) => {
      const before = harvested;
      const done = select(timeout);
      if (justWoke && done.length === 0 && harvested === before) empty++;
      justWoke = false;
      sleeping = false;
      return done;
    };
    const loop = new UringEventLoop(proactor);
    const idle = loop.idle.bind(loop);
    loop.idle = (deadline) => {
      sleeping = true;
      idle(deadline);
    };
    const reports: unknown[] = [];
    loop.setExceptionHandler((_l, ctx) => reports.push(ctx));
    try {
      const completed = await loop.runUntilComplete(async () => {
        const server = await loop.createServer(() => new Echo(), '127.0.0.1', 0);
        const port = (server.sockets[0]!.getsockname() as { port: number }).port;
        const client = pingPongClient(port, rounds);
        const count = await new Promise<number>((resolve, reject) => {
          client.once('message', resolve);
          client.once('error', reject);
        });
        await client.terminate();
        server.close();
        return count;
      });
      expect(completed).toBe(rounds);
      // One wake-up per message received, plus a few for accepting and the client's FIN.
      expect(wakes).toBeLessThanOrEqual(rounds + 10);
      expect(empty).toBeLessThanOrEqual(5);
    } finally {
      Uring.prototype.harvest = harvest;
      loop.close();
    }
    expect(reports).toEqual([]);
  });
});

describe.skipIf(UringProactor.problem() !== null)('UringProactor: the receive pool', () => {
  it('more receives complete at once than the pool has buffers (256): each gets its own bytes, round after round', async () => {
    const loop = new UringEventLoop();
    const pairs = Array.from({ length: 300 }, () => socketpair());
    try {
      await loop.runUntilComplete(async () => {
        for (let round = 0; round < 3; round++) {
          const receives = pairs.map(([a]) => loop.sockRecv(a, 1000));
          await sleep(0); // the receives are in the kernel, waiting
          // Every send completes its peer's receive before the loop harvests any of them.
          pairs.forEach(([, b], i) => b.send(Buffer.from(`round ${round} socket ${i}`)));
          const got = await Promise.all(receives);
          expect(got.map((data) => Buffer.from(data).toString())).toEqual(pairs.map((_, i) => `round ${round} socket ${i}`));
        }
      });
    } finally {
      for (const [a, b] of pairs) {
        a.close();
        b.close();
      }
      loop.close();
    }
  });

  it('a pooled receive whose bytes a harvest dropped (no slab could be allocated) fails with ENOMEM; the loop and the other receives go on', async () => {
    const loop = new UringEventLoop();
    const pairs = [socketpair(), socketpair()];
    const withRoom = receiveSlab.withRoom;
    try {
      await loop.runUntilComplete(async () => {
        const [[a, b], [c, d]] = pairs as [[typeof pairs[0][0], typeof pairs[0][1]], [typeof pairs[0][0], typeof pairs[0][1]]];
        const dropped = loop.sockRecv(a, 100);
        const other = loop.sockRecv(c, 100);
        await sleep(0); // both receives are in the kernel, waiting
        receiveSlab.withRoom = () => {
          throw new RangeError('Array buffer allocation failed');
        };
        b.send(Buffer.from('lost'));
        await expect(dropped).rejects.toMatchObject({ code: 'ENOMEM', syscall: 'recv' });
        receiveSlab.withRoom = withRoom;
        d.send(Buffer.from('kept'));
        expect(Buffer.from(await other).toString()).toBe('kept');
      });
    } finally {
      receiveSlab.withRoom = withRoom;
      for (const [a, b] of pairs) {
        a.close();
        b.close();
      }
      loop.close();
    }
  });

  it('a receive cancelled after its bytes arrived keeps them for the next receive, and sockRecvInto takes them', async () => {
    const loop = new UringEventLoop();
    const [a, b] = socketpair();
    try {
      await loop.runUntilComplete(async () => {
        const proactor = loop._proactor;
        const first = proactor.recv(a, 100);
        await sleep(0);
        b.send(Buffer.from('kept'));
        first.cancel();
        const into = Buffer.alloc(10);
        const n = await loop.sockRecvInto(a, into);
        expect(into.subarray(0, n).toString()).toBe('kept');
        b.send(Buffer.from('next'));
        expect(Buffer.from(await loop.sockRecv(a, 100)).toString()).toBe('next');
      });
    } finally {
      a.close();
      b.close();
      loop.close();
    }
  });
});
