/**
 * loop.sendfile() and loop.sockSendfile() (asyncio 3.7+), for loops with `caps.network`: a
 * file reaches a peer byte for byte (whole, or a slice by offset and count) whether the loop
 * uses the OS's sendfile or reads and writes; the transport goes back to its protocol as it
 * was; bad arguments are refused, naming them; TLS goes through the layer.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { expect } from './expect.js';
import { describe, it } from './kit.js';
import { rule } from './rules.js';
import { DatagramProtocol, Protocol, RuntimeError, sleep, type AbstractEventLoop, type Transport } from '@loopkit/core';
import { uv, uvMissing } from './support/uv.js';
import { lacks, withLoop, type LoopUnderTest } from './context.js';
import { pattern } from './support/net.js';
import { tempDir } from './support/temp-dir.js';
import { hasOpenssl, testCerts } from './support/tls-certs.js';
import { failure } from './helpers.js';

/** A Node server that keeps what each connection sends; `received()` once the client closed. */
async function sink(secure: tls.TlsOptions | null): Promise<{ port: number; received: () => Promise<Buffer>; close: () => Promise<void> }> {
  let resolveBytes!: (b: Buffer) => void;
  const bytes = new Promise<Buffer>((resolve) => (resolveBytes = resolve));
  const onSocket = (socket: net.Socket): void => {
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', () => undefined);
    socket.on('close', () => resolveBytes(Buffer.concat(chunks)));
    socket.on('end', () => socket.end());
  };
  const server = secure === null ? net.createServer(onSocket) : tls.createServer(secure, onSocket);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    received: () => bytes,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A file of `n` patterned bytes, and its descriptor (closed when the test's folder goes, by the test itself). */
function patternFile(n: number): { file: string; data: Buffer } {
  const file = path.join(tempDir('sendfile'), 'data.bin');
  const data = pattern(n, 7);
  fs.writeFileSync(file, data);
  return { file, data };
}

class Quiet extends Protocol {
  lost: unknown[] = [];
  resumed = 0;
  override connectionLost(exc: unknown): void {
    this.lost.push(exc);
  }
  override resumeWriting(): void {
    this.resumed++;
  }
}

async function connect(loop: AbstractEventLoop, port: number, options: object = {}): Promise<[Transport, Quiet]> {
  return (await loop.createConnection(() => new Quiet(), '127.0.0.1', port, options)) as [Transport, Quiet];
}

export function sendfileSuite(subject: LoopUnderTest): void {
  describe('sendfile', () => {
    it('sendfile() sends a file on a TCP transport, whole and by offset and count; then write() goes on behind it', rule('loop.sendfile resolves to the bytes sent, the peer gets exactly them in order, and the transport is the protocol\'s again', () =>
      withLoop(subject, async (loop, reports) => {
        const { file, data } = patternFile(3 * 1024 * 1024 + 123);
        const server = await sink(null);
        const handle = await fs.promises.open(file, 'r');
        try {
          const [transport, protocol] = await connect(loop, server.port);
          transport.write(Buffer.from('head:'));
          expect(await loop.sendfile(transport, handle)).toBe(data.length);
          expect(await loop.sendfile(transport, handle.fd, 1000, 5000)).toBe(5000);
          expect(await loop.sendfile(transport, handle, data.length - 10, 100)).toBe(10);
          expect(await loop.sendfile(transport, handle, data.length)).toBe(0);
          expect(transport.getProtocol()).toBe(protocol);
          expect(transport.isReading()).toBe(true);
          transport.write(Buffer.from(':tail'));
          transport.close();
          const got = await server.received();
          const want = Buffer.concat([Buffer.from('head:'), data, data.subarray(1000, 6000), data.subarray(data.length - 10), Buffer.from(':tail')]);
          expect(got.length).toBe(want.length);
          expect(got.equals(want)).toBe(true);
          await sleep(0.01);
          expect(protocol.lost).toEqual([null]);
        } finally {
          await handle.close();
          await server.close();
        }
        expect(reports).toEqual([]);
      })));

    it('sendfile() refuses bad arguments, naming them, and a closing or unsuitable transport', rule('sendfile checks file, offset, count and options as asyncio does, before sending anything', () =>
      withLoop(subject, async (loop) => {
        const { file } = patternFile(10);
        const server = await sink(null);
        const fd = fs.openSync(file, 'r');
        try {
          const [transport] = await connect(loop, server.port);
          await expect(loop.sendfile(transport, 'data.bin')).rejects.toThrow(TypeError);
          await expect(loop.sendfile(transport, 'data.bin')).rejects.toThrow(/file must be a file descriptor or a FileHandle/);
          await expect(loop.sendfile(transport, fd, -1)).rejects.toThrow(/offset must be a non-negative integer \(got -1\)/);
          await expect(loop.sendfile(transport, fd, 1.5)).rejects.toThrow(TypeError);
          await expect(loop.sendfile(transport, fd, 0, 0)).rejects.toThrow(/count must be a positive integer \(got 0\)/);
          await expect(loop.sendfile(transport, fd, 0, null, { fallbak: true } as object)).rejects.toThrow(/fallbak/);
          transport.close();
          const closing = await failure(loop.sendfile(transport, fd));
          expect(closing).toBeInstanceOf(RuntimeError);
          expect(String(closing)).toMatch(/Transport is closing/);
          const [udp] = (await loop.createDatagramEndpoint(() => new DatagramProtocol(), { localAddr: ['127.0.0.1', 0] })) as unknown as [Transport, DatagramProtocol];
          const refused = await failure(loop.sendfile(udp, fd));
          expect(refused).toBeInstanceOf(RuntimeError);
          expect(String(refused)).toMatch(/sendfile is not supported for transport/);
          udp.close();
        } finally {
          fs.closeSync(fd);
          await server.close();
        }
      })));

    it('sendfile() through TLS is encrypted by the layer; fallback: false says native sendfile cannot serve it', rule('a TLS transport takes the file through its TLS layer (asyncio: FALLBACK mode) and refuses fallback: false with RuntimeError', () =>
      withLoop(subject, async (loop, reports) => {
        if (lacks(subject, 'tls') !== null || !hasOpenssl()) return;
        const c = testCerts();
        const { file, data } = patternFile(700_000);
        const server = await sink({ key: c.serverKey, cert: c.serverCert });
        const fd = fs.openSync(file, 'r');
        try {
          const [transport, protocol] = await connect(loop, server.port, { ssl: { ca: c.ca }, serverHostname: 'localhost' });
          const refused = await failure(loop.sendfile(transport, fd, 0, null, { fallback: false }));
          expect(refused).toBeInstanceOf(RuntimeError);
          expect(String(refused)).toMatch(/fallback is disabled and native sendfile is not supported/);
          expect(await loop.sendfile(transport, fd, 5)).toBe(data.length - 5);
          expect(transport.getProtocol()).toBe(protocol);
          transport.close();
          const got = await server.received();
          expect(got.equals(data.subarray(5))).toBe(true);
        } finally {
          fs.closeSync(fd);
          await server.close();
        }
        expect(reports).toEqual([]);
      })));

    describe.skipIf(uvMissing)('sockSendfile on @loopkit/uv sockets', () => {
      it('sockSendfile() sends a file on a connected stream socket', rule('loop.sockSendfile resolves to the bytes sent and the peer gets exactly them', () =>
        withLoop(subject, async (loop) => {
          const { file, data } = patternFile(2 * 1024 * 1024 + 5);
          const server = await sink(null);
          const fd = fs.openSync(file, 'r');
          const sock = uv!.socket('inet', 'stream');
          try {
            await loop.sockConnect(sock, { address: '127.0.0.1', port: server.port });
            expect(await loop.sockSendfile(sock, fd)).toBe(data.length);
            expect(await loop.sockSendfile(sock, fd, 10, 20)).toBe(20);
            sock.close();
            const got = await server.received();
            expect(got.equals(Buffer.concat([data, data.subarray(10, 30)]))).toBe(true);
          } finally {
            fs.closeSync(fd);
            await server.close();
          }
        })));
    });
  });
}
