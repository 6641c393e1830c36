/**
 * Shared by the TLS peer tests: why the TLS tests would be skipped,
 * the throwaway PKI of @loopkit/conformance's support/tls-certs.ts written to files (the peers read PEM
 * files, not strings), and a SHA-256 and chunking helper.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { getTLSProvider } from '@loopkit/core';
import '@loopkit/selector'; // registers @loopkit/uv's TLS engine when the addon loaded
import { hasOpenssl, testCerts, type TestCerts } from '@loopkit/conformance/support';

/** null when TLS can be tested here, else why not. */
export const tlsMissing: string | null =
  getTLSProvider() === null
    ? 'no TLS provider is registered (the @loopkit/uv addon has no TLS engine here)'
    : hasOpenssl()
      ? null
      : 'no openssl command to make the test certificates';
if (tlsMissing !== null) console.warn(`[peers] skipping the TLS peer tests: ${tlsMissing}`);

export interface CertFiles {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  pem: TestCerts;
}

let files: CertFiles | null = null;

/** The test PKI as PEM files in a temp directory, removed when the process exits. */
export function certFiles(): CertFiles {
  if (files !== null) return files;
  const pem = testCerts();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loopkit-tls-peers-'));
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string): string => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text, { mode: 0o600 });
    return file;
  };
  files = {
    dir,
    ca: write('ca.pem', pem.ca),
    serverCert: write('server.pem', pem.serverCert),
    serverKey: write('server.key', pem.serverKey),
    clientCert: write('client.pem', pem.clientCert),
    clientKey: write('client.key', pem.clientKey),
    pem,
  };
  return files;
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Deterministic chunk sizes (1 B .. `max`) so each run writes in odd pieces. */
export function* chunkSizes(seed: number, max = 256 * 1024): Generator<number> {
  let x = seed >>> 0 || 1;
  for (;;) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    yield 1 + (x % max);
  }
}
