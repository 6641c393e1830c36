/**
 * loopkit's TLS against the `openssl` command, both ways, on every network loop:
 * - a loopkit client against `openssl s_server -quiet` (it requires our client certificate,
 *   TLS 1.3 with ChaCha20 only): 4 MiB from us reach its stdout, 4 MiB fed to its stdin
 *   reach us, byte-exact; our close_notify ends it;
 * - `openssl s_client -quiet` (which implies -ign_eof: its stdin's end does not end the
 *   connection) with a client certificate, TLS 1.2 only, against a loopkit echo server that
 *   closes after the whole echo: s_client's stdout is exactly its stdin, and it exits 0
 *   when our close_notify arrives.
 * s_server and s_client write received bytes raw to stdout, so the bytes are random binary.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConnectionRefusedError, sleep } from '@loopkit/core';
import { openConnection, startServer, type SSLObject, type StreamReader, type StreamWriter } from 'loopkit';
import { LOOPS, freePort, onLoop, within } from './helpers.js';
import { certFiles, sha256, tlsMissing } from './tls-helpers.js';

const SIZE = 4 * 1024 * 1024;

/** An openssl child whose stdout is kept as bytes; killed for sure by `stop()`. */
class OpensslChild {
  readonly proc: ChildProcess;
  readonly out: Buffer[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;
  constructor(args: string[]) {
    this.proc = spawn('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stdout!.on('data', (d: Buffer) => this.out.push(d));
    this.proc.stderr!.setEncoding('utf8');
    this.proc.stderr!.on('data', (d: string) => (this.stderr += d));
    this.proc.stdin!.on('error', () => {}); // EPIPE if it exits before reading all of stdin
    this.exited = new Promise((resolve) => this.proc.once('exit', (code) => resolve(code)));
  }
  get stdout(): Buffer {
    return Buffer.concat(this.out);
  }
  get outLength(): number {
    return this.out.reduce((n, b) => n + b.length, 0);
  }
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill('SIGKILL');
    await this.exited;
  }
  describe(): string {
    return `openssl ${this.proc.spawnargs.slice(1).join(' ')} (stderr: ${this.stderr.trim().split('\n').slice(-4).join(' | ') || '-'})`;
  }
}

describe.skipIf(tlsMissing !== null)('TLS with the openssl command', { timeout: 60000 }, () => {
  for (const subject of LOOPS) {
    describe.skipIf(subject.missing !== null)(subject.name, () => {
      it('a loopkit client against openssl s_server (client certificate required, ChaCha20): 4 MiB each way byte-exact', async () => {
        const certs = certFiles();
        const port = await freePort();
        const server = new OpensslChild([
          's_server', '-accept', `127.0.0.1:${port}`, '-naccept', '1', '-quiet',
          '-cert', certs.serverCert, '-key', certs.serverKey, '-CAfile', certs.ca, '-Verify', '1', '-verify_return_error',
          '-tls1_3', '-ciphersuites', 'TLS_CHACHA20_POLY1305_SHA256',
        ]);
        try {
          const toUs = randomBytes(SIZE);
          const fromUs = randomBytes(SIZE);
          await onLoop(subject, async (_loop, reports) => {
            const ssl = { ca: certs.pem.ca, cert: certs.pem.clientCert, key: certs.pem.clientKey };
            // s_server prints nothing in quiet mode: connect until it listens (a refused
            // connect does not use up its one accept).
            let conn: [StreamReader, StreamWriter] | null = null;
            for (const end = Date.now() + 10_000; conn === null; ) {
              try {
                conn = await openConnection('127.0.0.1', port, { ssl, serverHostname: 'localhost', sslShutdownTimeout: 5 });
              } catch (error) {
                if (!(error instanceof ConnectionRefusedError) || Date.now() > end) throw new Error(`${server.describe()}: ${String(error)}`);
                await sleep(0.05);
              }
            }
            const [reader, writer] = conn;
            const obj = writer.getExtraInfo<SSLObject>('ssl_object')!;
            expect(obj.getProtocol()).toBe('TLSv1.3');
            expect(writer.getExtraInfo<{ name: string }>('cipher')!.name).toBe('TLS_CHACHA20_POLY1305_SHA256');
            expect(obj.authorized).toBe(true);
            server.proc.stdin!.write(toUs); // stdin stays open: its end would end s_server's side
            writer.write(fromUs);
            await writer.drain();
            expect((await within(30, '4 MiB from s_server', reader.readexactly(SIZE))).equals(toUs)).toBe(true);
            await within(30, 's_server printing our 4 MiB', (async () => {
              while (server.outLength < SIZE) await sleep(0.01);
            })());
            expect(server.outLength).toBe(SIZE);
            expect(sha256(server.stdout)).toBe(sha256(fromUs));
            writer.close();
            await within(10, 'writer.waitClosed()', writer.waitClosed());
            expect(reports).toEqual([]);
          });
          // Our close_notify ended its one connection, so it exits by itself.
          expect(await within(10, 's_server exit', server.exited), server.describe()).toBe(0);
        } finally {
          await server.stop();
        }
      });

      it('openssl s_client (TLS 1.2, client certificate) against a loopkit echo server: 4 MiB byte-exact, exits 0 on our close_notify', async () => {
        const certs = certFiles();
        await onLoop(subject, async (_loop, reports) => {
          const seen: Array<{ protocol: string | null; cn: string | undefined }> = [];
          const server = await startServer(
            async (reader: StreamReader, writer: StreamWriter) => {
              const obj = writer.getExtraInfo<SSLObject>('ssl_object')!;
              const peer = writer.getExtraInfo<{ subject?: { CN?: string } }>('peercert');
              seen.push({ protocol: obj.getProtocol(), cn: peer?.subject?.CN });
              let left = SIZE;
              while (left > 0) {
                const chunk = await reader.read(Math.min(left, 1 << 16));
                if (chunk.length === 0) break;
                left -= chunk.length;
                writer.write(chunk);
                await writer.drain();
              }
              writer.close(); // close_notify: s_client -ign_eof ends only on this
              await writer.waitClosed();
            },
            '127.0.0.1',
            0,
            { ssl: { key: certs.pem.serverKey, cert: certs.pem.serverCert, ca: certs.pem.ca, requestCert: true, rejectUnauthorized: true }, sslShutdownTimeout: 5 },
          );
          const { port } = (server.sockets[0] as { getsockname(): { port: number } }).getsockname();
          const client = new OpensslChild([
            's_client', '-connect', `127.0.0.1:${port}`, '-quiet', '-ign_eof', '-tls1_2',
            '-servername', 'localhost', '-CAfile', certs.ca, '-verify_return_error', '-verify_hostname', 'localhost',
            '-cert', certs.clientCert, '-key', certs.clientKey,
          ]);
          try {
            const data = randomBytes(SIZE);
            client.proc.stdin!.end(data);
            const code = await within(30, 's_client', client.exited);
            expect(code, client.describe()).toBe(0);
            expect(client.outLength).toBe(SIZE);
            expect(sha256(client.stdout)).toBe(sha256(data));
            expect(seen).toEqual([{ protocol: 'TLSv1.2', cn: 'loopkit client' }]);
          } finally {
            await client.stop();
            server.close();
            await within(10, 'server.waitClosed()', server.waitClosed());
          }
          expect(reports).toEqual([]);
        });
      });
    });
  }
});
