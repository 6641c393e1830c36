// One echo server of the kind named on the command line, for bench/echo.js and
// bench/echo-memory.js:
//   node [--expose-gc] bench/echo-server.js <kind> [--memory]
// Listens on 127.0.0.1 (ephemeral port), prints "PORT <n>" on stdout, serves until SIGTERM.
// With --memory, each SIGUSR2 prints "MEM <rss bytes> <heap used bytes>" after a full GC
// (when gc is exposed).
//
// Kinds: net (Node's own module, no loopkit loaded), and loopkit's Protocol API echo on the
// loop the `loopkit` package's newEventLoop() gives: default (the policy's own choice),
// or a backend by name (selector, proactor, uring), chosen as a user chooses one, through
// LOOPKIT_BACKEND. storm: the default loop's echo while the same loop runs a callSoon chain
// that never ends (each callback schedules the next). buffered: the default loop's echo as a
// BufferedProtocol receiving into one buffer per connection, reused (as the C server's).
import * as net from 'node:net';

const memoryReports = process.argv.includes('--memory');

function memoryLine() {
  globalThis.gc?.();
  const { rss, heapUsed } = process.memoryUsage();
  return `MEM ${rss} ${heapUsed}`;
}

/** Serve the Protocol API echo on `loop` until SIGTERM (a loop signal handler stops the loop). */
async function serveOnLoop(loopkit, loop, { storm = false, buffered = false } = {}) {
  class Echo extends loopkit.Protocol {
    connectionMade(transport) {
      this.transport = transport;
    }
    dataReceived(data) {
      this.transport.write(data);
    }
  }
  /** The C server's 256 KiB per connection; write() copies what the kernel did not take, so the buffer is free again at once. */
  class BufferedEcho extends loopkit.BufferedProtocol {
    connectionMade(transport) {
      this.transport = transport;
      this.buffer = Buffer.allocUnsafe(256 * 1024);
    }
    getBuffer() {
      return this.buffer;
    }
    bufferUpdated(nbytes) {
      this.transport.write(this.buffer.subarray(0, nbytes));
    }
  }
  let resolvePort;
  const port = new Promise((resolve) => (resolvePort = resolve));
  const main = async () => {
    const server = await loop.createServer(() => (buffered ? new BufferedEcho() : new Echo()), '127.0.0.1', 0);
    loop.addSignalHandler('SIGTERM', () => loop.stop());
    if (memoryReports) loop.addSignalHandler('SIGUSR2', () => console.log(memoryLine()));
    if (storm) {
      const step = () => loop.callSoon(step);
      loop.callSoon(step);
    }
    resolvePort(server.sockets[0].getsockname().port);
  };
  loop.callSoon(() => loop.createTask(main));
  loop.runForever().then(() => {
    loop.close();
    process.exit(0);
  });
  return port;
}

async function loopkitServer(backend, options) {
  // The policy reads LOOPKIT_BACKEND each time it makes a loop.
  if (backend === null) delete process.env.LOOPKIT_BACKEND;
  else process.env.LOOPKIT_BACKEND = backend;
  const loopkit = await import('loopkit');
  return serveOnLoop(loopkit, loopkit.newEventLoop(), options);
}

const kinds = {
  /** Node's own net module: the baseline. */
  async net() {
    const server = net.createServer({ noDelay: true }, (socket) => {
      socket.on('data', (data) => socket.write(data));
      socket.on('error', () => {}); // the load generator resets its connections when it ends
    });
    await new Promise((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: 1024 }, resolve));
    process.on('SIGTERM', () => process.exit(0));
    if (memoryReports) process.on('SIGUSR2', () => console.log(memoryLine()));
    return server.address().port;
  },
  default: () => loopkitServer(null),
  selector: () => loopkitServer('selector'),
  proactor: () => loopkitServer('proactor'),
  uring: () => loopkitServer('uring'),
  storm: () => loopkitServer(null, { storm: true }),
  buffered: () => loopkitServer(null, { buffered: true }),
};

const kind = process.argv[2];
if (!Object.hasOwn(kinds, kind)) {
  console.error(`usage: node bench/echo-server.js <${Object.keys(kinds).join('|')}> [--memory]`);
  process.exit(2);
}
console.log(`PORT ${await kinds[kind]()}`);
