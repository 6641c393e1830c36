// One echo server of the kind named on the command line, for bench/echo.js:
//   node bench/echo-server.js <kind>
// Listens on 127.0.0.1 (ephemeral port), prints "PORT <n>" on stdout, serves until SIGTERM.
// A kind is a function that starts the server and resolves to its port: add a loop here.
import * as net from 'node:net';
import { Protocol } from '@loopkit/core';

/** The Protocol API echo server every loopkit loop runs. */
class Echo extends Protocol {
  connectionMade(transport) {
    this.transport = transport;
  }
  dataReceived(data) {
    this.transport.write(data);
  }
}

/** Serve Echo on a loopkit loop until SIGTERM (a loop signal handler stops the loop). */
async function serveOnLoop(loop) {
  let resolvePort;
  const port = new Promise((resolve) => (resolvePort = resolve));
  const main = async () => {
    const server = await loop.createServer(() => new Echo(), '127.0.0.1', 0);
    loop.addSignalHandler('SIGTERM', () => loop.stop());
    resolvePort(server.sockets[0].getsockname().port);
  };
  loop.callSoon(() => loop.createTask(main));
  loop.runForever().then(() => {
    loop.close();
    process.exit(0);
  });
  return port;
}

const kinds = {
  /** Node's own net module: the baseline. */
  async net() {
    const server = net.createServer({ noDelay: true }, (socket) => {
      socket.on('data', (data) => socket.write(data));
      socket.on('error', () => {}); // the load generator resets its connections when it ends
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    process.on('SIGTERM', () => process.exit(0));
    return server.address().port;
  },
  async selector() {
    const { SelectorEventLoop } = await import('@loopkit/selector');
    return serveOnLoop(new SelectorEventLoop());
  },
  async proactor() {
    const { ProactorEventLoop } = await import('@loopkit/proactor');
    return serveOnLoop(new ProactorEventLoop());
  },
  /** ProactorEventLoop on io_uring (Linux): UringEventLoop, its sockets completed by a UringProactor. */
  async uring() {
    const { UringEventLoop } = await import('@loopkit/proactor');
    return serveOnLoop(new UringEventLoop());
  },
};

const kind = process.argv[2];
if (!Object.hasOwn(kinds, kind)) {
  console.error(`usage: node bench/echo-server.js <${Object.keys(kinds).join('|')}>`);
  process.exit(2);
}
console.log(`PORT ${await kinds[kind]()}`);
