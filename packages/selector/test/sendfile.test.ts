/**
 * The selector's own sendfile path (asyncio's _sendfile_native on _SelectorSocketTransport and
 * unix_events' _sock_sendfile_native): the kernel copies the file, write() waits its turn,
 * and what the kernel cannot serve falls back to reads and writes. The conformance suite checks
 * the bytes on every loop; these check that this loop really takes the native path.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Protocol, RuntimeError, SendfileNotAvailableError, type Transport } from '@loopkit/core';
import { Socket, socket } from '@loopkit/uv';
import { SelectorEventLoop } from '@loopkit/selector';

const dirs: string[] = [];
afterEach(() => {
  vi.restoreAllMocks();
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function dataFile(n: number): { file: string; data: Buffer } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loopkit-sendfile-'));
  dirs.push(dir);
  const data = Buffer.alloc(n);
  for (let i = 0; i < n; i++) data[i] = (i * 7 + (i >> 9)) & 0xff;
  const file = path.join(dir, 'data.bin');
  fs.writeFileSync(file, data);
  return { file, data };
}

/** A Node server keeping what its one connection sends, until the client closes. */
async function sink(): Promise<{ port: number; received: Promise<Buffer>; close(): void }> {
  let done!: (b: Buffer) => void;
  const received = new Promise<Buffer>((resolve) => (done = resolve));
  const server = net.createServer((s) => {
    const chunks: Buffer[] = [];
    s.on('data', (d) => chunks.push(d));
    s.on('end', () => done(Buffer.concat(chunks)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as net.AddressInfo).port, received, close: () => server.close() };
}

async function onLoop<T>(body: (loop: SelectorEventLoop) => Promise<T>): Promise<T> {
  const loop = new SelectorEventLoop();
  try {
    return await loop.runUntilComplete(() => body(loop));
  } finally {
    loop.close();
  }
}

describe('SelectorEventLoop sendfile', () => {
  it('sends through sendfile(2), and write() during it is refused as asyncio refuses it', async () => {
    const { file, data } = dataFile(8 * 1024 * 1024);
    const server = await sink();
    const calls = vi.spyOn(Socket.prototype, 'trySendfile');
    const fd = fs.openSync(file, 'r');
    try {
      await onLoop(async (loop) => {
        const [transport] = (await loop.createConnection(() => new Protocol(), '127.0.0.1', server.port)) as [Transport, unknown];
        const sending = loop.sendfile(transport, fd);
        await Promise.resolve();
        expect(() => transport.write(Buffer.from('x'))).toThrow(RuntimeError);
        expect(() => transport.write(Buffer.from('x'))).toThrow('unable to write; sendfile is in progress');
        expect(await sending).toBe(data.length);
        transport.write(Buffer.from('after'));
        transport.close();
      });
      expect(calls).toHaveBeenCalled();
      const got = await server.received;
      expect(got.equals(Buffer.concat([data, Buffer.from('after')]))).toBe(true);
    } finally {
      fs.closeSync(fd);
      server.close();
    }
  });

  it('flushes what write() buffered before the file, keeping the order', async () => {
    const { file, data } = dataFile(300_000);
    const server = await sink();
    const fd = fs.openSync(file, 'r');
    const head = Buffer.alloc(4 * 1024 * 1024, 0x41);
    try {
      await onLoop(async (loop) => {
        const [transport] = (await loop.createConnection(() => new Protocol(), '127.0.0.1', server.port)) as [Transport, unknown];
        transport.write(head);
        expect(transport.getWriteBufferSize()).toBeGreaterThan(0);
        expect(await loop.sendfile(transport, fd, 0, null, { fallback: false })).toBe(data.length);
        transport.close();
      });
      const got = await server.received;
      expect(got.equals(Buffer.concat([head, data]))).toBe(true);
    } finally {
      fs.closeSync(fd);
      server.close();
    }
  });

  it('a file the kernel cannot send from: SendfileNotAvailableError with fallback: false, reads and writes by default', async () => {
    const server = await sink();
    const device = fs.openSync('/dev/null', 'r');
    try {
      await onLoop(async (loop) => {
        const [transport] = (await loop.createConnection(() => new Protocol(), '127.0.0.1', server.port)) as [Transport, unknown];
        await expect(loop.sendfile(transport, device, 0, null, { fallback: false })).rejects.toThrow(SendfileNotAvailableError);
        const sock = socket('inet', 'stream');
        await loop.sockConnect(sock, { address: '127.0.0.1', port: server.port });
        await expect(loop.sockSendfile(sock, device, 0, null, { fallback: false })).rejects.toThrow('not a regular file');
        sock.close();
        transport.close();
      });
    } finally {
      fs.closeSync(device);
      server.close();
    }
  });

  it('sockSendfile goes through sendfile(2) and refuses a datagram socket', async () => {
    const { file, data } = dataFile(1024 * 1024);
    const server = await sink();
    const calls = vi.spyOn(Socket.prototype, 'trySendfile');
    const fd = fs.openSync(file, 'r');
    try {
      await onLoop(async (loop) => {
        const sock = socket('inet', 'stream');
        await loop.sockConnect(sock, { address: '127.0.0.1', port: server.port });
        expect(await loop.sockSendfile(sock, fd, 0, null, { fallback: false })).toBe(data.length);
        sock.close();
        const udp = socket('inet', 'dgram');
        await expect(loop.sockSendfile(udp, fd)).rejects.toThrow(/stream socket was expected/);
        udp.close();
      });
      expect(calls).toHaveBeenCalled();
      expect((await server.received).equals(data)).toBe(true);
    } finally {
      fs.closeSync(fd);
      server.close();
    }
  });
});
