/**
 * Node's tls options, compiled into an OpenSSL context (native/tls_ctx.c).
 *
 * Keys: the ones this engine honours (OURS); the other keys Node's tls.connect,
 * tls.createServer and tls.createSecureContext take are valid there, so they are
 * accepted and ignored here (NODE_ONLY: socket and server plumbing the loop does
 * itself, or features this engine lacks, e.g. crl, session, pskCallback); any
 * other key is a TypeError naming it (a misspelt `rejectUnauthorised` must not
 * quietly turn verification on or off).
 *
 * secureContext: a Node SecureContext is opaque to an addon (its SSL_CTX lives in
 * Node's C++ and no API hands it out), so `tls.createSecureContext` is wrapped once:
 * every SecureContext made through it afterwards has its options recorded (a WeakMap)
 * and is compiled from them here. One made before, or by Node internally, cannot be
 * used: a TypeError says so and what to pass instead.
 *
 * node:tls (with node:crypto, 3.5 MB of RSS on Node 20 and 8.5 on Node 24) is therefore
 * loaded, and wrapped, when this module loads, though a program may make no TLS connection:
 * wrapped later (at the first TLS use), a SecureContext that a program made with node:tls
 * loaded after loopkit (a CommonJS require, a dynamic import, vitest's transformed imports)
 * and before its first TLS connection could not be used.
 */
import { loadBuiltin, readFileSync, syncBuiltinESMExports } from './builtins.js';
import type * as NodeTLS from 'node:tls';
import type { NativeCertStore, NativeModule, NativeTLSContext } from './native.js';
import type { TLSOptions } from './tls-types.js';
import { describe } from './errors.js';

/** Keys this engine reads. */
const OURS = [
  'key', 'cert', 'ca', 'passphrase', 'pfx', 'ciphers', 'minVersion', 'maxVersion', 'ALPNProtocols',
  'rejectUnauthorized', 'requestCert', 'SNICallback', 'secureContext', 'ecdhCurve', 'sigalgs',
];

/** Keys of Node's tls.connect / tls.createServer / tls.createSecureContext (and the net
 * options they pass on) that this engine does not read. */
const NODE_ONLY = [
  // tls.createSecureContext
  'allowPartialTrustChain', 'clientCertEngine', 'crl', 'dhparam', 'honorCipherOrder',
  'privateKeyEngine', 'privateKeyIdentifier', 'secureOptions', 'secureProtocol',
  'sessionIdContext', 'ticketKeys', 'sessionTimeout',
  // tls.connect, tls.TLSSocket
  'enableTrace', 'host', 'port', 'path', 'socket', 'allowHalfOpen', 'pskCallback', 'servername',
  'checkServerIdentity', 'session', 'minDHSize', 'highWaterMark', 'onread', 'isServer', 'server',
  'requestOCSP', 'timeout', 'lookup',
  // net.connect / net.Socket
  'family', 'hints', 'localAddress', 'localPort', 'noDelay', 'keepAlive', 'keepAliveInitialDelay',
  'autoSelectFamily', 'autoSelectFamilyAttemptTimeout', 'signal', 'fd', 'readable', 'writable',
  'blockList',
  // tls.createServer / net.createServer
  'ALPNCallback', 'handshakeTimeout', 'pskIdentityHint', 'pauseOnConnect', 'backlog',
  'exclusive', 'readableAll', 'writableAll', 'ipv6Only', 'reusePort',
];

const known = new Set([...OURS, ...NODE_ONLY]);
/** What a SecureContext is compiled from (the recorder copies these). */
const CONTEXT_KEYS = OURS.filter((k) => k !== 'secureContext' && k !== 'SNICallback' && k !== 'requestCert' && k !== 'rejectUnauthorized' && k !== 'ALPNProtocols');
const versions: Record<string, number> = { TLSv1: 0x301, 'TLSv1.1': 0x302, 'TLSv1.2': 0x303, 'TLSv1.3': 0x304 };

/** Options of every SecureContext made through tls.createSecureContext since loading. */
let recorded: WeakMap<object, TLSOptions> | null = null;
const RECORDER = Symbol.for('loopkit.tls.recordedSecureContexts');


/** Wrap tls.createSecureContext (once per process: a second copy of this package shares the map). */
function recordSecureContexts(tls: typeof NodeTLS): void {
  if (recorded !== null) return;
  const current = tls.createSecureContext as typeof NodeTLS.createSecureContext & { [RECORDER]?: WeakMap<object, TLSOptions> };
  if (current[RECORDER]) {
    recorded = current[RECORDER];
    return;
  }
  const map = new WeakMap<object, TLSOptions>();
  const wrapped = function createSecureContext(options?: NodeTLS.SecureContextOptions): NodeTLS.SecureContext {
    const sc = current(options);
    // A copy of the keys a context is compiled from: Node read the options now, and so
    // must we, whatever the caller changes later. Node's own tls.connect/createServer
    // come through here too (once per connection): copying only these keys keeps that
    // cheap and holds nothing else (a socket, a server) alive.
    const copy: TLSOptions = {};
    if (options) for (const k of CONTEXT_KEYS) if ((options as TLSOptions)[k] !== undefined) copy[k] = (options as TLSOptions)[k];
    map.set(sc, copy);
    return sc;
  };
  Object.defineProperty(wrapped, RECORDER, { value: map });
  (tls as { createSecureContext: typeof NodeTLS.createSecureContext }).createSecureContext = wrapped;
  // `import { createSecureContext } from 'node:tls'` reads the ESM facade: update it too.
  syncBuiltinESMExports();
  recorded = map;
}

const tls = loadBuiltin('node:tls') as typeof NodeTLS;
recordSecureContexts(tls);

function isSecureContext(v: unknown): v is NodeTLS.SecureContext {
  if (typeof v !== 'object' || v === null) return false;
  // Node exports the class but @types/node does not declare it.
  const { SecureContext } = tls as unknown as { SecureContext: new (...args: never[]) => NodeTLS.SecureContext };
  return v instanceof SecureContext;
}

/** The options a SecureContext was made from, or a TypeError saying why it cannot be used. */
function secureContextOptions(sc: unknown, name: string): TLSOptions {
  if (!isSecureContext(sc)) throw new TypeError(`${name} must be a tls.SecureContext, got ${describe(sc)}`);
  const opts = recorded?.get(sc);
  if (opts === undefined) {
    throw new TypeError(
      `${name}: this tls.SecureContext was not made by tls.createSecureContext() after @loopkit/uv loaded, ` +
        `so its settings cannot be read (Node keeps them inside its own OpenSSL context); import loopkit ` +
        `before creating it, or pass its options (key, cert, ca, ...) instead of secureContext`,
    );
  }
  return opts;
}

/**
 * The options a context is compiled from: `options` itself, a SecureContext's recorded
 * options (a SecureContext passed as the options, as an SNICallback hands back), or
 * `secureContext`'s options under the connection-level keys of `options`, as Node does.
 */
export function resolveOptions(options: unknown, where: string): TLSOptions {
  if (isSecureContext(options)) return secureContextOptions(options, where);
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`${where}: options must be an object, got ${describe(options)}`);
  }
  const o = options as TLSOptions;
  for (const k of Object.keys(o)) {
    if (!known.has(k)) throw new TypeError(`${where}: unknown TLS option '${k}'`);
  }
  if (o.secureContext === undefined) return o;
  const merged = { ...secureContextOptions(o.secureContext, 'secureContext') };
  for (const k of ['rejectUnauthorized', 'requestCert', 'ALPNProtocols', 'SNICallback']) {
    if (o[k] !== undefined) merged[k] = o[k];
  }
  return merged;
}

type Bytes = Uint8Array;

function bytes(v: unknown, name: string): Bytes {
  if (typeof v === 'string') return Buffer.from(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  throw new TypeError(`${name} must be a string, Buffer or TypedArray, got ${describe(v)}`);
}

function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [v];
}

function str(v: unknown, name: string): string {
  if (typeof v !== 'string') throw new TypeError(`${name} must be a string, got ${describe(v)}`);
  return v;
}

/** ALPNProtocols: strings or Buffers, or one Buffer already in wire format (as Node). */
function alpnWire(v: unknown): Bytes {
  if (ArrayBuffer.isView(v)) return bytes(v, 'ALPNProtocols');
  if (!Array.isArray(v)) throw new TypeError(`ALPNProtocols must be an array or a Buffer, got ${describe(v)}`);
  const parts: Buffer[] = [];
  for (const p of v) {
    const b = Buffer.from(bytes(p, 'ALPNProtocols[i]'));
    if (b.length === 0 || b.length > 255) throw new RangeError(`ALPNProtocols: each protocol must be 1 to 255 bytes, got ${b.length}`);
    parts.push(Buffer.from([b.length]), b);
  }
  return Buffer.concat(parts);
}

function version(v: unknown, name: string, dflt: string): number {
  const n = versions[(v ?? dflt) as string];
  if (n === undefined) throw new TypeError(`${name} must be one of ${Object.keys(versions).join(', ')}, got ${describe(v)}`);
  return n;
}

function flag(v: unknown, name: string, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw new TypeError(`${name} must be a boolean, got ${describe(v)}`);
  return v;
}

/** The store of Node's bundled roots (tls.rootCertificates) plus NODE_EXTRA_CA_CERTS: parsed once per thread. */
let defaultStore: NativeCertStore | null = null;

function rootStore(n: NativeModule): NativeCertStore {
  if (defaultStore !== null) return defaultStore;
  let pem = tls.rootCertificates.join('\n');
  const extra = process.env.NODE_EXTRA_CA_CERTS;
  if (extra) {
    try {
      pem += '\n' + readFileSync(extra, 'utf8');
    } catch {
      // Node warns about an unreadable file at startup and goes on without it: so do we.
    }
  }
  defaultStore = new n.CertStore(Buffer.from(pem));
  return defaultStore;
}

/** Compile resolved options into a native SSL_CTX. */
export function compile(n: NativeModule, o: TLSOptions, serverSide: boolean): NativeTLSContext {
  const ctx = new n.TLSContext(serverSide);
  const min = version(o.minVersion, 'minVersion', tls.DEFAULT_MIN_VERSION);
  const max = version(o.maxVersion, 'maxVersion', tls.DEFAULT_MAX_VERSION);
  if (min > max) throw new TypeError(`minVersion (${String(o.minVersion ?? tls.DEFAULT_MIN_VERSION)}) is above maxVersion (${String(o.maxVersion ?? tls.DEFAULT_MAX_VERSION)})`);
  ctx.setProtocols(min, max);
  // As Node: the TLS 1.3 suites are the TLS_* names, the rest is the TLS 1.2 list.
  const names = (o.ciphers == null ? tls.DEFAULT_CIPHERS : str(o.ciphers, 'ciphers')).split(':').filter((c) => c);
  const suites = names.filter((c) => c.startsWith('TLS_')).join(':');
  const cipherList = names.filter((c) => !c.startsWith('TLS_')).join(':');
  if (suites === '' && cipherList === '') throw new TypeError(`ciphers names no cipher, got ${describe(o.ciphers)}`);
  ctx.setCiphers(cipherList, suites);
  if (o.ecdhCurve != null && o.ecdhCurve !== 'auto') ctx.setGroups(str(o.ecdhCurve, 'ecdhCurve'));
  if (o.sigalgs != null) ctx.setSigalgs(str(o.sigalgs, 'sigalgs'));
  const pass = o.passphrase == null ? undefined : str(o.passphrase, 'passphrase');
  let certs = 0;
  let keys = 0;
  if (o.cert != null) for (const c of list(o.cert)) (ctx.addCert(bytes(c, 'cert')), certs++);
  if (o.key != null) {
    for (const k of list(o.key)) {
      const obj = typeof k === 'object' && k !== null && !ArrayBuffer.isView(k) ? (k as { pem?: unknown; passphrase?: unknown }) : null;
      const kp = obj?.passphrase === undefined ? pass : str(obj.passphrase, 'key.passphrase');
      ctx.addKey(bytes(obj ? obj.pem : k, obj ? 'key.pem' : 'key'), kp);
      keys++;
    }
  }
  if (o.pfx != null) {
    for (const p of list(o.pfx)) {
      const obj = typeof p === 'object' && p !== null && !ArrayBuffer.isView(p) ? (p as { buf?: unknown; passphrase?: unknown }) : null;
      const pp = obj?.passphrase === undefined ? pass : str(obj.passphrase, 'pfx.passphrase');
      ctx.usePfx(bytes(obj ? obj.buf : p, obj ? 'pfx.buf' : 'pfx'), pp);
    }
  }
  if (certs > 0 && keys > 0) ctx.checkKey();
  const requestCert = flag(o.requestCert, 'requestCert', false);
  const reject = flag(o.rejectUnauthorized, 'rejectUnauthorized', true);
  if (o.ca != null) {
    const pem = Buffer.concat(list(o.ca).map((c) => Buffer.concat([Buffer.from(bytes(c, 'ca')), Buffer.from('\n')])));
    ctx.setStore(new n.CertStore(pem), true);
  } else if (!serverSide || requestCert) {
    ctx.setStore(rootStore(n), false);
  }
  // Client: always verify (the result is kept for info().verifyError); reject fails the
  // handshake. Server: verify only when asking for a certificate (requestCert), as Node.
  if (!serverSide) ctx.setVerify(true, false, reject);
  else ctx.setVerify(requestCert, requestCert && reject, requestCert && reject);
  if (o.ALPNProtocols != null) ctx.setALPN(alpnWire(o.ALPNProtocols));
  if (o.SNICallback != null) {
    if (typeof o.SNICallback !== 'function') throw new TypeError(`SNICallback must be a function, got ${describe(o.SNICallback)}`);
    if (serverSide) ctx.setSNIHook();
  }
  return ctx;
}
