/**
 * Code that throws never stops a loop: callbacks (callSoon/callLater/callAt, Error or not),
 * an exception handler that throws (even with a logger that throws too), and every protocol
 * method on real sockets (connectionMade, dataReceived, eofReceived, pauseWriting,
 * resumeWriting, connectionLost, getBuffer, bufferUpdated, the protocol factory on either
 * side). Each failure is reported once with the original error, its connection is closed
 * (the peer sees it), and the loop and the server go on serving.
 */
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BaseEventLoop,
  BufferedProtocol,
  TestLoop,
  logger,
  sleep,
  type AbstractEventLoop,
  type Transport,
} from '@loopkit/core';
import { Echo, NET_LOOPS, Recorder, portOf, title, waitUntil, withLoop, type ServerLike } from './helpers.js';

type Report = { message: string; exception?: unknown };

const ALL_LOOPS = [
  { name: 'TestLoop', make: (): AbstractEventLoop => new TestLoop(), reason: null },
  { name: 'BaseEventLoop', make: (): AbstractEventLoop => new BaseEventLoop(), reason: null },
  ...NET_LOOPS,
];

const savedLogger = { ...logger };
afterEach(() => Object.assign(logger, savedLogger));

/** Route logger.error into `into` for the test. */
function captureLog(into: unknown[][]): void {
  logger.error = (...args: unknown[]) => {
    into.push(args);
  };
}

describe('throwing callbacks and exception handlers never stop the loop', () => {
  for (const subject of ALL_LOOPS) {
    describe.skipIf(subject.make === null)(subject.name, () => {
      it(title(subject, 'callbacks that throw are reported once each; the rest of the iteration and later ones run'), () =>
        withLoop(subject.make!, async (loop, reports) => {
          const ran: string[] = [];
          const boom = new Error('boom');
          const thrown: unknown[] = [boom, 'a string', undefined, null, 42, { not: 'an error' }];
          const done = loop.createFuture<void>();
          for (const [i, value] of thrown.entries()) {
            loop.callSoon(() => {
              ran.push(`soon-${i}`);
              throw value;
            });
          }
          loop.callSoon(() => ran.push('after the throwers'));
          loop.callLater(0.001, () => {
            ran.push('later');
            throw boom;
          });
          loop.callAt(loop.time() + 0.002, () => {
            ran.push('at');
            throw new RangeError('at');
          });
          loop.callLater(0.003, () => done.setResult());
          await done;
          expect(ran).toEqual([...thrown.map((_, i) => `soon-${i}`), 'after the throwers', 'later', 'at']);
          expect(reports.length).toBe(thrown.length + 2);
          expect((reports as Report[]).map((r) => r.exception)).toEqual([...thrown, boom, new RangeError('at')]);
          for (const r of reports as Report[]) expect(r.message).toMatch(/^Exception in callback/);
        }));

      it(title(subject, 'an exception handler that throws is logged, and the loop runs on'), async () => {
        const logged: unknown[][] = [];
        captureLog(logged);
        const loop = subject.make!();
        let calls = 0;
        loop.setExceptionHandler(() => {
          calls += 1;
          if (calls % 2 === 1) throw new Error(`handler failure ${calls}`);
          throw 'not even an Error';
        });
        try {
          const result = await loop.runUntilComplete(async () => {
            for (let i = 0; i < 4; i++) {
              loop.callSoon(() => {
                throw new Error(`callback ${i}`);
              });
            }
            const failing = loop.createTask(async () => {
              await sleep(0);
              throw new Error('task failure');
            });
            await sleep(0.001);
            expect(failing.done()).toBe(true);
            failing.exception(); // retrieved: no GC report later
            return 'still running';
          });
          expect(result).toBe('still running');
          expect(calls).toBe(4);
          expect(logged.length).toBe(4);
          for (const entry of logged) expect(String(entry[0])).toMatch(/Unhandled error in exception handler/);
        } finally {
          loop.close();
        }
      });

      it(title(subject, 'a throwing handler and a throwing logger together still leave the loop running'), async () => {
        logger.error = () => {
          throw new Error('the logger is broken too');
        };
        const loop = subject.make!();
        loop.setExceptionHandler(() => {
          throw new Error('handler failure');
        });
        try {
          const order: number[] = [];
          await loop.runUntilComplete(async () => {
            loop.callSoon(() => order.push(1));
            loop.callSoon(() => {
              throw new Error('callback');
            });
            loop.callSoon(() => order.push(2));
            await sleep(0.001);
            loop.setExceptionHandler(null); // the default handler with the broken logger
            loop.callSoon(() => {
              throw new Error('again');
            });
            loop.callSoon(() => order.push(3));
            await sleep(0.001);
          });
          expect(order).toEqual([1, 2, 3]);
        } finally {
          loop.close();
        }
      });
    });
  }
});

/** A node:net peer server: `sockets` are the accepted ones, `closed` counts those the other end closed. */
async function nodePeer(): Promise<{ server: net.Server; port: number; sockets: net.Socket[]; ended: Set<net.Socket> }> {
  const sockets: net.Socket[] = [];
  const ended = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.push(s);
    s.on('error', () => {});
    s.on('end', () => ended.add(s));
    s.on('close', () => ended.add(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as net.AddressInfo).port, sockets, ended };
}

type Method = 'connectionMade' | 'dataReceived' | 'eofReceived' | 'pauseWriting' | 'resumeWriting' | 'connectionLost';

/** A Recorder whose `method` throws `error` (after recording the call). */
class Failing extends Recorder {
  constructor(loop: AbstractEventLoop, readonly method: Method, readonly error: Error) {
    super(loop);
  }
  private fail(name: Method): void {
    if (name === this.method) throw this.error;
  }
  override connectionMade(t: Transport): void {
    super.connectionMade(t);
    this.fail('connectionMade');
  }
  override dataReceived(d: Uint8Array): void {
    super.dataReceived(d);
    this.fail('dataReceived');
  }
  override eofReceived(): boolean {
    const keep = super.eofReceived();
    this.fail('eofReceived');
    return keep;
  }
  override pauseWriting(): void {
    super.pauseWriting();
    this.fail('pauseWriting');
  }
  override resumeWriting(): void {
    super.resumeWriting();
    this.fail('resumeWriting');
  }
  override connectionLost(exc: unknown): void {
    super.connectionLost(exc);
    this.fail('connectionLost');
  }
}

/** The loop and a fresh server on it still serve an echo round trip. */
async function loopServes(loop: AbstractEventLoop): Promise<void> {
  const srv = (await loop.createServer(() => new Echo(), '127.0.0.1', 0)) as unknown as ServerLike;
  const [t, p] = (await loop.createConnection(() => new Recorder(loop), '127.0.0.1', portOf(srv))) as [Transport, Recorder];
  t.write(Buffer.from('ping'));
  await waitUntil(() => p.received.length >= 4, 10, 'echo');
  expect(p.received.toString()).toBe('ping');
  t.close();
  await p.lost;
  srv.close();
  await srv.waitClosed();
}

const METHODS: Method[] = ['connectionMade', 'dataReceived', 'eofReceived', 'pauseWriting', 'resumeWriting', 'connectionLost'];

describe('protocol methods that throw: reported once, connection closed, the loop runs on', () => {
  for (const subject of NET_LOOPS) {
    describe.skipIf(subject.make === null)(subject.name, () => {
      for (const method of METHODS) {
        it(title(subject, `${method} throws`), () =>
          withLoop(subject.make!, async (loop, reports) => {
            const peer = await nodePeer();
            try {
              const error = new Error(`${method} failed`);
              const [t, p] = (await loop.createConnection(() => new Failing(loop, method, error), '127.0.0.1', peer.port)) as [Transport, Failing];
              await waitUntil(() => peer.sockets.length === 1);
              const ps = peer.sockets[0]!;
              if (method === 'dataReceived') ps.write('data');
              if (method === 'eofReceived') ps.end();
              if (method === 'pauseWriting' || method === 'resumeWriting') {
                ps.pause();
                t.setWriteBufferLimits({ high: 1024 });
                const chunk = Buffer.alloc(256 << 10, 1);
                for (let i = 0; i < 64 && !p.events.includes('pause'); i++) {
                  t.write(chunk);
                  await sleep(0.002);
                }
                expect(p.events).toContain('pause');
                if (method === 'resumeWriting') ps.resume();
              }
              if (method === 'connectionLost') t.close();
              const exc = await p.lost;
              ps.resume(); // a paused peer sees the close once it reads
              await waitUntil(() => peer.ended.has(ps), 10, 'the peer sees the connection closed');
              await sleep(0.01);
              expect(p.lostCount).toBe(1);
              expect(t.isClosing()).toBe(true);
              expect(reports.length).toBe(1);
              expect((reports[0] as Report).exception).toBe(error);
              if (method === 'connectionLost') {
                expect(exc).toBe(null);
                expect((reports[0] as Report).message).toBe('Exception in protocol.connectionLost()');
              } else {
                expect(exc).toBe(error); // asyncio's fatal-error path: connectionLost(the error)
                expect((reports[0] as Report).message).toBe(`Fatal error: protocol.${method}() call failed.`);
              }
              await loopServes(loop);
            } finally {
              peer.server.close();
            }
          }));
      }

      for (const failAt of ['getBuffer', 'bufferUpdated', 'getBuffer returns an empty buffer'] as const) {
        it(title(subject, `BufferedProtocol: ${failAt} fails`), () =>
          withLoop(subject.make!, async (loop, reports) => {
            const peer = await nodePeer();
            try {
              const error = new Error(`${failAt} failed`);
              const lost = loop.createFuture<unknown>();
              let lostCalls = 0;
              class Buffered extends BufferedProtocol {
                override getBuffer(): Uint8Array {
                  if (failAt === 'getBuffer') throw error;
                  if (failAt === 'getBuffer returns an empty buffer') return new Uint8Array(0);
                  return new Uint8Array(1024);
                }
                override bufferUpdated(): void {
                  throw error;
                }
                override connectionLost(exc: unknown): void {
                  lostCalls += 1;
                  if (!lost.done()) lost.setResult(exc);
                }
              }
              await loop.createConnection(() => new Buffered(), '127.0.0.1', peer.port);
              await waitUntil(() => peer.sockets.length === 1);
              const ps = peer.sockets[0]!;
              ps.write('some bytes');
              const exc = await lost;
              await waitUntil(() => peer.ended.has(ps), 10, 'the peer sees the connection closed');
              expect(lostCalls).toBe(1);
              expect(reports.length).toBe(1);
              const report = reports[0] as Report;
              expect(exc).toBe(report.exception);
              if (failAt === 'getBuffer returns an empty buffer') expect(String(report.exception)).toMatch(/empty buffer/);
              else expect(report.exception).toBe(error);
              await loopServes(loop);
            } finally {
              peer.server.close();
            }
          }));
      }

      it(title(subject, "a server's protocol factory that throws drops that connection only; the server serves the next"), () =>
        withLoop(subject.make!, async (loop, reports) => {
          let n = 0;
          const error = new Error('factory failed');
          const server = (await loop.createServer(() => {
            n += 1;
            if (n % 2 === 1) throw error;
            return new Echo();
          }, '127.0.0.1', 0)) as unknown as ServerLike;
          for (let round = 0; round < 2; round++) {
            // Odd connections: the factory throws, the client is closed.
            const dropped = net.connect(portOf(server), '127.0.0.1');
            dropped.on('error', () => {});
            let droppedClosed = false;
            dropped.on('close', () => (droppedClosed = true));
            await waitUntil(() => droppedClosed, 10, 'the dropped client sees the close');
            // Even connections are served.
            const [t, p] = (await loop.createConnection(() => new Recorder(loop), '127.0.0.1', portOf(server))) as [Transport, Recorder];
            t.write(Buffer.from('served'));
            await waitUntil(() => p.received.length >= 6, 10, 'echo');
            t.close();
            await p.lost;
          }
          expect(server.isServing()).toBe(true);
          expect(reports.length).toBe(2);
          for (const r of reports as Report[]) {
            expect(r.message).toBe('Error on transport creation for incoming connection');
            expect(r.exception).toBe(error);
          }
          server.close();
          await server.waitClosed();
        }));

      it(title(subject, 'a client protocol factory that throws rejects createConnection with its error and leaks no socket'), () =>
        withLoop(subject.make!, async (loop, reports) => {
          const peer = await nodePeer();
          try {
            const error = new Error('client factory failed');
            for (let i = 0; i < 3; i++) {
              const got = await loop.createConnection(() => {
                throw error;
              }, '127.0.0.1', peer.port).then(
                () => null,
                (e: unknown) => e,
              );
              expect(got).toBe(error);
            }
            await waitUntil(() => peer.sockets.length === 3 && peer.sockets.every((s) => peer.ended.has(s)), 10, 'every socket closed');
            expect(reports).toEqual([]);
            await loopServes(loop);
          } finally {
            peer.server.close();
          }
        }));
    });
  }
});
