// The OpenSSL engine (native/tls.c, src/tls.ts): engine against engine in memory, against
// Node's own `tls` over real sockets, failures with Node's codes, and lifecycle.
import { describe, expect, expectTypeOf, it, beforeAll } from 'vitest';
import { randomBytes, X509Certificate } from 'node:crypto';
import net from 'node:net';
import tls, { createSecureContext } from 'node:tls';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import type * as core from '@loopkit/core';
import type { TLSProvider as CoreTLSProvider } from '@loopkit/core';
import type * as uv from '@loopkit/uv';
import { tlsProvider as maybeProvider, tlsStats, type TLSEngine, type TLSOptions } from '@loopkit/uv';
import { native, type NativeTLSContext, type NativeTLSEngine } from '../dist/native.js';
import { makePKI, PASSPHRASE, type TestPKI } from './tls-certs.js';
import { handshake, move, transfer, Wire } from './tls-pump.js';

// Type-level check: core's contract accepts this package's provider (they share no import).
const coreTyped: CoreTLSProvider | null = maybeProvider;
const provider = coreTyped as CoreTLSProvider;

describe('the contract stated here', () => {
  it("is core's, type for type (src/tls-types.ts restates core's tls/engine.ts: neither package imports the other)", () => {
    expectTypeOf<uv.TLSOptions>().toEqualTypeOf<core.TLSOptions>();
    expectTypeOf<uv.TLSSessionInfo>().toEqualTypeOf<core.TLSSessionInfo>();
    expectTypeOf<uv.HandshakeState>().toEqualTypeOf<core.HandshakeState>();
    expectTypeOf<uv.TLSEngine>().toEqualTypeOf<core.TLSEngine>();
    expectTypeOf<uv.TLSContext>().toEqualTypeOf<core.TLSContext>();
    expectTypeOf<uv.TLSProvider>().toEqualTypeOf<core.TLSProvider>();
  });
});

let pki: TestPKI;
beforeAll(() => {
  pki = makePKI();
});

const serverOpts = (extra: TLSOptions = {}): TLSOptions => ({ key: pki.serverKey, cert: pki.serverCert, ...extra });
const clientOpts = (extra: TLSOptions = {}): TLSOptions => ({ ca: pki.caCert, ...extra });

function pair(client: TLSOptions, server: TLSOptions, host: string | null = 'localhost'): [TLSEngine, TLSEngine] {
  return [provider.createContext(client, false).newEngine(host), provider.createContext(server, true).newEngine(null)];
}

/** The error `fn` throws (fails the test when it throws nothing). */
/** Memory outside V8's heap after a full GC: where SSL objects and BIO buffers live. RSS alone also
 * counts the young generation growing to its full size, a 32 MB step that is no leak. */
function nativeMemory(): number {
  globalThis.gc?.();
  const { rss, heapTotal } = process.memoryUsage();
  return rss - heapTotal;
}

function thrown(fn: () => unknown): Error & Record<string, unknown> {
  try {
    fn();
  } catch (e) {
    return e as Error & Record<string, unknown>;
  }
  throw new Error('expected a throw');
}

describe('openssl engine in memory', () => {
  it('the selector and proactor packages register it with core', async () => {
    await import('@loopkit/selector');
    await import('@loopkit/proactor');
    const core = await import('@loopkit/core');
    expect(core.getTLSProvider()).toBe(maybeProvider);
  });

  it('is registered under a name and compiles one context per options object', () => {
    expect(provider.name).toBe('openssl');
    const o = serverOpts();
    const before = tlsStats().contexts;
    expect(provider.createContext(o, true)).toBe(provider.createContext(o, true));
    expect(provider.createContext(o, false)).not.toBe(provider.createContext(o, true));
    expect(tlsStats().contexts).toBe(before + 2);
  });

  it('handshakes (TLS 1.3) and reports the session', () => {
    const [c, s] = pair(clientOpts({ ALPNProtocols: ['h2', 'http/1.1'] }), serverOpts({ ALPNProtocols: ['http/1.1'] }));
    handshake(c, s);
    const ci = c.info();
    const si = s.info();
    expect(ci.protocol).toBe('TLSv1.3');
    expect(ci.cipher).toEqual({ name: 'TLS_AES_256_GCM_SHA384', standardName: 'TLS_AES_256_GCM_SHA384', version: 'TLSv1.3' });
    expect(ci.alpnProtocol).toBe('http/1.1');
    expect(si.alpnProtocol).toBe('http/1.1');
    expect(ci.servername).toBe('localhost');
    expect(si.servername).toBe('localhost');
    expect(s.servername()).toBe('localhost');
    expect(Buffer.from(ci.peerCertificate!)).toEqual(new X509Certificate(pki.serverCert).raw);
    expect(ci.peerChain.map((d) => Buffer.from(d))).toEqual([new X509Certificate(pki.serverCert).raw]);
    expect(ci.verifyError).toBeNull();
    expect(si.peerCertificate).toBeNull();
    expect(si.peerChain).toEqual([]);
    c.close();
    s.close();
  });

  it('moves megabytes byte-exact both ways, in any slicing', () => {
    const [c, s] = pair(clientOpts(), serverOpts());
    handshake(c, s);
    const up = randomBytes(4 << 20);
    expect(transfer(c, s, up).equals(up)).toBe(true);
    const down = randomBytes(3 << 20);
    expect(transfer(s, c, down, 1000).equals(down)).toBe(true);
    // readInto, with a small buffer: records are delivered across several calls.
    c.write(Buffer.from('x'.repeat(50000)));
    move(c, s);
    const buf = Buffer.alloc(4096);
    // A buffer with no room takes nothing: every byte is still there for the next read.
    expect(s.readInto(Buffer.alloc(0))).toBe(-1);
    let total = 0;
    for (let n = s.readInto(buf); n > 0; n = s.readInto(buf)) total += n;
    expect(total).toBe(50000);
    expect(s.readInto(buf)).toBe(-1);
    expect(s.read()).toBeNull();
    c.close();
    s.close();
  });

  it('ciphertext fed in random slices (partial records inside the SSL) comes out whole', () => {
    const [c, s] = pair(clientOpts(), serverOpts());
    handshake(c, s);
    const data = randomBytes(1 << 20);
    for (let off = 0; off < data.length; off += 40000) c.write(data.subarray(off, off + 40000));
    const wire = Buffer.from(c.takeOutgoing()!);
    const got: Uint8Array[] = [];
    let rnd = 12345;
    for (let off = 0; off < wire.length; ) {
      rnd = (rnd * 1103515245 + 12345) & 0x7fffffff;
      const n = 1 + (rnd % 3000) * (rnd % 7 === 0 ? 20 : 1); // mostly small, now and then ~60 KB
      s.feed(wire.subarray(off, off + n));
      off += n;
      for (let r = s.read(); r !== null; r = s.read()) got.push(r);
    }
    expect(Buffer.concat(got).equals(data)).toBe(true);
  });

  it('bytes stay in order when each side is topped up before it was drained (partial takes and reads between writes and feeds)', () => {
    const [c, s] = pair(clientOpts(), serverOpts());
    handshake(c, s);
    const data = randomBytes(3 << 20);
    const got: Uint8Array[] = [];
    const wire = Buffer.alloc(70000);
    const plain = Buffer.alloc(70000);
    let rnd = 777;
    const next = (n: number) => ((rnd = (rnd * 1103515245 + 12345) & 0x7fffffff), 1 + (rnd % n));
    for (let off = 0; off < data.length || c.outgoingSize() > 0; ) {
      if (off < data.length) {
        const n = next(50000);
        c.write(data.subarray(off, off + n)); // appended behind records not yet taken
        off += n;
      }
      const taken = c.takeInto(wire.subarray(0, next(wire.length)));
      s.feed(wire.subarray(0, taken)); // appended behind records not yet read
      const n = s.readInto(plain.subarray(0, next(plain.length)));
      if (n > 0) got.push(Buffer.from(plain.subarray(0, n)));
    }
    for (let n = s.readInto(plain); n > 0; n = s.readInto(plain)) got.push(Buffer.from(plain.subarray(0, n)));
    expect(Buffer.concat(got).equals(data)).toBe(true);
    c.close();
    s.close();
  });

  it('feedAndRead and writeInto (one call each) keep the byte order of feed/read and write/takeInto, and keep no reference to the caller\'s input', () => {
    const [c, s] = pair(clientOpts(), serverOpts());
    handshake(c, s);
    const data = randomBytes(3 << 20);
    const wire: Buffer[] = [];
    const out = Buffer.alloc(80000);
    let rnd = 4242;
    const next = (n: number) => ((rnd = (rnd * 1103515245 + 12345) & 0x7fffffff), 1 + (rnd % n));
    for (let off = 0; off < data.length; ) {
      const n = next(70000);
      const chunk = data.subarray(off, off + n);
      off += n;
      if (next(4) === 1) {
        c.write(chunk); // queued: the next writeInto must put these records first
        continue;
      }
      // A buffer too small for the records now and then: the rest waits in the engine.
      const buf = out.subarray(0, next(4) === 1 ? next(30000) : out.length);
      const moved = c.writeInto!(chunk, buf);
      wire.push(Buffer.from(buf.subarray(0, moved)));
    }
    for (let rest = c.takeOutgoing(); rest !== null; rest = c.takeOutgoing()) wire.push(Buffer.from(rest));
    const cipher = Buffer.concat(wire);
    const got: Uint8Array[] = [];
    const input = Buffer.alloc(70000);
    for (let off = 0; off < cipher.length; ) {
      const n = Math.min(next(input.length), cipher.length - off);
      cipher.copy(input, 0, off, off + n);
      off += n;
      // Partial records are left behind in the input now and then; max caps some reads.
      const first = s.feedAndRead!(input.subarray(0, n), next(3) === 1 ? next(20000) : undefined);
      input.fill(0xee); // the caller reuses its buffer at once
      if (first !== null) got.push(first);
      for (let r = s.read(); r !== null; r = s.read()) got.push(r);
    }
    expect(Buffer.concat(got).equals(data)).toBe(true);
    c.close();
    s.close();
  });

  // The engine sizes feedAndRead's buffer from the records' lengths less the cipher's bytes
  // per record: one too many would cut the plaintext in two reads.
  it.each([
    ['TLS 1.3 AES-GCM', { ciphers: 'TLS_AES_128_GCM_SHA256' }],
    ['TLS 1.3 ChaCha20-Poly1305', { ciphers: 'TLS_CHACHA20_POLY1305_SHA256' }],
    ['TLS 1.3 AES-CCM', { ciphers: 'TLS_AES_128_CCM_SHA256' }],
    ['TLS 1.3 AES-CCM-8', { ciphers: 'TLS_AES_128_CCM_8_SHA256', minVersion: 'TLSv1.3' }],
    ['TLS 1.2 AES-GCM', { ciphers: 'ECDHE-ECDSA-AES256-GCM-SHA384', maxVersion: 'TLSv1.2' }],
    ['TLS 1.2 ChaCha20-Poly1305', { ciphers: 'ECDHE-ECDSA-CHACHA20-POLY1305', maxVersion: 'TLSv1.2' }],
    ['TLS 1.2 AES-CCM-8', { ciphers: 'ECDHE-ECDSA-AES128-CCM8', maxVersion: 'TLSv1.2' }],
    ['TLS 1.2 AES-CBC', { ciphers: 'ECDHE-ECDSA-AES128-SHA256', maxVersion: 'TLSv1.2' }],
  ] as [string, TLSOptions][])('%s: feedAndRead of whole records gives all their plaintext at once', (_name, options) => {
    const [c, s] = pair(clientOpts(options), serverOpts(options));
    handshake(c, s);
    for (const size of [1, 17, 1024, 16383, 16384, 16385, 50000, 65536]) {
      const data = randomBytes(size);
      c.write(data);
      c.write(data.subarray(0, 1)); // a second write: two or more records in one feed
      const records = c.takeOutgoing()!;
      const first = s.feedAndRead!(records);
      expect(first?.length).toBe(size + 1);
      expect(Buffer.compare(first!.subarray(0, size), data)).toBe(0);
      expect(first![size]).toBe(data[0]);
      expect(s.read()).toBe(null);
    }
    c.close();
    s.close();
  });

  it('feedAndRead and writeInto fail as feed, read and write do, and lose no queued record', () => {
    const [c, s] = pair(clientOpts(), serverOpts());
    expect(c.handshake()).toBe('want-read');
    const hello = c.outgoingSize();
    expect(() => c.writeInto!(Buffer.from('early'), Buffer.alloc(1000))).toThrow(/before the handshake is done/);
    expect(c.outgoingSize()).toBe(hello); // the ClientHello is still there to send
    s.feed(c.takeOutgoing()!);
    s.handshake();
    move(s, c);
    c.handshake();
    move(c, s);
    s.handshake();
    expect(c.shutdown()).toBe(false);
    const closeNotify = c.outgoingSize();
    expect(closeNotify).toBeGreaterThan(0);
    expect(thrown(() => c.writeInto!(Buffer.from('late'), Buffer.alloc(1000))).code).toBe('ERR_SSL_PROTOCOL_IS_SHUTDOWN');
    expect(c.outgoingSize()).toBe(closeNotify);
    expect(s.feedAndRead!(c.takeOutgoing()!)).toEqual(Buffer.alloc(0)); // close_notify

    const [c2, s2] = pair(clientOpts(), serverOpts());
    handshake(c2, s2);
    expect(thrown(() => s2.feedAndRead!(Buffer.from([0x17, 0x03, 0x03, 0x00, 0x20, ...randomBytes(32)]))).code).toBe(
      'ERR_SSL_DECRYPTION_FAILED_OR_BAD_RECORD_MAC',
    );
    expect(() => s2.writeInto!(Buffer.from('x'), Buffer.alloc(100))).toThrow(/decryption failed/);
    const [c3, s3] = pair(clientOpts(), serverOpts());
    handshake(c3, s3);
    s3.feedEof();
    expect(() => s3.feedAndRead!(Buffer.from('x'))).toThrow(/feed\(\) after feedEof\(\)/);
    expect(() => s3.feedAndRead!(Buffer.from('x'), 0)).toThrow(RangeError);
  });

  it('read(max) caps each result and leaves the rest for the next call', () => {
    const [c, s] = pair(clientOpts(), serverOpts());
    handshake(c, s);
    c.write(Buffer.alloc(100000, 7));
    move(c, s);
    const first = s.read(1000)!;
    expect(first.length).toBe(1000);
    let rest = 0;
    for (let r = s.read(); r !== null; r = s.read()) rest += r.length;
    expect(rest).toBe(99000);
    expect(() => s.read(0)).toThrow(/max must be a positive integer/);
    expect(() => s.read(1.5)).toThrow(RangeError);
  });

  it('close_notify both ways; shutdown reports when the session is over', () => {
    const [c, s] = pair(clientOpts(), serverOpts());
    handshake(c, s);
    c.write(Buffer.from('last words'));
    expect(c.shutdown()).toBe(false); // sent, the peer's not received yet
    expect(c.shutdown()).toBe(false); // nothing more is sent
    move(c, s);
    expect(Buffer.from(s.read()!).toString()).toBe('last words');
    expect(s.read()!.length).toBe(0); // the peer's close_notify
    expect(s.read()!.length).toBe(0);
    expect(s.shutdown()).toBe(true); // ours sent, theirs already in
    move(s, c);
    expect(c.read()!.length).toBe(0);
    expect(c.shutdown()).toBe(true);
    expect(c.takeOutgoing()).toBeNull();
  });

  it('half-close: after sending close_notify, writing fails but reading goes on', () => {
    const [c, s] = pair(clientOpts(), serverOpts());
    handshake(c, s);
    expect(c.shutdown()).toBe(false);
    expect(thrown(() => c.write(Buffer.from('x')))).toMatchObject({ code: 'ERR_SSL_PROTOCOL_IS_SHUTDOWN', reason: 'protocol is shutdown' });
    move(c, s);
    expect(s.read()!.length).toBe(0);
    s.write(Buffer.from('still talking')); // the peer may finish sending
    move(s, c);
    expect(Buffer.from(c.read()!).toString()).toBe('still talking');
  });

  it('shutdown() reads the peer close_notify itself, application data in between is dropped', () => {
    const [c, s] = pair(clientOpts(), serverOpts());
    handshake(c, s);
    expect(c.shutdown()).toBe(false);
    move(c, s);
    s.write(Buffer.from('late data')); // reaches c after c sent its close_notify
    expect(s.shutdown()).toBe(true); // c's close_notify was fed: read by shutdown() itself
    move(s, c);
    expect(c.shutdown()).toBe(true);
  });

  it('TLS 1.2 through maxVersion, both sides', () => {
    for (const [co, so] of [
      [clientOpts({ maxVersion: 'TLSv1.2' }), serverOpts()],
      [clientOpts(), serverOpts({ maxVersion: 'TLSv1.2' })],
    ]) {
      const [c, s] = pair(co, so);
      handshake(c, s);
      expect(c.info().protocol).toBe('TLSv1.2');
      expect(s.info().cipher?.name).toBe('ECDHE-ECDSA-AES128-GCM-SHA256');
      const data = randomBytes(300000);
      expect(transfer(c, s, data).equals(data)).toBe(true);
      expect(transfer(s, c, data).equals(data)).toBe(true);
    }
  });

  it('ALPN with no protocol in common fails with no_application_protocol', () => {
    const [c, s] = pair(clientOpts({ ALPNProtocols: ['h2'] }), serverOpts({ ALPNProtocols: Buffer.from('\x08http/1.1') }));
    c.handshake();
    move(c, s);
    expect(thrown(() => s.handshake()).code).toBe('ERR_SSL_NO_APPLICATION_PROTOCOL');
    move(s, c);
    expect(thrown(() => c.handshake()).code).toBe('ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL');
  });

  it('SNI: want-sni, SNICallback with a SecureContext, useContext; ALPN of the server kept', () => {
    const calls: string[] = [];
    const so = serverOpts({
      ALPNProtocols: ['x-proto'],
      SNICallback: (name: string, cb: (e: Error | null, sc?: tls.SecureContext) => void) => {
        calls.push(name);
        cb(null, name === 'other.test' ? createSecureContext({ key: pki.otherKey, cert: pki.otherCert }) : undefined);
      },
    });
    const onSni = (s: TLSEngine) => {
      let chosen: unknown;
      (so.SNICallback as (n: string, cb: (e: Error | null, sc?: unknown) => void) => void)(s.servername()!, (_e, sc) => (chosen = sc));
      return chosen ? provider.createContext(chosen as TLSOptions, true) : null;
    };
    const [c, s] = pair(clientOpts({ ALPNProtocols: ['x-proto'] }), so, 'other.test');
    handshake(c, s, onSni);
    expect(calls).toEqual(['other.test']);
    expect(c.info().verifyError).toBeNull();
    expect(Buffer.from(c.info().peerCertificate!)).toEqual(new X509Certificate(pki.otherCert).raw);
    expect(c.info().alpnProtocol).toBe('x-proto');
    expect(s.servername()).toBe('other.test');
    // A name the callback does not know keeps the default context (localhost's certificate).
    const [c2, s2] = pair(clientOpts({ rejectUnauthorized: false }), so, 'unknown.test');
    handshake(c2, s2, onSni);
    expect(c2.info().verifyError).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    // No SNI (an IP): no pause at all.
    const [c3, s3] = pair(clientOpts(), so, '127.0.0.1');
    handshake(c3, s3, () => {
      throw new Error('no want-sni without a name');
    });
    expect(c3.servername()).toBeNull();
    expect(s3.servername()).toBeNull();
  });

  it('useContext only after want-sni, and only with a context of this provider', () => {
    const [, s] = pair(clientOpts(), serverOpts());
    expect(thrown(() => s.useContext(provider.createContext(serverOpts(), true))).code).toBe('ERR_INVALID_STATE');
    expect(() => s.useContext({} as never)).toThrow(/context must be a TLSContext made by the openssl provider/);
  });

  it('client certificates: requested, verified, required', () => {
    const so = serverOpts({ requestCert: true, ca: pki.caCert });
    const [c, s] = pair(clientOpts({ cert: pki.clientCert, key: pki.clientKey }), so);
    handshake(c, s);
    expect(Buffer.from(s.info().peerCertificate!)).toEqual(new X509Certificate(pki.clientCert).raw);
    expect(s.info().verifyError).toBeNull();
    // No certificate: rejected by default.
    const [c2, s2] = pair(clientOpts(), so);
    c2.handshake();
    move(c2, s2);
    s2.handshake();
    move(s2, c2);
    c2.handshake();
    move(c2, s2);
    expect(thrown(() => s2.handshake()).code).toBe('ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE');
    // A certificate the server's CAs did not sign: a certificate error on the server.
    const [c3, s3] = pair(clientOpts({ cert: pki.selfCert, key: pki.selfKey }), so);
    c3.handshake();
    move(c3, s3);
    s3.handshake();
    move(s3, c3);
    c3.handshake();
    move(c3, s3);
    const e = thrown(() => s3.handshake());
    expect(e).toMatchObject({ sslKind: 'cert', code: 'DEPTH_ZERO_SELF_SIGNED_CERT', verifyCode: 18 });
    // requestCert without rejectUnauthorized: the handshake completes, the result is reported.
    const [c4, s4] = pair(clientOpts({ cert: pki.selfCert, key: pki.selfKey }), serverOpts({ requestCert: true, rejectUnauthorized: false, ca: pki.caCert }));
    handshake(c4, s4);
    expect(s4.info().verifyError).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
  });

  it('ecdhCurve and sigalgs are applied', () => {
    const [c, s] = pair(clientOpts({ ecdhCurve: 'P-384', sigalgs: 'ECDSA+SHA256' }), serverOpts({ ecdhCurve: 'P-384:X25519' }));
    handshake(c, s);
    const [c2, s2] = pair(clientOpts({ ecdhCurve: 'X25519' }), serverOpts({ ecdhCurve: 'P-384' }));
    c2.handshake();
    move(c2, s2);
    expect(thrown(() => s2.handshake()).code).toMatch(/^ERR_SSL_/); // no group in common
    const [c3, s3] = pair(clientOpts({ sigalgs: 'RSA-PSS+SHA256' }), serverOpts()); // the server's key is ECDSA
    c3.handshake();
    move(c3, s3);
    expect(thrown(() => s3.handshake()).code).toMatch(/^ERR_SSL_/);
  });

  it('key and certificate forms: passphrase, pfx, secureContext, arrays', () => {
    for (const so of [
      { key: pki.encKey, passphrase: PASSPHRASE, cert: pki.serverCert },
      { key: [{ pem: Buffer.from(pki.encKey), passphrase: PASSPHRASE }], cert: [Buffer.from(pki.serverCert)] },
      { pfx: pki.pfx, passphrase: PASSPHRASE },
      { secureContext: tls.createSecureContext({ key: pki.serverKey, cert: pki.serverCert }) },
    ]) {
      const [c, s] = pair(clientOpts({ secureContext: createSecureContext({ ca: [pki.caCert] }) }), so);
      handshake(c, s);
      expect(c.info().verifyError).toBeNull();
    }
    expect(thrown(() => provider.createContext({ key: pki.encKey, passphrase: 'wrong', cert: pki.serverCert }, true)).code).toMatch(/^ERR_OSSL_/);
  });
});

describe('openssl engine: failures', () => {
  it('a self-signed server is rejected with sslKind cert and Node code; the server gets the alert', () => {
    const [c, s] = pair({}, { key: pki.selfKey, cert: pki.selfCert });
    c.handshake();
    move(c, s);
    s.handshake();
    move(s, c);
    const e = thrown(() => c.handshake());
    expect(e).toMatchObject({ sslKind: 'cert', code: 'DEPTH_ZERO_SELF_SIGNED_CERT', verifyCode: 18, verifyMessage: 'self-signed certificate' });
    expect(e.message).toBe('certificate verify failed: self-signed certificate');
    expect(thrown(() => c.handshake())).toBe(e); // sticky
    move(c, s);
    expect(thrown(() => s.handshake()).code).toMatch(/^ERR_SSL_(SSLV3|TLSV1)_ALERT_/);
  });

  it('a chain: the server sends leaf + intermediate, the client trusts the root only', () => {
    const [c, s] = pair(clientOpts(), { key: pki.chainKey, cert: pki.chainCert + pki.interCert }, 'chain.test');
    handshake(c, s);
    expect(c.info().verifyError).toBeNull();
    expect(c.info().peerChain.map((d) => Buffer.from(d))).toEqual([new X509Certificate(pki.chainCert).raw, new X509Certificate(pki.interCert).raw]);
    // Without the intermediate the leaf cannot be verified: Node's most familiar error, and
    // its code (OpenSSL stopping at the first error would say UNABLE_TO_GET_ISSUER_CERT_LOCALLY).
    const [c2, s2] = pair(clientOpts(), { key: pki.chainKey, cert: pki.chainCert }, 'chain.test');
    c2.handshake();
    move(c2, s2);
    s2.handshake();
    move(s2, c2);
    expect(thrown(() => c2.handshake())).toMatchObject({ sslKind: 'cert', code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', verifyCode: 21 });
  });

  it('an unknown CA, with the default trust store', () => {
    const [c, s] = pair({}, serverOpts());
    c.handshake();
    move(c, s);
    s.handshake();
    move(s, c);
    // Node's code for this case (its tls.connect says "unable to verify the first certificate").
    expect(thrown(() => c.handshake())).toMatchObject({ sslKind: 'cert', code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', verifyCode: 21 });
  });

  it('rejectUnauthorized: false completes and reports the verify error', () => {
    const [c, s] = pair({ rejectUnauthorized: false }, { key: pki.selfKey, cert: pki.selfCert });
    handshake(c, s);
    expect(c.info().verifyError).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
  });

  it('host name and IP mismatch', () => {
    for (const host of ['wrong.test', '127.0.0.2']) {
      const [c, s] = pair(clientOpts(), serverOpts(), host);
      c.handshake();
      move(c, s);
      s.handshake();
      move(s, c);
      const e = thrown(() => c.handshake());
      expect(e).toMatchObject({ sslKind: 'cert', code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
      expect(e.message).toContain(`Host: ${host}.`);
    }
    const [c, s] = pair(clientOpts(), serverOpts(), '127.0.0.1'); // the IP SAN matches
    handshake(c, s);
    expect(c.info().verifyError).toBeNull();
  });

  it('garbage instead of a handshake: an ERR_SSL_ code, library and reason; an alert to send', () => {
    const [, s] = pair(clientOpts(), serverOpts());
    s.feed(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    const e = thrown(() => s.handshake());
    expect(e.code).toBe('ERR_SSL_HTTP_REQUEST');
    expect(e).toMatchObject({ library: 'SSL routines', reason: 'http request' });
    expect(e.message).toMatch(/^error:[0-9A-F]+:SSL routines::http request$/);
    const [c2] = pair(clientOpts(), serverOpts());
    c2.handshake();
    c2.feed(randomBytes(64).fill(0x16, 0, 1));
    expect(thrown(() => c2.handshake()).code).toMatch(/^ERR_SSL_/);
    expect(c2.outgoingSize()).toBeGreaterThan(0); // the alert
  });

  it('random bytes never crash an engine: each fails with an ERR_SSL_ code or waits for more', () => {
    const sctx = provider.createContext(serverOpts(), true);
    const cctx = provider.createContext(clientOpts(), false);
    const codes = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const e = i % 2 ? sctx.newEngine(null) : cctx.newEngine('localhost');
      e.handshake();
      const junk = randomBytes(1 + (i % 300));
      if (i % 3 === 0) junk[0] = 0x16; // a handshake record header, to get further in
      if (i % 3 === 0 && junk.length > 2) (junk[1] = 3), (junk[2] = 3);
      e.feed(junk);
      try {
        expect(e.handshake()).toBe('want-read');
      } catch (err) {
        codes.add((err as { code: string }).code);
      }
      e.close();
    }
    expect(codes.size).toBeGreaterThan(0);
    for (const code of codes) expect(code).toMatch(/^ERR_SSL_/);
  });

  it('garbage after the handshake fails read()', () => {
    const [c, s] = pair(clientOpts(), serverOpts());
    handshake(c, s);
    s.feed(Buffer.from([0x17, 0x03, 0x03, 0x00, 0x20, ...randomBytes(32)]));
    expect(thrown(() => s.read()).code).toBe('ERR_SSL_DECRYPTION_FAILED_OR_BAD_RECORD_MAC');
    expect(() => s.write(Buffer.from('x'))).toThrow(/decryption failed/);
  });

  it('a stream truncated without close_notify fails after feedEof, in the handshake and after it', () => {
    const [c, s] = pair(clientOpts(), serverOpts());
    handshake(c, s);
    s.write(Buffer.alloc(1000, 1));
    const rec = s.takeOutgoing()!;
    c.feed(rec.subarray(0, 500));
    expect(c.read()).toBeNull(); // waits for more
    c.feedEof();
    expect(thrown(() => c.read()).code).toBe('ERR_SSL_UNEXPECTED_EOF_WHILE_READING');
    expect(() => c.feed(Buffer.from('x'))).toThrow(/feed\(\) after feedEof\(\)/);
    const [c2] = pair(clientOpts(), serverOpts());
    c2.handshake();
    c2.feedEof();
    expect(thrown(() => c2.handshake()).code).toBe('ERR_SSL_UNEXPECTED_EOF_WHILE_READING');
  });

  it('createContext: a key that does not match its certificate, a bad PEM', () => {
    expect(thrown(() => provider.createContext({ key: pki.spareKey, cert: pki.serverCert }, true)).code).toBe('ERR_OSSL_X509_KEY_VALUES_MISMATCH');
    expect(thrown(() => provider.createContext({ cert: 'not a certificate' }, true)).code).toBe('ERR_OSSL_PEM_NO_START_LINE');
  });

  it('options: unknown keys and bad values are TypeErrors naming them; Node-only keys pass', () => {
    expect(() => provider.createContext({ rejectUnauthorised: false }, false)).toThrow(TypeError);
    expect(() => provider.createContext({ rejectUnauthorised: false }, false)).toThrow(/'rejectUnauthorised'/);
    expect(() => provider.createContext({ minVersion: 'TLSv9' }, false)).toThrow(/minVersion must be one of/);
    expect(() => provider.createContext({ rejectUnauthorized: 'no' }, false)).toThrow(/rejectUnauthorized must be a boolean/);
    expect(() => provider.createContext({ ALPNProtocols: 'h2' }, false)).toThrow(/ALPNProtocols must be/);
    expect(() => provider.createContext({ SNICallback: 1 }, true)).toThrow(/SNICallback must be a function/);
    expect(() => provider.createContext({ cert: 42 }, true)).toThrow(/cert must be a string, Buffer/);
    expect(() => provider.createContext(null as never, false)).toThrow(/options must be an object/);
    expect(() => provider.createContext({ ca: pki.caCert, crl: [], honorCipherOrder: true, servername: 'x', session: undefined, checkServerIdentity: () => undefined }, false)).not.toThrow();
    expect(thrown(() => provider.createContext({ ciphers: 'NO-SUCH-CIPHER' }, false)).code).toBe('ERR_SSL_NO_CIPHER_MATCH');
    expect(() => provider.createContext({ minVersion: 'TLSv1.3', maxVersion: 'TLSv1.2' }, false)).toThrow(/minVersion \(TLSv1.3\) is above maxVersion/);
    // OpenSSL refuses some values without queueing an error: still a TypeError naming the option.
    expect(() => provider.createContext({ sigalgs: 'nope' }, false)).toThrow(/sigalgs: OpenSSL refused the value/);
    expect(() => provider.createContext({ ALPNProtocols: Buffer.from([5, 1]) }, false)).toThrow(/ALPNProtocols: OpenSSL refused/);
    expect(thrown(() => provider.createContext({ ecdhCurve: 'nope' }, false)).code).toBe('ERR_SSL_PASSED_INVALID_ARGUMENT');
  });

  it('a SecureContext made without the recorder is a TypeError that says what to pass', () => {
    const Unrecorded = (tls as unknown as { SecureContext: new () => tls.SecureContext }).SecureContext;
    const e = thrown(() => provider.createContext({ secureContext: new Unrecorded() }, false));
    expect(e).toBeInstanceOf(TypeError);
    expect(e.message).toMatch(/secureContext.*pass its options/);
  });
});

describe('openssl engine: lifecycle', () => {
  it('close() twice is fine; any other use after close throws', () => {
    const [c] = pair(clientOpts(), serverOpts());
    c.close();
    c.close();
    for (const use of [() => c.handshake(), () => c.feed(Buffer.from('x')), () => c.read(), () => c.takeOutgoing(),
      () => c.outgoingSize(), () => c.info(), () => c.write(Buffer.from('x')), () => c.shutdown(),
      () => c.feedAndRead!(Buffer.from('x')), () => c.writeInto!(Buffer.from('x'), Buffer.alloc(100))]) {
      expect(thrown(use).code).toBe('ERR_TLS_ENGINE_CLOSED');
    }
  });

  it('feedRead and writeInto are bound to their engine: any receiver, and safe to call after the engine was collected', async () => {
    const context = provider.createContext(clientOpts(), false) as unknown as { native: NativeTLSContext };
    const collect = async () => {
      for (let i = 0; i < 3; i++) {
        globalThis.gc!();
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    await collect(); // engines earlier tests dropped
    const base = tlsStats().engines;
    let engine: NativeTLSEngine | null = new (native().TLSEngine)(context.native, 'localhost', new Int32Array(6));
    const { feedRead, writeInto } = engine;
    expect(tlsStats().engines).toBe(base + 1);
    expect(() => writeInto.call({}, Buffer.from('x'), Buffer.alloc(100))).toThrow(/before the handshake is done/);
    expect(() => feedRead.call(undefined, Buffer.from('x'), 42 as never)).toThrow(/buf must be/);
    engine = null;
    await collect();
    expect(tlsStats().engines).toBe(base); // the object was collected and its SSL freed
    expect(thrown(() => feedRead(Buffer.from('x'), Buffer.alloc(10))).code).toBe('ERR_TLS_ENGINE_CLOSED');
    expect(thrown(() => writeInto(Buffer.from('x'), Buffer.alloc(10))).code).toBe('ERR_TLS_ENGINE_CLOSED');
  });

  it('20,000 engines created and closed leave no SSL behind and RSS flat', () => {
    const ctx = provider.createContext(clientOpts(), false);
    const base = tlsStats().engines;
    const churn = (engines: number) => {
      for (let i = 0; i < engines; i++) {
        const e = ctx.newEngine('localhost');
        e.handshake(); // a ClientHello: the record buffers get allocated
        e.takeOutgoing();
        e.close();
      }
    };
    churn(2000); // warm: OpenSSL's and malloc's one-off growth is in the baseline
    const start = nativeMemory();
    churn(20000);
    expect(tlsStats().engines).toBe(base);
    // An engine left behind holds tens of KB (20,000 of them: over a GB); under load CI once
    // saw a one-off step of 32 MB outside V8's heap, which is no leak.
    expect(nativeMemory() - start).toBeLessThan(64 << 20);
  }, 90_000); // 22,000 ClientHellos: a few seconds quiet, over the default 20 s at load 14

  it('a burst does not pin its memory: 10 open sessions after 8 MB each stay small, and go on working', () => {
    const start = nativeMemory();
    const open: TLSEngine[][] = [];
    const big = Buffer.alloc(8 << 20, 3);
    for (let i = 0; i < 10; i++) {
      const [c, s] = pair(clientOpts(), serverOpts());
      handshake(c, s);
      c.write(big); // 8 MB in the client's output BIO, then in the server's input BIO
      move(c, s);
      let n = 0;
      for (let r = s.read(1 << 20); r !== null; r = s.read(1 << 20)) n += r.length;
      expect(n).toBe(big.length);
      open.push([c, s]);
    }
    // Memory BIOs keep what they grew to (~16 MB a session here, 160 MB in all) unless renewed.
    expect(nativeMemory() - start).toBeLessThan(90 << 20);
    for (const [c, s] of open) {
      const more = randomBytes(100000);
      expect(transfer(c, s, more).equals(more)).toBe(true);
      expect(transfer(s, c, more).equals(more)).toBe(true);
      c.shutdown();
      move(c, s);
      expect(s.read()!.length).toBe(0);
      c.close();
      s.close();
    }
  });

  it('full sessions closed, and engines dropped without close(), are all freed', async () => {
    const base = tlsStats().engines;
    for (let i = 0; i < 200; i++) {
      const [c, s] = pair(clientOpts(), serverOpts());
      handshake(c, s);
      c.write(Buffer.alloc(10000));
      move(c, s);
      s.read();
      c.close();
      s.close();
    }
    expect(tlsStats().engines).toBe(base);
    const ctx = provider.createContext(clientOpts(), false);
    for (let i = 0; i < 2000; i++) ctx.newEngine('localhost').handshake();
    expect(tlsStats().engines).toBeGreaterThan(base);
    for (let i = 0; i < 50 && tlsStats().engines > base; i++) {
      globalThis.gc?.();
      await new Promise((r) => setTimeout(r, 10)); // finalizers run after GC, on a later turn
    }
    expect(tlsStats().engines).toBeLessThanOrEqual(base); // earlier tests' dropped engines go too
  }, 60_000); // 200 handshakes and 2,000 ClientHellos, all CPU: 10 s at load 16, half the default 20 s
});

describe('openssl engine in a worker', () => {
  it('a worker that exits with engines and contexts open frees them all', async () => {
    // Let this thread's dropped engines go first, so the count below moves for the worker only.
    for (let i = 0; i < 5; i++) (globalThis.gc?.(), await new Promise((r) => setTimeout(r, 10)));
    const base = tlsStats();
    const code = `
      const { parentPort, workerData: d } = require('node:worker_threads');
      import(d.uv).then(({ tlsProvider, tlsStats }) => {
        const s = tlsProvider.createContext({ key: d.key, cert: d.cert }, true);
        const c = tlsProvider.createContext({ ca: d.ca }, false);
        globalThis.kept = [];
        for (let i = 0; i < 50; i++) {
          const ce = c.newEngine('localhost'), se = s.newEngine(null);
          ce.handshake(); se.feed(ce.takeOutgoing()); se.handshake(); ce.feed(se.takeOutgoing());
          if (ce.handshake() !== 'done') throw new Error('no handshake in the worker');
          globalThis.kept.push(ce, se); // left open on purpose
        }
        parentPort.postMessage(tlsStats());
      });`;
    const uvUrl = new URL('../dist/index.js', import.meta.url).href;
    const w = new Worker(code, { eval: true, workerData: { uv: uvUrl, key: pki.serverKey, cert: pki.serverCert, ca: pki.caCert } });
    // Listen for the exit before awaiting the message: when this thread is slow (a loaded
    // machine), the worker has exited before its message is read, and Node then emits the
    // message and the exit in one go, before an `await` could register for the exit.
    const exited = once(w, 'exit');
    const [inside] = (await once(w, 'message')) as [{ engines: number; contexts: number }];
    expect(inside.engines).toBeGreaterThanOrEqual(base.engines + 100);
    await exited;
    // Node-API finalizes the worker's engines and contexts at its env teardown.
    expect(tlsStats().engines).toBeLessThanOrEqual(base.engines);
    expect(tlsStats().contexts).toBeLessThanOrEqual(base.contexts);
  });
});

describe('openssl engine against Node tls over real sockets', () => {
  it('engine client <-> Node tls.createServer: handshake, 2 MB echoed, close_notify', async () => {
    const server = tls.createServer({ key: pki.serverKey, cert: pki.serverCert, ALPNProtocols: ['echo'] }, (s) => s.pipe(s));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as net.AddressInfo;
    const sock = net.connect(port, '127.0.0.1');
    await once(sock, 'connect');
    const wire = new Wire(sock);
    const e = provider.createContext(clientOpts({ ALPNProtocols: ['echo'] }), false).newEngine('localhost');
    await wire.handshake(e);
    expect(e.info().alpnProtocol).toBe('echo');
    const data = randomBytes(2 << 20);
    e.write(data);
    wire.push(e);
    expect((await wire.readN(e, data.length)).equals(data)).toBe(true);
    e.shutdown();
    wire.push(e);
    // Node answers close_notify with its own and ends the stream.
    for (;;) {
      const r = e.read();
      if (r !== null && r.length === 0) break;
      if (!(await wire.pull(e))) break;
    }
    expect(e.shutdown()).toBe(true);
    e.close();
    sock.destroy();
    server.close();
  });

  it('engine server <-> Node tls.connect: client certificate, both directions, Node sees close_notify', async () => {
    const ctx = provider.createContext(serverOpts({ requestCert: true, ca: pki.caCert, ALPNProtocols: ['a', 'b'] }), true);
    const engines: TLSEngine[] = [];
    const server = net.createServer(async (sock) => {
      const wire = new Wire(sock);
      const e = ctx.newEngine(null);
      engines.push(e);
      await wire.handshake(e);
      const got = await wire.readN(e, 1 << 20);
      e.write(got); // echo
      e.write(Buffer.from(e.info().alpnProtocol + ''));
      e.shutdown();
      wire.push(e);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as net.AddressInfo;
    const client = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: pki.caCert, cert: pki.clientCert, key: pki.clientKey, ALPNProtocols: ['b'] });
    await once(client, 'secureConnect');
    expect(client.authorized).toBe(true);
    expect(client.alpnProtocol).toBe('b');
    const data = randomBytes(1 << 20);
    client.write(data);
    const chunks: Buffer[] = [];
    client.on('data', (d: Buffer) => chunks.push(d));
    await once(client, 'end'); // our close_notify
    const all = Buffer.concat(chunks);
    expect(all.subarray(0, data.length).equals(data)).toBe(true);
    expect(all.subarray(data.length).toString()).toBe('b');
    expect(Buffer.from(engines[0].info().peerCertificate!)).toEqual(new X509Certificate(pki.clientCert).raw);
    client.destroy();
    engines[0].close();
    server.close();
  });

  it('a certificate failure has the code Node gives for the same server', async () => {
    const cases: Array<[string, TLSOptions, string]> = [
      ['self-signed', { key: pki.selfKey, cert: pki.selfCert }, 'localhost'],
      ['missing intermediate', { key: pki.chainKey, cert: pki.chainCert }, 'chain.test'],
      ['wrong host', { key: pki.serverKey, cert: pki.serverCert }, 'wrong.test'],
      ['unknown CA', { key: pki.otherKey, cert: pki.otherCert }, 'other.test'],
    ];
    for (const [what, so, host] of cases) {
      const server = tls.createServer(so as tls.TlsOptions, (s) => s.end());
      server.on('tlsClientError', () => undefined);
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const { port } = server.address() as net.AddressInfo;
      const ca = what === 'unknown CA' ? pki.selfCert : pki.caCert; // trusts something else
      const node = tls.connect({ port, host: '127.0.0.1', servername: host, ca });
      const [nodeErr] = (await once(node, 'error')) as [NodeJS.ErrnoException];
      const sock = net.connect(port, '127.0.0.1');
      await once(sock, 'connect');
      const e = provider.createContext({ ca }, false).newEngine(host);
      const ours = await new Wire(sock).handshake(e).then(() => null, (err: Error & { code?: string }) => err);
      expect({ what, code: ours?.code }).toEqual({ what, code: nodeErr.code });
      expect(ours).toMatchObject({ sslKind: 'cert' });
      sock.destroy();
      server.close();
    }
  });

  it('Node tls.connect rejects nothing it should not: TLS 1.2 against our server too', async () => {
    const ctx = provider.createContext(serverOpts(), true);
    const server = net.createServer(async (sock) => {
      const wire = new Wire(sock);
      const e = ctx.newEngine(null);
      await wire.handshake(e);
      e.write(Buffer.from(e.info().protocol!));
      wire.push(e);
      e.close();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as net.AddressInfo;
    const client = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: pki.caCert, maxVersion: 'TLSv1.2' });
    const [d] = await once(client, 'data');
    expect(String(d)).toBe('TLSv1.2');
    client.destroy();
    server.close();
  });
});
