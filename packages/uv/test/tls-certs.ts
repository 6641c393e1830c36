// A throwaway PKI for the TLS tests, made by the `openssl` command at test time (no key is
// committed): a CA, server certificates it signed (localhost + 127.0.0.1, and one for the
// SNI name other.test, and chain.test under an intermediate CA), a client certificate, a
// self-signed server certificate, a spare key,
// a passphrase-protected key and a PKCS#12 bundle. EC P-256 keys: handshakes stay fast.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestPKI {
  caCert: string;
  serverCert: string;
  serverKey: string;
  otherCert: string; // other.test, for SNI
  otherKey: string;
  clientCert: string;
  clientKey: string;
  interCert: string; // an intermediate CA under caCert
  chainCert: string; // chain.test, signed by interCert
  chainKey: string;
  selfCert: string; // self-signed, CN/SAN localhost
  selfKey: string;
  spareKey: string; // matches no certificate
  encKey: string; // serverKey under the passphrase 'sesame'
  pfx: Buffer; // serverCert + serverKey + caCert, passphrase 'sesame'
}

export const PASSPHRASE = 'sesame';

export function makePKI(): TestPKI {
  const dir = mkdtempSync(join(tmpdir(), 'loopkit-tls-'));
  const f = (name: string) => join(dir, name);
  const ossl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const key = (name: string) => ossl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', f(name));
  const signed = (name: string, cn: string, ext: string, ca = 'ca') => {
    key(`${name}.key`);
    ossl('req', '-new', '-key', f(`${name}.key`), '-subj', `/CN=${cn}`, '-out', f(`${name}.csr`));
    writeFileSync(f(`${name}.ext`), ext);
    ossl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f(`${ca}.pem`), '-CAkey', f(`${ca}.key`), '-CAcreateserial',
      '-days', '2', '-extfile', f(`${name}.ext`), '-out', f(`${name}.pem`));
  };
  try {
    key('ca.key');
    ossl('req', '-x509', '-new', '-key', f('ca.key'), '-subj', '/CN=loopkit test CA', '-days', '2',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', f('ca.pem'));
    signed('server', 'localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
    signed('other', 'other.test', 'subjectAltName=DNS:other.test\nextendedKeyUsage=serverAuth\n');
    signed('client', 'loopkit client', 'extendedKeyUsage=clientAuth\n');
    signed('inter', 'loopkit test intermediate', 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n');
    signed('chain', 'chain.test', 'subjectAltName=DNS:chain.test\nextendedKeyUsage=serverAuth\n', 'inter');
    key('self.key');
    ossl('req', '-x509', '-new', '-key', f('self.key'), '-subj', '/CN=localhost', '-days', '2',
      '-addext', 'subjectAltName=DNS:localhost', '-out', f('self.pem'));
    key('spare.key');
    ossl('pkey', '-in', f('server.key'), '-aes256', '-passout', `pass:${PASSPHRASE}`, '-out', f('enc.key'));
    ossl('pkcs12', '-export', '-in', f('server.pem'), '-inkey', f('server.key'), '-certfile', f('ca.pem'),
      '-passout', `pass:${PASSPHRASE}`, '-out', f('server.p12'));
    const r = (name: string) => readFileSync(f(name), 'utf8');
    return {
      caCert: r('ca.pem'), serverCert: r('server.pem'), serverKey: r('server.key'),
      otherCert: r('other.pem'), otherKey: r('other.key'), clientCert: r('client.pem'), clientKey: r('client.key'),
      interCert: r('inter.pem'), chainCert: r('chain.pem'), chainKey: r('chain.key'),
      selfCert: r('self.pem'), selfKey: r('self.key'), spareKey: r('spare.key'), encKey: r('enc.key'),
      pfx: readFileSync(f('server.p12')),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
