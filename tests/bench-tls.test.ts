/**
 * bench/tls-loadgen.c counts what it measures: against a Node `tls` echo server it completes
 * round trips both when it counts the echoes from their record headers (the default) and
 * when it decrypts every echo (--verify), and it refuses a server whose echoes differ from
 * what it sent: at start-up in both modes (it decrypts each connection's first echoes), and
 * later only with --verify (the default no longer decrypts). Skipped without a C compiler
 * or OpenSSL's headers. Tiny runs: no speed is asserted.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { fileURLToPath } from 'node:url';

const bench = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'bench');
const dir = mkdtempSync(path.join(tmpdir(), 'loopkit-tls-loadgen-test-'));
const loadgen = path.join(dir, 'tls-loadgen');

function build(): string | null {
  try {
    execFileSync('cc', ['-O2', '-o', loadgen, path.join(bench, 'tls-loadgen.c'), '-lssl', '-lcrypto'], { stdio: 'pipe' });
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
      '-keyout', path.join(dir, 'server.key'), '-out', path.join(dir, 'server.pem'), '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost', '-addext', 'basicConstraints=critical,CA:TRUE',
    ], { stdio: 'pipe' });
    return null;
  } catch (error) {
    return String(error);
  }
}

const missing = build();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A Node `tls` echo server (the load generator's cipher) that echoes message number
 * `corruptAt` (counted per connection from 1) with its first byte changed; 0: never.
 */
function echoServer(size: number, corruptAt: number): Promise<tls.Server> {
  const server = tls.createServer({
    key: readFileSync(path.join(dir, 'server.key')),
    cert: readFileSync(path.join(dir, 'server.pem')),
    minVersion: 'TLSv1.3',
    ciphers: 'TLS_AES_128_GCM_SHA256',
  }, (socket) => {
    let received = 0;
    socket.on('data', (data: Buffer) => {
      const message = Math.floor(received / size) + 1;
      if (message === corruptAt && received % size === 0) data = Buffer.concat([Buffer.from('y'), data.subarray(1)]);
      received += data.length;
      socket.write(data);
    });
    socket.on('error', () => {}); // the load generator closes without close_notify
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

interface Outcome {
  code: number;
  rate: number;
  total: number;
  /** Milliseconds it waited for its CPU during the timed part (-1 without /proc). */
  waited: number;
  stderr: string;
}

/** Run the load generator for `seconds` against `server`. */
function runFor(server: tls.Server, size: number, verify: boolean, seconds: number): Promise<Outcome> {
  const { port } = server.address() as { port: number };
  const args = ['127.0.0.1', String(port), '2', String(size), '0.05', String(seconds), path.join(dir, 'server.pem'), ...(verify ? ['--verify'] : [])];
  return new Promise((resolve) => {
    execFile(loadgen, args, { timeout: 20_000 }, (error, stdout, stderr) => {
      const [rate, total, , waited] = stdout.trim().split(' ').map(Number);
      resolve({ code: error === null ? 0 : Number(error.code), rate: rate ?? NaN, total: total ?? NaN, waited: waited ?? NaN, stderr });
    });
  });
}

/**
 * Run the load generator until it fails or completes more than `atLeast` round trips: 0.3 s,
 * then longer (on a loaded machine 0.3 s held 9 of 40000 bytes, or not even the handshakes).
 */
async function run(server: tls.Server, size: number, verify: boolean, atLeast: number): Promise<Outcome> {
  let outcome: Outcome | null = null;
  for (const seconds of [0.3, 1.5, 6]) {
    outcome = await runFor(server, size, verify, seconds);
    if (outcome.code !== 0 || outcome.total > atLeast) break;
  }
  return outcome!;
}

describe.skipIf(missing !== null)('bench/tls-loadgen.c', () => {
  const servers: tls.Server[] = [];
  afterAll(() => {
    for (const server of servers) server.close();
  });
  async function serve(size: number, corruptAt: number): Promise<tls.Server> {
    const server = await echoServer(size, corruptAt);
    servers.push(server);
    return server;
  }

  // 1000 bytes: one record per echo; 40000: three, the last one short.
  for (const size of [1000, 40000]) {
    it(`completes ${size}-byte round trips counting the echoes and decrypting them (--verify)`, async () => {
      const server = await serve(size, 0);
      for (const verify of [false, true]) {
        const outcome = await run(server, size, verify, 10);
        expect(outcome.stderr).toBe('');
        expect(outcome.code).toBe(0);
        expect(outcome.total).toBeGreaterThan(10);
        expect(outcome.rate).toBeGreaterThan(0);
        // bench/tls-echo.js reports it: what other processes took from the load generator's run.
        if (existsSync('/proc/self/schedstat')) expect(outcome.waited).toBeGreaterThanOrEqual(0);
        expect(outcome.waited).toBeLessThanOrEqual(300);
      }
    }, 60_000);
  }

  it('refuses an echo that differs from the message among the first echoes it checks, in both modes', async () => {
    const server = await serve(40000, 3);
    for (const verify of [false, true]) {
      const outcome = await run(server, 40000, verify, 10);
      expect(outcome.code).toBe(1);
      expect(outcome.stderr).toContain('the echo differs from the message');
    }
  }, 60_000);

  it('counts later echoes without decrypting them, and --verify still checks every one', async () => {
    const server = await serve(1000, 50);
    const counted = await run(server, 1000, false, 2 * 50);
    expect(counted.code).toBe(0);
    expect(counted.total).toBeGreaterThan(2 * 50);
    const verified = await run(server, 1000, true, 2 * 50);
    expect(verified.code).toBe(1);
    expect(verified.stderr).toContain('the echo differs from the message');
  }, 60_000);
});
