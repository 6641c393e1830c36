/**
 * From a method's `ssl` option to a TLSContext, and the TLS arguments of the connection and
 * server methods checked as asyncio checks them. The engine comes from the loop
 * (`_tlsProvider()`, by default the registered provider): core has none of its own.
 */
import { RuntimeError } from '../errors.js';
import { describe, isPlainObject } from '../validate.js';
import type { ConnectionOptions, SecureContext, TlsOptions } from 'node:tls';
import type { TLSContext, TLSOptions, TLSProvider } from './engine.js';
import { getTLSProvider } from './provider.js';

/**
 * A client's `ssl`: true (a default client context), tls.connect()'s options (typed as
 * Node's, so a misspelt key fails to compile, as it throws at run time), a tls.SecureContext,
 * or a context made by the provider.
 */
export type ClientSSLOption = boolean | ConnectionOptions | SecureContext | TLSContext | null | undefined;
/**
 * tls.createServer()'s options as the engine takes them: an SNICallback may also answer with
 * an options object, compiled as a SecureContext made from it would be.
 */
export interface ServerTLSOptions extends Omit<TlsOptions, 'SNICallback'> {
  /** Called with the name a client asks for (SNI); answers through `cb` with that name's context or options (null: the server's own). */
  SNICallback?: (servername: string, cb: (err: Error | null, ctx?: SecureContext | TlsOptions | null) => void) => void;
}
/** A server's `ssl`: tls.createServer()'s options, a tls.SecureContext, or a server context (true is a client's). */
export type ServerSSLOption = false | ServerTLSOptions | SecureContext | TLSContext | null | undefined;
/** What `ssl` may be on either side (startTls: its `serverSide` decides). */
export type SSLOption = ClientSSLOption | ServerSSLOption;

export const DEFAULT_HANDSHAKE_TIMEOUT = 60;
export const DEFAULT_SHUTDOWN_TIMEOUT = 30;

/** The option names each kind of method adds for TLS (checkOptions lists). */
export const TLS_CLIENT_OPTIONS = ['ssl', 'serverHostname', 'sslHandshakeTimeout', 'sslShutdownTimeout'] as const;
export const TLS_SERVER_OPTIONS = ['ssl', 'sslHandshakeTimeout', 'sslShutdownTimeout'] as const;

/** The TLS options of client methods: `ssl`, `serverHostname`, and handshake/shutdown timeouts in seconds. */
export interface TLSClientOptions {
  ssl?: ClientSSLOption;
  serverHostname?: string | null;
  sslHandshakeTimeout?: number | null;
  sslShutdownTimeout?: number | null;
}
/** The TLS options of server methods: a server's `ssl`, and handshake/shutdown timeouts in seconds. */
export interface TLSServerOptions {
  ssl?: ServerSSLOption;
  sslHandshakeTimeout?: number | null;
  sslShutdownTimeout?: number | null;
}

/** What a connection needs to run TLS: the context and the checked arguments. */
export interface TLSSetup {
  provider: TLSProvider;
  context: TLSContext;
  /** What extra info 'sslcontext' shows: the `ssl` the caller gave (asyncio's very SSLContext), or for `ssl: true` the context made for it. */
  given: unknown;
  serverSide: boolean;
  /** SNI and the host name checked; null: neither (server side, or serverHostname ''). */
  serverHostname: string | null;
  handshakeTimeout: number;
  shutdownTimeout: number;
}

/** A loop that may bring its own engine. */
interface MaybeTLSLoop {
  _tlsProvider?(): TLSProvider | null;
}

/** The loop's engine; a clear error when there is none (never a silent plaintext connection). */
export function tlsProvider(loop: unknown, where: string): TLSProvider {
  const own = (loop as MaybeTLSLoop)._tlsProvider;
  const provider = typeof own === 'function' ? own.call(loop) : getTLSProvider();
  if (provider === null || provider === undefined) {
    throw new RuntimeError(
      `${where}(): ssl was given but no TLS engine is available: import @loopkit/selector or ` +
        '@loopkit/proactor with the @loopkit/uv addon built, or call registerTLSProvider()',
    );
  }
  return provider;
}

/** True for a context object (made by a provider) rather than an options object. */
function isTLSContext(value: unknown): value is TLSContext {
  return typeof value === 'object' && value !== null && typeof (value as TLSContext).newEngine === 'function';
}

/** Contexts already made, per provider, per options object and side: an options object is compiled once. */
const contexts = new WeakMap<TLSProvider, { defaultClient: TLSContext | null; byOptions: WeakMap<object, [TLSContext | null, TLSContext | null]> }>();

/**
 * The context for `ssl` on one side. An options object is compiled on its first use and the
 * context kept for as long as the object lives (certificates are parsed once, not per
 * connection); change options by passing a new object.
 */
export function contextFor(provider: TLSProvider, ssl: unknown, serverSide: boolean, where: string): TLSContext {
  let cache = contexts.get(provider);
  if (cache === undefined) {
    cache = { defaultClient: null, byOptions: new WeakMap() };
    contexts.set(provider, cache);
  }
  if (ssl === true) {
    if (serverSide) {
      throw new TypeError(`${where}(): ssl: true makes a client context; a server needs tls.createServer()'s options (key and cert at least)`);
    }
    return (cache.defaultClient ??= provider.createContext({}, false));
  }
  if (isTLSContext(ssl)) {
    if (ssl.serverSide !== serverSide) {
      const made = ssl.serverSide ? 'server' : 'client';
      throw new TypeError(`${where}(): ssl is a ${made} context, but this is the ${serverSide ? 'server' : 'client'} side`);
    }
    return ssl;
  }
  if (!isPlainObject(ssl) && !isNodeSecureContext(ssl)) {
    throw new TypeError(
      `${where}(): ssl must be true, false, null, an options object of Node's tls, a tls.SecureContext or a TLS context, got ${describe(ssl)}`,
    );
  }
  let pair = cache.byOptions.get(ssl);
  if (pair === undefined) {
    pair = [null, null];
    cache.byOptions.set(ssl, pair);
  }
  const side = serverSide ? 1 : 0;
  return (pair[side] ??= createNamingSsl(provider, ssl, serverSide, where));
}

/**
 * A Node tls.SecureContext (tls.createSecureContext()'s, what a Python SSLContext becomes in a
 * port): it stands for `{secureContext}`. Known by its class name, so core needs no node:tls.
 */
function isNodeSecureContext(value: unknown): value is object {
  return typeof value === 'object' && value !== null && value.constructor?.name === 'SecureContext';
}

/** The provider's context for `ssl`; its argument errors say they are about `ssl` (a provider cannot know the name). */
function createNamingSsl(provider: TLSProvider, ssl: object, serverSide: boolean, where: string): TLSContext {
  try {
    return provider.createContext((isNodeSecureContext(ssl) ? { secureContext: ssl } : ssl) as TLSOptions, serverSide);
  } catch (error) {
    if (error instanceof TypeError) throw new TypeError(`${where}(): ssl: ${error.message}`, { cause: error });
    if (error instanceof RangeError) throw new RangeError(`${where}(): ssl: ${error.message}`, { cause: error });
    throw error;
  }
}

/** What extra info 'sslcontext' shows for `ssl`: the object the caller gave; for `true`, the context made for it. */
export function givenSsl(ssl: unknown, context: TLSContext): unknown {
  return ssl === true ? context : ssl;
}

/** ssl given: anything but false, null and undefined. */
export function sslGiven(ssl: unknown): boolean {
  return ssl !== undefined && ssl !== null && ssl !== false;
}

/** A timeout option: the default when absent, else a positive number of seconds. */
export function checkTimeout(value: unknown, name: string, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`${name} must be a number of seconds, got ${describe(value)}`);
  }
  if (!(value > 0) || value === Infinity) throw new RangeError(`${name} must be a positive number of seconds, got ${value}`);
  return value;
}

/**
 * Without ssl the TLS-only options mean nothing: asyncio's ValueError "only meaningful with
 * ssl", a RangeError here as every ValueError (root README).
 */
function checkNoTLSOptions(options: TLSClientOptions | TLSServerOptions, where: string): void {
  const given = options as Partial<Record<'serverHostname' | 'sslHandshakeTimeout' | 'sslShutdownTimeout', unknown>>;
  for (const name of ['serverHostname', 'sslHandshakeTimeout', 'sslShutdownTimeout'] as const) {
    if (given[name] !== undefined && given[name] !== null) {
      throw new RangeError(`${where}(): ${name} is only meaningful with ssl`);
    }
  }
}

/**
 * The client side's TLS, or null without ssl. `host` is the host the caller connects to
 * (null with `sock` or a Unix path): the default serverHostname, as in asyncio.
 */
export function clientTLS(loop: unknown, options: TLSClientOptions, host: string | null, where: string): TLSSetup | null {
  if (!sslGiven(options.ssl)) {
    checkNoTLSOptions(options, where);
    return null;
  }
  const provider = tlsProvider(loop, where);
  const context = contextFor(provider, options.ssl, false, where);
  return {
    provider,
    context,
    given: givenSsl(options.ssl, context),
    serverSide: false,
    serverHostname: hostnameFor(options.serverHostname, host, where),
    handshakeTimeout: checkTimeout(options.sslHandshakeTimeout, 'sslHandshakeTimeout', DEFAULT_HANDSHAKE_TIMEOUT),
    shutdownTimeout: checkTimeout(options.sslShutdownTimeout, 'sslShutdownTimeout', DEFAULT_SHUTDOWN_TIMEOUT),
  };
}

/** The server side's TLS, or null without ssl. */
export function serverTLS(loop: unknown, options: TLSServerOptions, where: string): TLSSetup | null {
  if (!sslGiven(options.ssl)) {
    checkNoTLSOptions(options, where);
    return null;
  }
  const provider = tlsProvider(loop, where);
  const context = contextFor(provider, options.ssl, true, where);
  return {
    provider,
    context,
    given: givenSsl(options.ssl, context),
    serverSide: true,
    serverHostname: null,
    handshakeTimeout: checkTimeout(options.sslHandshakeTimeout, 'sslHandshakeTimeout', DEFAULT_HANDSHAKE_TIMEOUT),
    shutdownTimeout: checkTimeout(options.sslShutdownTimeout, 'sslShutdownTimeout', DEFAULT_SHUTDOWN_TIMEOUT),
  };
}

/** serverHostname, else the host; '' turns SNI and the host name check off (asyncio's meaning). */
export function hostnameFor(serverHostname: unknown, host: string | null, where: string): string | null {
  if (serverHostname !== undefined && serverHostname !== null && typeof serverHostname !== 'string') {
    throw new TypeError(`${where}(): serverHostname must be a string, got ${describe(serverHostname)}`);
  }
  const name = serverHostname ?? host;
  if (name === null || name === undefined) {
    throw new TypeError(
      `${where}(): serverHostname is required when ssl is given without a host to default it to (sock, a Unix path, startTls); '' connects without SNI and host name check`,
    );
  }
  return name === '' ? null : name;
}

const sniContexts = new WeakMap<object, TLSContext>();

/**
 * What an SNICallback answered, as a context of `provider`: a context as it is, Node's tls
 * options compiled (once per object), anything else (Node's SecureContext from
 * tls.createSecureContext()) handed to the provider as `{secureContext}`.
 */
export function sniContext(provider: TLSProvider, value: unknown): TLSContext {
  if (isTLSContext(value) || isPlainObject(value)) return contextFor(provider, value, true, 'SNICallback');
  if (typeof value !== 'object' || value === null) {
    throw new TypeError(`SNICallback must answer a context or tls options, got ${describe(value)}`);
  }
  let context = sniContexts.get(value);
  if (context === undefined) {
    context = provider.createContext({ secureContext: value }, true);
    sniContexts.set(value, context);
  }
  return context;
}
