/** UringProactor / UringEventLoop: how completions reach the loop (Linux with io_uring only). */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { Protocol, type Transport } from '@loopkit/core';
import { UringEventLoop, UringProactor } from '@loopkit/proactor';

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
    const select = proactor.select.bind(proactor);
    proactor.select = (timeout) => {
      const done = select(timeout);
      if (justWoke && done.length === 0) empty++;
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
      loop.close();
    }
    expect(reports).toEqual([]);
  });
});
