/**
 * examples/redis over TLS against a real redis-server listening only on `--tls-port`
 * (`--port 0`: no plain-TCP port at all), on every network loop: one server that does not
 * ask for client certificates, one that requires them (`--tls-auth-clients yes`, the
 * test CA). PING, 1 MiB random values byte-exact, 10k pipelined commands with every reply
 * matched; without a client certificate the required-auth server refuses us with an
 * SSLError, not a hang.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SSLError, sleep } from '@loopkit/core';
import { RedisClient, RedisConnectionError } from '../../examples/redis/client.js';
import { Child, LOOPS, freePort, missingBinary, onLoop, within } from './helpers.js';
import { certFiles, tlsMissing } from './tls-helpers.js';

const REDIS = '/usr/bin/redis-server';
const missing = missingBinary(REDIS) ?? tlsMissing;
if (missing !== null) console.warn(`[peers] skipping the Redis TLS tests: ${missing}`);

interface Redis {
  child: Child;
  port: number;
}

async function startTlsRedis(authClients: 'yes' | 'no'): Promise<Redis> {
  const certs = certFiles();
  const port = await freePort();
  const child = new Child(REDIS, [
    '--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1',
    '--tls-cert-file', certs.serverCert, '--tls-key-file', certs.serverKey, '--tls-ca-cert-file', certs.ca,
    '--tls-auth-clients', authClients, '--save', '', '--appendonly', 'no', '--daemonize', 'no',
  ]);
  try {
    await child.waitFor(/Ready to accept connections/, 15);
  } catch (error) {
    await child.stop();
    throw error;
  }
  return { child, port };
}

describe.skipIf(missing !== null)('redis-server over TLS', { timeout: 60000 }, () => {
  let open: Redis | null = null;
  let mutual: Redis | null = null;

  beforeAll(async () => {
    [open, mutual] = await Promise.all([startTlsRedis('no'), startTlsRedis('yes')]);
  });

  afterAll(async () => {
    await Promise.all([open?.child.stop(), mutual?.child.stop()]);
  });

  for (const subject of LOOPS) {
    describe.skipIf(subject.missing !== null)(subject.name, () => {
      it('PING, 1 MiB values byte-exact and 10k pipelined commands through TLS', async () => {
        await onLoop(subject, async (_loop, reports) => {
          const client = await RedisClient.connect('127.0.0.1', open!.port, { ssl: { ca: certFiles().pem.ca }, serverHostname: 'localhost' });
          try {
            expect(await client.call('PING')).toBe('PONG');
            const prefix = `tls:${subject.name}:${Date.now()}`;
            const values = [randomBytes(1 << 20), randomBytes(1 << 20), Buffer.alloc(1 << 20, '\r\n')];
            for (const [i, value] of values.entries()) expect(await client.call('SET', `${prefix}:big:${i}`, value)).toBe('OK');
            const got = await within(20, '3 pipelined 1 MiB GETs', Promise.all(values.map((_, i) => client.call('GET', `${prefix}:big:${i}`))));
            got.forEach((g, i) => expect((g as Buffer).equals(values[i]!)).toBe(true));
            const N = 10_000;
            const calls = [];
            for (let i = 0; i < N / 2; i++) {
              calls.push(client.call('SET', `${prefix}:${i}`, `v${i}:${'y'.repeat(i % 61)}`));
              calls.push(client.call('GET', `${prefix}:${i}`));
            }
            const replies = await within(30, '10k pipelined calls over TLS', Promise.all(calls));
            for (let i = 0; i < N / 2; i++) {
              expect(replies[2 * i]).toBe('OK');
              expect((replies[2 * i + 1] as Buffer).toString()).toBe(`v${i}:${'y'.repeat(i % 61)}`);
            }
            const incrs = await within(30, 'pipeline() of 10k INCR', client.pipeline(Array.from({ length: N }, () => ['INCR', `${prefix}:n`])));
            expect(incrs.at(-1)).toBe(N);
          } finally {
            await within(10, 'close()', client.close());
          }
          expect(reports).toEqual([]);
        });
      });

      it('a server that requires client certificates: served with ours, refused with an SSLError without one', async () => {
        const certs = certFiles();
        await onLoop(subject, async (_loop, reports) => {
          const client = await RedisClient.connect('127.0.0.1', mutual!.port, {
            ssl: { ca: certs.pem.ca, cert: certs.pem.clientCert, key: certs.pem.clientKey },
            serverHostname: 'localhost',
          });
          try {
            expect(await client.call('ECHO', 'mutual')).toEqual(Buffer.from('mutual'));
          } finally {
            await client.close();
          }
          // In TLS 1.3 the server checks the client's certificate after our handshake ended:
          // its refusal is an alert that comes after connect. We wait for it before writing:
          // a command written first would sit unread in Redis's socket when it closes, and
          // its kernel would answer with a reset that may overtake the alert (then we would
          // see ConnectionResetError, as asyncio would).
          const refusal = await within(10, 'a connection without a client certificate', (async () => {
            try {
              const bare = await RedisClient.connect('127.0.0.1', mutual!.port, { ssl: { ca: certs.pem.ca }, serverHostname: 'localhost' });
              try {
                await sleep(0.3);
                await bare.call('PING');
              } finally {
                await bare.close();
              }
              return null;
            } catch (error) {
              return error;
            }
          })());
          const cause = refusal instanceof RedisConnectionError ? refusal.cause : refusal;
          expect(cause, String(refusal)).toBeInstanceOf(SSLError);
          expect(String((cause as SSLError).code)).toMatch(/CERTIFICATE_REQUIRED|PEER_DID_NOT_RETURN_A_CERTIFICATE/);
          expect(reports).toEqual([]);
        });
      });
    });
  }
});
