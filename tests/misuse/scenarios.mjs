/**
 * Misuse scenarios (issue 16), each run in its own process by misuse.test.ts: the failures
 * they guard against are a hang or a process exit, which a test can only see from outside.
 * `node scenarios.mjs <scenario> <loop class>` prints one JSON line with what it observed,
 * then exits 0. A scenario that hangs is killed by the test's time limit.
 */
import { Protocol, run, sleep } from '@loopkit/core';
import { loopFactory } from '../faults/loops.mjs';

const [scenario, loopName] = process.argv.slice(2);
const makeLoop = loopFactory(loopName);

/** The reports the loop's exception handler got, as {message, error} strings. */
function collectReports(loop) {
  const reports = [];
  loop.setExceptionHandler((_loop, ctx) => reports.push({ message: ctx.message, error: String(ctx.exception?.message ?? '') }));
  return reports;
}

class Recorder extends Protocol {
  constructor(loop) {
    super();
    this.events = [];
    this.lost = loop.createFuture();
  }
  connectionMade(transport) {
    this.transport = transport;
    this.events.push('made');
  }
  eofReceived() {
    this.events.push('eof');
  }
  connectionLost(exc) {
    this.events.push(exc ? `lost:${exc.code ?? exc.name}` : 'lost');
    if (!this.lost.done()) this.lost.setResult(null);
  }
}

const scenarios = {
  /** Async callbacks that reject reach the exception handler with the original error. */
  async asyncCallbacks(loop) {
    const reports = collectReports(loop);
    loop.callSoon(async () => {
      await sleep(0);
      throw new Error('from callSoon');
    });
    loop.callLater(0.001, async () => {
      throw new Error('from callLater');
    });
    class Failing extends Protocol {
      connectionMade(transport) {
        transport.write(Buffer.from('x'));
      }
      async dataReceived() {
        await sleep(0);
        throw new Error('from dataReceived');
      }
    }
    const server = await loop.createServer(() => new Failing(), '127.0.0.1', 0);
    const client = new Recorder(loop);
    const [transport] = await loop.createConnection(() => client, '127.0.0.1', server.sockets[0].getsockname().port);
    transport.write(Buffer.from('hello'));
    await client.lost;
    await sleep(0.05);
    // An async exception handler that rejects is itself reported, as a throwing one is.
    const seen = [];
    const original = loop.defaultExceptionHandler.bind(loop);
    loop.defaultExceptionHandler = (ctx) => seen.push({ message: ctx.message, error: String(ctx.exception?.message ?? '') });
    loop.setExceptionHandler(async () => {
      throw new Error('from the handler');
    });
    loop.callSoon(() => {
      throw new Error('sync');
    });
    await sleep(0.02);
    loop.defaultExceptionHandler = original;
    server.close();
    await server.waitClosed();
    return { reports, handlerFailures: seen, client: client.events };
  },

  /** A client protocol factory returning a non-protocol: rejected, and the socket closed. */
  async clientFactoryNonProtocol(loop) {
    let serverSide = null;
    const server = await loop.createServer(() => (serverSide = new Recorder(loop)), '127.0.0.1', 0);
    const port = server.sockets[0].getsockname().port;
    const errors = [];
    for (const bad of [() => ({}), async () => new Recorder(loop), () => 42]) {
      try {
        await loop.createConnection(bad, '127.0.0.1', port);
        errors.push('resolved');
      } catch (error) {
        errors.push(`${error.name}: ${error.message}`);
      }
    }
    await sleep(0.05);
    server.close();
    await server.waitClosed();
    return { errors, serverSide: serverSide?.events ?? null };
  },

  /** A server protocol factory returning a non-protocol: reported saying what it returned; the client sees a clean close. */
  async serverFactoryNonProtocol(loop) {
    const reports = collectReports(loop);
    const results = [];
    for (const bad of [() => ({}), async () => new Protocol()]) {
      const server = await loop.createServer(bad, '127.0.0.1', 0);
      const client = new Recorder(loop);
      await loop.createConnection(() => client, '127.0.0.1', server.sockets[0].getsockname().port);
      await client.lost;
      results.push(client.events);
      server.close();
      await server.waitClosed();
    }
    return { reports, clients: results };
  },

  /** run() with a loopFactory that returns no loop: a TypeError saying so. */
  async badLoopFactory() {
    try {
      await run(async () => 1, { loopFactory: () => ({}) });
      return { error: null };
    } catch (error) {
      return { error: `${error.name}: ${error.message}` };
    }
  },
};

const body = scenarios[scenario];
if (body === undefined) throw new Error(`unknown scenario ${scenario}`);
let result;
if (scenario === 'badLoopFactory') {
  result = await body();
} else {
  const loop = makeLoop();
  result = await loop.runUntilComplete(() => body(loop));
  loop.close();
}
process.stdout.write(`${JSON.stringify(result)}\n`);
