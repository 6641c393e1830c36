/**
 * loop.startTls(): upgrade a connection in place (asyncio's loop.start_tls). The transport
 * stops delivering to the plain protocol, an SSLProtocol takes its place, and the promise
 * resolves with the TLS transport once the handshake is done.
 *
 * Two traps of asyncio's are closed here. Bytes that already arrived behind the upgrade point
 * are the handshake's: those the transport holds are delivered to the SSLProtocol on
 * resume, and those its plain protocol read ahead (a StreamReader's buffer) come back
 * through that protocol's `_takeReadAhead()` and are fed first (CPython gh-142352). A transport whose
 * writing is paused keeps its state: the SSLProtocol starts paused too, and the app protocol,
 * which waits for resumeWriting, gets it from the TLS transport (CPython gh-109051).
 */
import { RuntimeError } from '../errors.js';
import type { AbstractEventLoop } from '../events.js';
import type { BaseProtocol } from '../protocols.js';
import { Transport } from '../transports.js';
import { checkOptions, describe } from '../validate.js';
import { checkTimeout, contextFor, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_SHUTDOWN_TIMEOUT, givenSsl, hostnameFor, sniContext, sslGiven, tlsProvider, type SSLOption } from './contexts.js';
import { SSLProtocol } from './sslproto.js';

/** Options of loop.startTls (asyncio's start_tls keywords): side, server host name, handshake/shutdown timeouts. */
export interface StartTlsOptions {
  serverSide?: boolean;
  serverHostname?: string | null;
  sslHandshakeTimeout?: number | null;
  sslShutdownTimeout?: number | null;
}

const START_TLS_OPTIONS = ['serverSide', 'serverHostname', 'sslHandshakeTimeout', 'sslShutdownTimeout'];

/** A protocol that read ahead of what its user consumed (StreamReaderProtocol) gives those bytes back. */
interface ReadAhead {
  _takeReadAhead?(): Uint8Array | null;
}

/** Whether `transport` has paused its protocol's writing. */
function writingPaused(transport: Transport): boolean {
  const own = (transport as { _isWritingPaused?: () => boolean })._isWritingPaused;
  if (typeof own === 'function') return own.call(transport);
  // A transport of another kind: judge by its public numbers, as CPython does.
  const [, high] = transport.getWriteBufferLimits();
  return transport.getWriteBufferSize() > high;
}

export async function startTls(
  loop: AbstractEventLoop,
  transport: Transport,
  protocol: BaseProtocol,
  ssl: SSLOption,
  options: StartTlsOptions = {},
): Promise<Transport> {
  const opts = checkOptions(options, START_TLS_OPTIONS, 'startTls');
  if (!(transport instanceof Transport)) {
    throw new TypeError(`startTls(): transport must be a stream Transport, got ${describe(transport)}`);
  }
  if (protocol === null || typeof protocol !== 'object') {
    throw new TypeError(`startTls(): protocol must be a protocol object, got ${describe(protocol)}`);
  }
  if (!sslGiven(ssl)) throw new TypeError(`startTls(): ssl must be true, an options object of Node's tls, a tls.SecureContext or a TLS context, got ${describe(ssl)}`);
  const serverSide = Boolean(opts.serverSide);
  const provider = tlsProvider(loop, 'startTls');
  const context = contextFor(provider, ssl, serverSide, 'startTls');
  // A server side takes serverHostname and leaves it unused, as asyncio 3.13 (its type is still checked).
  const serverHostname = serverSide ? (hostnameFor(opts.serverHostname, '', 'startTls'), null) : hostnameFor(opts.serverHostname, null, 'startTls');
  const handshakeTimeout = checkTimeout(opts.sslHandshakeTimeout, 'sslHandshakeTimeout', DEFAULT_HANDSHAKE_TIMEOUT);
  const shutdownTimeout = checkTimeout(opts.sslShutdownTimeout, 'sslShutdownTimeout', DEFAULT_SHUTDOWN_TIMEOUT);
  if (transport.isClosing()) throw new RuntimeError('startTls(): the transport is closing');
  // A half-closed connection cannot carry a handshake. asyncio starts one anyway: a write
  // fails inside a callback (reported) and the handshake fails or waits for its timeout.
  const halfClosed = (transport as { _halfClosed?: () => string | null })._halfClosed?.call(transport) ?? null;
  if (halfClosed !== null) throw new RuntimeError(`startTls(): the transport is half-closed, ${halfClosed}; a TLS handshake needs both directions`);
  // A second handshake on the same bytes would wreck the first session (asyncio lets it
  // happen: the peer fails, and the first handshake waits for its timeout or longer).
  if (transport.getProtocol() instanceof SSLProtocol) {
    throw new RuntimeError('startTls(): the transport already carries TLS (startTls was called on it before); to nest TLS, pass the TLS transport that call gave');
  }

  const waiter = loop.createFuture<void>();
  // From here on what arrives is the handshake's: the transport holds it until resumed.
  transport.pauseReading();
  const sslProtocol = new SSLProtocol(loop, protocol, context, {
    serverSide,
    serverHostname,
    waiter,
    callConnectionMade: false,
    handshakeTimeout,
    shutdownTimeout,
    writingPaused: writingPaused(transport),
    sniContext: (value) => sniContext(provider, value),
    given: givenSsl(ssl, context),
  });
  // The protocol that read ahead is the one the transport delivered to (usually `protocol` itself).
  sslProtocol._feedFirst((transport.getProtocol() as ReadAhead)._takeReadAhead?.() ?? null);
  transport.setProtocol(sslProtocol);
  const made = loop.callSoon(() => sslProtocol.connectionMade(transport));
  const resumed = loop.callSoon(() => transport.resumeReading());
  try {
    // A task cancels the future it awaited last. The caller awaits this promise (waitFor,
    // timeout) only after this call returns, so wait one turn: the handshake's waiter is then
    // that future, and cancelling the caller aborts the handshake, as cancelling asyncio's
    // start_tls coroutine does, instead of leaving it to run for sslHandshakeTimeout.
    await null;
    await waiter;
  } catch (error) {
    transport.close();
    made.cancel();
    resumed.cancel();
    throw error;
  }
  return sslProtocol.appTransport;
}
