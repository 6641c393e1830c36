/**
 * loopkit's TLS against CPython's asyncio + ssl (/usr/bin/python3, on its own loop and on
 * uvloop), both ways, on every network loop: 8 MiB of random bytes echoed through TLS in
 * random-size writes, SHA-256 compared on both sides of each direction, close_notify
 * answered both ways (a clean close on each side).
 */
import * as path from 'node:path';
import { randomBytes, createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { gather, openConnection, sleep, startServer, type SSLObject, type StreamReader, type StreamWriter } from 'loopkit';
import { Child, PYTHON, missingPython, onLoop, within } from './helpers.js';
import { TLS_LOOPS, certFiles, chunkSizes, sha256, tlsMissing } from './tls-helpers.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SCRIPT = path.join(HERE, 'tls_peer.py');
const SIZE = 8 * 1024 * 1024;

const FLAVOURS = [
  { name: 'asyncio', args: [] as string[], loopClass: /^asyncio\.unix_events\._UnixSelectorEventLoop$/, missing: missingPython('import asyncio, ssl', 'asyncio with ssl') },
  { name: 'uvloop', args: ['--uvloop'], loopClass: /^uvloop\.Loop$/, missing: missingPython('import uvloop, ssl', 'uvloop with ssl') },
];
for (const f of FLAVOURS) if (f.missing !== null) console.warn(`[peers] skipping TLS with Python ${f.name}: ${f.missing}`);

interface ClientReport {
  loop: string;
  version: string;
  cipher: string;
  sent: number;
  sentSha256: string;
  received: number;
  receivedSha256: string;
}

describe.skipIf(tlsMissing !== null)('TLS with Python asyncio + ssl', { timeout: 120000 }, () => {
  for (const flavour of FLAVOURS) {
    describe.skipIf(flavour.missing !== null)(`Python ${flavour.name}`, () => {
      for (const subject of TLS_LOOPS) {
        describe.skipIf(subject.missing !== null)(subject.name, () => {
          it('a loopkit TLS client against a Python TLS echo server: 8 MiB byte-exact both ways, clean close', async () => {
            const certs = certFiles();
            const server = new Child(PYTHON, [SCRIPT, 'server', certs.dir, ...flavour.args]);
            try {
              const [, loopClass] = (await server.waitFor(/^loop (\S+)$/m, 15)) as unknown as [string, string];
              expect(loopClass).toMatch(flavour.loopClass);
              const port = Number((await server.waitFor(/^listening (\d+)$/m, 15))[1]);
              const data = randomBytes(SIZE);
              await onLoop(subject, async (loop, reports) => {
                const [reader, writer] = await openConnection('127.0.0.1', port, { ssl: { ca: certs.pem.ca }, serverHostname: 'localhost' });
                expect(writer.getExtraInfo<SSLObject>('ssl_object')!.getProtocol()).toBe('TLSv1.3');
                const send = async (): Promise<void> => {
                  const sizes = chunkSizes(port);
                  for (let offset = 0; offset < SIZE; ) {
                    const n = sizes.next().value!;
                    writer.write(data.subarray(offset, offset + n));
                    offset += n;
                    await writer.drain();
                  }
                };
                // TLS has no half-close: read the whole echo, then close.
                const receive = async (): Promise<Buffer> => {
                  const chunks: Buffer[] = [];
                  let got = 0;
                  while (got < SIZE) {
                    const chunk = await reader.read(1 << 16);
                    if (chunk.length === 0) break;
                    chunks.push(chunk);
                    got += chunk.length;
                  }
                  return Buffer.concat(chunks);
                };
                const [, echoed] = await within(60, '8 MiB TLS echo through Python', gather(loop.createTask(send), loop.createTask(receive)));
                expect(echoed.length).toBe(SIZE);
                expect(sha256(echoed)).toBe(sha256(data));
                // Our close_notify; Python answers with its own and we see a clean end.
                writer.close();
                await within(10, 'writer.waitClosed()', writer.waitClosed());
                expect(reports).toEqual([]);
              });
              const [, n, digest] = await server.waitFor(/^received (\d+) ([0-9a-f]{64})$/m, 15);
              expect(Number(n)).toBe(SIZE);
              expect(digest).toBe(sha256(data));
              expect(server.stdout).not.toMatch(/^error /m);
            } finally {
              await server.stop();
            }
          });

          it('a Python TLS client against a loopkit TLS echo server: 8 MiB byte-exact both ways, clean close', async () => {
            const certs = certFiles();
            await onLoop(subject, async (_loop, reports) => {
              const received: Array<{ bytes: number; sha256: string; eof: boolean }> = [];
              const server = await startServer(
                async (reader: StreamReader, writer: StreamWriter) => {
                  const hash = createHash('sha256');
                  let bytes = 0;
                  for (;;) {
                    const chunk = await reader.read(1 << 16);
                    if (chunk.length === 0) break;
                    hash.update(chunk);
                    bytes += chunk.length;
                    writer.write(chunk);
                    await writer.drain();
                  }
                  // Python's close_notify ended the stream.
                  received.push({ bytes, sha256: hash.digest('hex'), eof: reader.atEof() });
                  writer.close();
                  await writer.waitClosed();
                },
                '127.0.0.1',
                0,
                { ssl: { key: certs.pem.serverKey, cert: certs.pem.serverCert } },
              );
              try {
                const { port } = (server.sockets[0] as { getsockname(): { port: number } }).getsockname();
                const client = new Child(PYTHON, [SCRIPT, 'client', certs.dir, '127.0.0.1', String(port), String(SIZE), String(port), ...flavour.args]);
                try {
                  const exit = await client.wait(60);
                  expect(exit, client.describe()).toEqual({ code: 0, signal: null });
                } finally {
                  await client.stop();
                }
                const report = JSON.parse(client.stdout.trim().split('\n').at(-1)!) as ClientReport;
                expect(report.loop).toMatch(flavour.loopClass);
                expect(report.version).toBe('TLSv1.3');
                expect(report.sent).toBe(SIZE);
                expect(report.received).toBe(SIZE);
                expect(report.receivedSha256).toBe(report.sentSha256);
                // The server saw exactly what Python sent, then its close_notify.
                await within(10, 'the server handler', (async () => {
                  while (received.length === 0) await sleep(0.005);
                })());
                expect(received).toEqual([{ bytes: SIZE, sha256: report.sentSha256, eof: true }]);
              } finally {
                server.close();
                await within(10, 'server.waitClosed()', server.waitClosed());
              }
              expect(reports).toEqual([]);
            });
          });
        });
      }
    });
  }
});
