/**
 * A TLS client whose peer resets the TCP connection right behind its last handshake bytes,
 * on every network loop: the reset arrives with the bytes (the loop is kept busy meanwhile),
 * and the client must report what those bytes say, not the reset. A proxy in front of Node's
 * `tls` server passes everything on and resets the client's side (SO_LINGER 0)
 * - right after the server's first flight, to a client that does not trust the server's
 *   certificate: SSLCertVerificationError, as when no reset follows;
 * - right after the server's alert to a client that sent no certificate (TLS 1.3: the client's
 *   handshake is done, its read meets the alert): SSLError with the alert's code;
 * and, where no TLS byte came at all (the server was gone before it answered), the reset is the
 * error: ConnectionResetError, as asyncio's. Session 14 once saw a reset in mtls.ts, most
 * likely the third case: its server then closed on a timer, so a client could still wait in
 * the accept backlog.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { ConnectionResetError, SSLCertVerificationError, SSLError, openConnection, waitFor, type AbstractEventLoop } from 'loopkit';
import { NET_LOOPS, title, withLoop } from './helpers.js';
import { certs, tlsMissing } from './tls-helpers.js';

type Cut = 'after-flight' | 'after-alert' | 'before-answer';

/** Node's TLS server behind a proxy that resets the client's side where `cut` says. */
async function resettingProxy(cut: Cut): Promise<{ port: number; close: () => void }> {
  const pem = certs();
  const requireCert = cut === 'after-alert';
  const server = tls.createServer({ key: pem.serverKey, cert: pem.serverCert, ca: pem.ca, requestCert: requireCert, rejectUnauthorized: requireCert }, (sock) => {
    sock.on('error', () => {});
    sock.resume();
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxy = net.createServer((client) => {
    client.on('error', () => {});
    if (cut === 'before-answer') {
      client.once('data', () => client.resetAndDestroy());
      return;
    }
    const upstream = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    upstream.on('error', () => {});
    client.pipe(upstream);
    let flights = 0;
    upstream.on('data', (chunk: Buffer) => {
      flights += 1;
      // the first flight, or (the client sent no certificate) what comes after it: the alert
      const last = cut === 'after-flight' || flights >= 2;
      client.write(chunk, () => last && client.resetAndDestroy());
    });
    upstream.on('end', () => client.resetAndDestroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    port: (proxy.address() as net.AddressInfo).port,
    close: () => {
      proxy.close();
      server.close();
    },
  };
}

/** Keep the loop (and the thread) busy, so the peer's bytes and its reset are both queued before the next read. */
function busySoon(loop: AbstractEventLoop): void {
  loop.callLater(0.002, () => {
    const until = Date.now() + 100;
    while (Date.now() < until);
  });
}

describe.skipIf(tlsMissing !== null)('TLS client: a reset right behind the handshake bytes', () => {
  for (const subject of NET_LOOPS) {
    describe.skipIf(subject.make === null)(subject.name, () => {
      const make = subject.make!;
      it(title(subject, 'an untrusted certificate, then a reset: SSLCertVerificationError'), async () => {
        const proxy = await resettingProxy('after-flight');
        try {
          for (let round = 0; round < 3; round++) {
            const error = await withLoop(make, async (loop) => {
              busySoon(loop);
              return openConnection('127.0.0.1', proxy.port, { ssl: { ca: certs().clientCert }, serverHostname: 'localhost' }).then(
                () => null,
                (e: unknown) => e,
              );
            });
            expect(error).toBeInstanceOf(SSLCertVerificationError);
          }
        } finally {
          proxy.close();
        }
      });

      it(title(subject, "the server's certificate_required alert, then a reset: SSLError with the alert's code"), async () => {
        const proxy = await resettingProxy('after-alert');
        try {
          for (let round = 0; round < 3; round++) {
            const error = await withLoop(make, async (loop) => {
              const [reader, writer] = await openConnection('127.0.0.1', proxy.port, { ssl: { ca: certs().ca, maxVersion: 'TLSv1.3', minVersion: 'TLSv1.3' }, serverHostname: 'localhost' });
              writer.write(Buffer.from('hi\n'));
              busySoon(loop);
              return waitFor(reader.readline(), 10).then(
                () => null,
                (e: unknown) => e,
              );
            });
            expect(error).toBeInstanceOf(SSLError);
            expect((error as SSLError).code).toMatch(/CERTIFICATE_REQUIRED/);
          }
        } finally {
          proxy.close();
        }
      });

      it(title(subject, 'a reset before any TLS byte: ConnectionResetError, as asyncio'), async () => {
        const proxy = await resettingProxy('before-answer');
        try {
          const error = await withLoop(make, () =>
            openConnection('127.0.0.1', proxy.port, { ssl: { ca: certs().ca }, serverHostname: 'localhost' }).then(
              () => null,
              (e: unknown) => e,
            ),
          );
          expect(error).toBeInstanceOf(ConnectionResetError);
          expect(error).not.toBeInstanceOf(SSLError);
        } finally {
          proxy.close();
        }
      });
    });
  }
});
