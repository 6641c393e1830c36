/**
 * loopkit's TLS against Python asyncio's (ssl module, OpenSSL), on its plain loop and on
 * uvloop, both directions, on both of our loops: 4 MiB echoed through TLS, SHA-256 compared
 * on both sides, close_notify both ways. Certificates are made by openssl at test time.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { gather, getTLSProvider, openConnection, startServer, type SSLObject } from 'loopkit';
import { Child, LOOPS, PYTHON, hashingEcho, missingPython, onLoop, within, type EchoRecord } from './helpers.js';
import { hasOpenssl, testCerts } from '@loopkit/conformance/support';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SIZE = 4 * 1024 * 1024;

const FLAVOURS = [
  { name: 'asyncio', args: [] as string[], missing: missingPython('import asyncio, ssl', 'asyncio and ssl') },
  { name: 'uvloop', args: ['--uvloop'], missing: missingPython('import uvloop, ssl', 'uvloop') },
];
const noTLS = getTLSProvider() === null ? 'no TLS provider is registered' : !hasOpenssl() ? 'no openssl command' : null;
if (noTLS !== null) console.warn(`[peers] skipping Python TLS: ${noTLS}`);

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The test certificates as files, for Python's load_cert_chain/cafile. */
function certFiles(): { dir: string; cert: string; key: string; ca: string } {
  const c = testCerts();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loopkit-pytls-'));
  const write = (name: string, text: string): string => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text, { mode: 0o600 });
    return file;
  };
  return { dir, cert: write('server.pem', c.serverCert), key: write('server.key', c.serverKey), ca: write('ca.pem', c.ca) };
}

describe.skipIf(noTLS !== null)('Python asyncio TLS peers', { timeout: 120000 }, () => {
  for (const flavour of FLAVOURS) {
    describe.skipIf(flavour.missing !== null)(`Python ${flavour.name}`, () => {
      for (const subject of LOOPS) {
        describe.skipIf(subject.missing !== null)(subject.name, () => {
          it('a loopkit TLS client against a Python TLS echo server: 4 MiB byte-exact both ways', async () => {
            const files = certFiles();
            const server = new Child(PYTHON, [path.join(HERE, 'tls_peer.py'), 'server', files.cert, files.key, ...flavour.args]);
            try {
              const port = Number((await server.waitFor(/^listening (\d+)$/m, 15))[1]);
              const data = createHash('sha512').update('seed').digest();
              const payload = Buffer.alloc(SIZE);
              for (let i = 0; i < SIZE; i += data.length) data.copy(payload, i);
              await onLoop(subject, async (loop, reports) => {
                const [reader, writer] = await openConnection('localhost', port, { ssl: { ca: testCerts().ca } });
                expect(writer.getExtraInfo<SSLObject>('ssl_object')!.getProtocol()).toBe('TLSv1.3');
                const send = async (): Promise<void> => {
                  for (let offset = 0; offset < SIZE; offset += 100_000) {
                    writer.write(payload.subarray(offset, offset + 100_000));
                    await writer.drain();
                  }
                };
                const [, echoed] = await within(60, '4 MiB through Python TLS', gather(loop.createTask(send), loop.createTask(() => reader.readexactly(SIZE))));
                expect(sha256(echoed)).toBe(sha256(payload));
                writer.close();
                await writer.waitClosed();
                expect(reports).toEqual([]);
              });
              const [, n, digest] = await server.waitFor(/^received (\d+) ([0-9a-f]{64})$/m, 15);
              expect(Number(n)).toBe(SIZE);
              expect(digest).toBe(sha256(payload));
            } finally {
              await server.stop();
              fs.rmSync(files.dir, { recursive: true, force: true });
            }
          });

          it('a Python TLS client against a loopkit TLS echo server: 4 MiB byte-exact both ways', async () => {
            const files = certFiles();
            try {
              await onLoop(subject, async (_loop, reports) => {
                const received: EchoRecord[] = [];
                const c = testCerts();
                const server = await startServer(
                  hashingEcho(received),
                  '127.0.0.1',
                  0,
                  { ssl: { key: c.serverKey, cert: c.serverCert } },
                );
                try {
                  const { port } = (server.sockets[0] as { getsockname(): { port: number } }).getsockname();
                  const client = new Child(PYTHON, [path.join(HERE, 'tls_peer.py'), 'client', String(port), files.ca, String(SIZE), String(port), ...flavour.args]);
                  try {
                    const exit = await client.wait(60);
                    expect(exit, client.describe()).toEqual({ code: 0, signal: null });
                  } finally {
                    await client.stop();
                  }
                  const report = JSON.parse(client.stdout.trim().split('\n').at(-1)!) as { sent: number; received: number; sentSha256: string; receivedSha256: string; version: string };
                  expect(report.version).toBe('TLSv1.3');
                  expect(report.received).toBe(SIZE);
                  expect(report.receivedSha256).toBe(report.sentSha256);
                  await within(10, 'the server saw EOF', (async () => {
                    while (received.length === 0) await new Promise((r) => setTimeout(r, 10));
                  })());
                  expect(received).toEqual([{ bytes: SIZE, sha256: report.sentSha256 }]);
                } finally {
                  server.close();
                  await within(10, 'server.waitClosed()', server.waitClosed());
                }
                expect(reports).toEqual([]);
              });
            } finally {
              fs.rmSync(files.dir, { recursive: true, force: true });
            }
          });
        });
      }
    });
  }
});
