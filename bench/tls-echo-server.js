// One TLS echo server of the kind named on the command line, for bench/tls-echo.js:
//   node bench/tls-echo-server.js <kind> CERTDIR
// CERTDIR holds server.pem and server.key. TLS 1.3 with TLS_AES_128_GCM_SHA256 only, on
// every kind. Listens on 127.0.0.1 (ephemeral port), prints "PORT <n>", serves until SIGTERM.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tls from 'node:tls';

const [kind, certdir] = process.argv.slice(2);
const options = {
  key: readFileSync(join(certdir ?? '.', 'server.key'), 'utf8'),
  cert: readFileSync(join(certdir ?? '.', 'server.pem'), 'utf8'),
  minVersion: 'TLSv1.3',
  ciphers: 'TLS_AES_128_GCM_SHA256',
};

// The baseline's process never loads loopkit: each loopkit kind imports it when it starts.
async function serveOnLoop(loop) {
  const { Protocol } = await import('loopkit');
  /** The Protocol API echo server every loopkit loop runs (bench/echo-server.js's, with ssl). */
  class Echo extends Protocol {
    connectionMade(transport) {
      this.transport = transport;
    }
    dataReceived(data) {
      this.transport.write(data);
    }
  }
  let resolvePort;
  const port = new Promise((resolve) => (resolvePort = resolve));
  const main = async () => {
    const server = await loop.createServer(() => new Echo(), '127.0.0.1', 0, { ssl: options });
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

/** Serve on `newEventLoop()`: LOOPKIT_BACKEND=`name` when named, else the default backend. */
async function serveOnBackend(name) {
  if (name === null) delete process.env.LOOPKIT_BACKEND;
  else process.env.LOOPKIT_BACKEND = name;
  const { newEventLoop } = await import('loopkit');
  const loop = newEventLoop();
  if (name === null && loop.constructor.name !== 'SelectorEventLoop') {
    throw new Error(`newEventLoop() made a ${loop.constructor.name}, not the SelectorEventLoop this kind measures`);
  }
  return serveOnLoop(loop);
}

const kinds = {
  /** Node's own tls module: the baseline. */
  async tls() {
    const server = tls.createServer(options, (socket) => {
      socket.setNoDelay(true);
      socket.on('data', (data) => socket.write(data));
      socket.on('error', () => {}); // the load generator closes without close_notify when it ends
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    process.on('SIGTERM', () => process.exit(0));
    return server.address().port;
  },
  // The loop a user gets: newEventLoop() of `loopkit` (the platform's default, the selector
  // loop on Linux); the other loops by name, as a user picks them (LOOPKIT_BACKEND).
  selector: () => serveOnBackend(null),
  proactor: () => serveOnBackend('proactor'),
  uring: () => serveOnBackend('uring'),
};

if (!Object.hasOwn(kinds, kind) || certdir === undefined) {
  console.error(`usage: node bench/tls-echo-server.js <${Object.keys(kinds).join('|')}> CERTDIR`);
  process.exit(2);
}
console.log(`PORT ${await kinds[kind]()}`);
