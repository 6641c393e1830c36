/**
 * A throwaway PKI for the TLS suites, made by the `openssl` command when first asked for (no
 * key is committed): a CA, a server certificate it signed for localhost and 127.0.0.1, one
 * for the SNI name other.test, and a client certificate. EC P-256 keeps handshakes fast.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface TestCerts {
  ca: string;
  serverCert: string;
  serverKey: string;
  otherCert: string;
  otherKey: string;
  clientCert: string;
  clientKey: string;
}

let made: TestCerts | null = null;

export function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function testCerts(): TestCerts {
  if (made !== null) return made;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loopkit-tls-'));
  const at = (name: string): string => path.join(dir, name);
  const run = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  };
  const newKey = (name: string): void => run('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', at(name));
  const issue = (name: string, cn: string, extensions: string): void => {
    newKey(`${name}.key`);
    run('req', '-new', '-key', at(`${name}.key`), '-subj', `/O=loopkit/CN=${cn}`, '-out', at(`${name}.csr`));
    fs.writeFileSync(at(`${name}.ext`), extensions);
    run('x509', '-req', '-in', at(`${name}.csr`), '-CA', at('ca.pem'), '-CAkey', at('ca.key'), '-CAcreateserial', '-days', '3', '-extfile', at(`${name}.ext`), '-out', at(`${name}.pem`));
  };
  try {
    newKey('ca.key');
    run('req', '-x509', '-new', '-key', at('ca.key'), '-subj', '/O=loopkit/CN=loopkit test CA', '-days', '3',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', at('ca.pem'));
    issue('server', 'localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
    issue('other', 'other.test', 'subjectAltName=DNS:other.test\nextendedKeyUsage=serverAuth\n');
    issue('client', 'loopkit client', 'extendedKeyUsage=clientAuth\n');
    const read = (name: string): string => fs.readFileSync(at(name), 'utf8');
    made = {
      ca: read('ca.pem'),
      serverCert: read('server.pem'),
      serverKey: read('server.key'),
      otherCert: read('other.pem'),
      otherKey: read('other.key'),
      clientCert: read('client.pem'),
      clientKey: read('client.key'),
    };
    return made;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
