/**
 * Loading the addon. A missing or broken build must not break `import`: the
 * package still loads, {@link isAvailable} returns false and {@link loadError}
 * says why, so the policy can fall back to the proactor backend.
 *
 * The file is loaded by path with createRequire. node-gyp-build's name-based
 * lookup is deliberately not used: it reads a name starting with "uv" as a
 * prebuild tag.
 */
import { createRequire } from 'node:module';

/** A native selector object (Epoll, Kqueue, PollSet): see native/*.c. */
export interface NativeSelector {
  readonly fd?: number;
  add(fd: number, events: number): number;
  modify(fd: number, events: number): number;
  remove(fd: number): number;
  wait(timeoutMs: number, out: Int32Array): number;
  watch(onReady: () => void): number;
  unwatch(): number;
  ref(): number;
  unref(): number;
  close(): number;
}

/** PollSet's native object: a NativeSelector that also hands over what its uv_polls reported. */
export interface NativePollSet extends NativeSelector {
  watch(onReady: () => void, reports?: Int32Array): number;
  take(out: Int32Array): number;
}

type Bytes = ArrayBufferView;

/** An SSL_CTX (native/tls_ctx.c); each method is one OpenSSL setting and throws OpenSSL's error. */
export interface NativeTLSContext {
  setProtocols(min: number, max: number): void;
  setCiphers(cipherList: string, cipherSuites: string): void;
  setGroups(list: string): void;
  setSigalgs(list: string): void;
  addCert(pem: Bytes): void;
  addKey(pem: Bytes, passphrase?: string): void;
  usePfx(der: Bytes, passphrase?: string): void;
  checkKey(): void;
  setVerify(verifyPeer: boolean, failIfNoCert: boolean, reject: boolean): void;
  setALPN(wire: Bytes): void;
  setSNIHook(): void;
  setStore(store: NativeCertStore, clientCAs: boolean): void;
}

/** A parsed trust store (X509_STORE), shareable by many contexts. */
export interface NativeCertStore {
  readonly count: number;
}

/** One SSL over two memory BIOs (native/tls.c). `io` is shared: see OpenSSLEngine. */
export interface NativeTLSEngine {
  feed(data: Bytes): void;
  feedEof(): void;
  handshake(): number;
  readInto(buf: Bytes): number;
  feedRead(data: Bytes, buf: Bytes): number;
  write(data: Bytes): void;
  writeInto(data: Bytes, buf: Bytes): number;
  takeInto(buf: Bytes): number;
  shutdown(): boolean;
  servername(): string | null;
  useContext(context: NativeTLSContext): void;
  info(): import('./tls-types.js').TLSSessionInfo;
  close(): void;
}
/** Object filled in place with an address by accept/recvfrom/getsockname. */
export type AddrOut = { address?: string; family?: string; port?: number; path?: string };

/** The raw native module: every syscall returns >= 0 or a negative errno. */
export interface NativeModule {
  constants: Record<string, number>;
  socket(family: number, type: number): number;
  socketpair(out: Int32Array): number;
  sockinfo(fd: number, out: Int32Array): number;
  bind(fd: number, host: string, port: number): number;
  connect(fd: number, host: string, port: number): number;
  listen(fd: number, backlog: number): number;
  accept(fd: number, out?: AddrOut): number;
  recv(fd: number, buf: Bytes | ArrayBuffer, offset: number, length: number): number;
  recvBatch(fds: Int32Array, from: number, count: number, buf: Bytes | ArrayBuffer, offset: number, length: number, minRoom: number, out: Int32Array): number;
  send(fd: number, buf: Bytes, offset?: number, length?: number): number;
  sendv(fd: number, bufs: readonly Bytes[]): number;
  sendfile(fd: number, fileFd: number, offset: number, count: number): number;
  recvfrom(fd: number, buf: Bytes, offset: number, length: number, out?: AddrOut): number;
  sendto(fd: number, buf: Bytes, offset: number, length: number, host: string, port: number): number;
  shutdown(fd: number, how: number): number;
  close(fd: number): number;
  /** The env no longer owns fd: its cleanup hook will not close it (detach). */
  forget(fd: number): number;
  getsockname(fd: number, out: AddrOut): number;
  getpeername(fd: number, out: AddrOut): number;
  setsockopt(fd: number, level: number, name: number, value: number): number;
  getsockopt(fd: number, level: number, name: number, out: Int32Array): number;
  wakeupOpen(out: Int32Array): number;
  wakeupSignal(fd: number): number;
  wakeupDrain(fd: number): number;
  spawn(file: string, argv: string[], envp: string[] | null, cwd: string | null, stdio: Int32Array, out: Int32Array): number;
  pidfdOpen(pid: number): number;
  reap(pid: number, block: number, out: Int32Array): number;
  read(fd: number, buf: Bytes | ArrayBuffer, offset: number, length: number): number;
  write(fd: number, buf: Bytes): number;
  writev(fd: number, bufs: readonly Bytes[]): number;
  setNonblocking(fd: number): number;
  Epoll?: new () => NativeSelector;
  Kqueue?: new () => NativeSelector;
  PollSet: new () => NativePollSet;
  TLSContext: new (serverSide: boolean) => NativeTLSContext;
  CertStore: new (pem: Bytes) => NativeCertStore;
  TLSEngine: new (context: NativeTLSContext, serverHostname: string | null, io: Int32Array) => NativeTLSEngine;
  /** Live SSL and SSL_CTX objects of the process. */
  tlsStats(): { engines: number; contexts: number };
  /** glibc: keep freed heap memory in the process (native/memory.c); true when set by this call or an earlier one. */
  keepFreedMemory(): boolean;
  /** Transparent huge pages for the next 32 MiB the heap grows into (native/memory.c); true when advised. */
  adviseHugePagesAhead(): boolean;
}

let mod: NativeModule | null = null;
let error: string | null = null;

/**
 * A copy of the addon's exports object with the same properties (and attributes). The exports
 * object N-API fills is in V8's dictionary mode (its ~40 properties are defined by ten
 * napi_define_properties calls), so every `native().recv` in optimized code was a hash lookup
 * through the generic LoadIC (~150 instructions, several per echo round trip); the copy's
 * properties are fast, so those loads compile to a map check and a field load.
 */
function withFastProperties(exports: NativeModule): NativeModule {
  return Object.defineProperties({}, Object.getOwnPropertyDescriptors(exports)) as NativeModule;
}

function load(): void {
  if (process.platform === 'win32') {
    // install.mjs builds nothing there: the C code is POSIX-only.
    error = 'the @loopkit/uv native addon is POSIX-only and is not built on Windows (loopkit uses the proactor there)';
    return;
  }
  const require = createRequire(import.meta.url);
  const tried: string[] = [];
  for (const rel of ['../build/Release/loopkit_native.node', '../build/Debug/loopkit_native.node']) {
    try {
      mod = withFastProperties(require(rel) as NativeModule);
      return;
    } catch (e) {
      tried.push(`${rel}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  error =
    `the @loopkit/uv native addon did not load (build it with ` +
    `"npm_config_nodedir=/usr pnpm install" or node-gyp rebuild): ${tried.join('; ')}`;
}
load();

/** True when the native addon loaded: sockets, selectors and wake-up fds work. */
export function isAvailable(): boolean {
  return mod !== null;
}

/** Why the native addon did not load, or null when it did. */
export function loadError(): string | null {
  return error;
}

/** The native module, or an Error (code ERR_LOOPKIT_NATIVE_UNAVAILABLE) saying why not. */
export function native(): NativeModule {
  if (mod !== null) return mod;
  const err = new Error(error ?? 'the @loopkit/uv native addon is unavailable') as NodeJS.ErrnoException;
  err.code = 'ERR_LOOPKIT_NATIVE_UNAVAILABLE';
  throw err;
}

/** The native module or null, for feature tests that must not throw. */
export function nativeOrNull(): NativeModule | null {
  return mod;
}
