/**
 * loopkit against Python asyncio, with Python on its plain loop and on uvloop
 * (/usr/bin/python3), in both directions and on both of our loops: 10 MiB of random bytes
 * echoed, with SHA-256 compared on both sides of each direction.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { gather, openConnection, startServer } from 'loopkit';
import { Child, LOOPS, PYTHON, hashingEcho, missingPython, onLoop, within, type EchoRecord } from './helpers.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SIZE = 10 * 1024 * 1024;

const FLAVOURS = [
  { name: 'asyncio', args: [] as string[], loopClass: /^asyncio\.unix_events\._UnixSelectorEventLoop$/, missing: missingPython('import asyncio', 'asyncio') },
  { name: 'uvloop', args: ['--uvloop'], loopClass: /^uvloop\.Loop$/, missing: missingPython('import uvloop', 'uvloop') },
];
for (const f of FLAVOURS) if (f.missing !== null) console.warn(`[peers] skipping Python ${f.name}: ${f.missing}`);

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Deterministic chunk sizes (1 B .. 256 KiB) so each run writes in odd pieces. */
function* chunkSizes(seed: number): Generator<number> {
  let x = seed >>> 0 || 1;
  for (;;) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    yield 1 + (x % (256 * 1024));
  }
}

interface ClientReport {
  loop: string;
  sent: number;
  sentSha256: string;
  received: number;
  receivedSha256: string;
}

describe('Python asyncio peers', { timeout: 120000 }, () => {
  for (const flavour of FLAVOURS) {
    describe.skipIf(flavour.missing !== null)(`Python ${flavour.name}`, () => {
      for (const subject of LOOPS) {
        describe.skipIf(subject.missing !== null)(subject.name, () => {
          it('a loopkit client against a Python echo server: 10 MiB byte-exact both ways', async () => {
            const server = new Child(PYTHON, [path.join(HERE, 'echo_server.py'), ...flavour.args]);
            try {
              const [, loopClass] = (await server.waitFor(/^loop (\S+)$/m, 15)) as unknown as [string, string];
              expect(loopClass).toMatch(flavour.loopClass);
              const port = Number((await server.waitFor(/^listening (\d+)$/m, 15))[1]);
              const data = randomBytes(SIZE);
              await onLoop(subject, async (loop, reports) => {
                const [reader, writer] = await openConnection('127.0.0.1', port);
                const send = async (): Promise<void> => {
                  let offset = 0;
                  const sizes = chunkSizes(port);
                  while (offset < SIZE) {
                    const n = sizes.next().value!;
                    writer.write(data.subarray(offset, offset + n));
                    offset += n;
                    await writer.drain();
                  }
                  writer.writeEof();
                };
                const receive = async (): Promise<Buffer> => {
                  const chunks: Buffer[] = [];
                  for (;;) {
                    const chunk = await reader.read(1 << 16);
                    if (chunk.length === 0) return Buffer.concat(chunks);
                    chunks.push(chunk);
                  }
                };
                const [, echoed] = await within(60, '10 MiB echo through Python', gather(loop.createTask(send), loop.createTask(receive)));
                expect(echoed.length).toBe(SIZE);
                expect(sha256(echoed)).toBe(sha256(data));
                expect(reader.atEof()).toBe(true);
                writer.close();
                await writer.waitClosed();
                expect(reports).toEqual([]);
              });
              // What Python received, hashed on its side.
              const [, n, digest] = await server.waitFor(/^received (\d+) ([0-9a-f]{64})$/m, 15);
              expect(Number(n)).toBe(SIZE);
              expect(digest).toBe(sha256(data));
            } finally {
              await server.stop();
            }
          });

          it('a Python client against a loopkit echo server: 10 MiB byte-exact both ways', async () => {
            await onLoop(subject, async (_loop, reports) => {
              const received: EchoRecord[] = [];
              const server = await startServer(hashingEcho(received), '127.0.0.1', 0);
              try {
                const { port } = (server.sockets[0] as { getsockname(): { port: number } }).getsockname();
                const client = new Child(PYTHON, [path.join(HERE, 'client.py'), '127.0.0.1', String(port), String(SIZE), String(port), ...flavour.args]);
                try {
                  const exit = await client.wait(60);
                  expect(exit, client.describe()).toEqual({ code: 0, signal: null });
                } finally {
                  await client.stop();
                }
                const report = JSON.parse(client.stdout.trim().split('\n').at(-1)!) as ClientReport;
                expect(report.loop).toMatch(flavour.loopClass);
                expect(report.sent).toBe(SIZE);
                expect(report.received).toBe(SIZE);
                expect(report.receivedSha256).toBe(report.sentSha256);
                // The server saw exactly what Python sent.
                expect(received).toEqual([{ bytes: SIZE, sha256: report.sentSha256 }]);
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
