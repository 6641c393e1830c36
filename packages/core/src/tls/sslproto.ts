/**
 * SSLProtocol: TLS as a protocol stacked on any stream transport (asyncio's sslproto.py).
 * The socket transport below sees a BufferedProtocol receiving ciphertext; the application's
 * protocol above sees an SSLTransport (ssl-transport.ts) carrying plaintext. Between them an
 * engine (engine.ts: an SSL object over memory buffers) encrypts and decrypts; this class
 * only moves bytes and keeps the state, so every loop, and a user's own transports, get TLS
 * without code of their own.
 *
 * States: unwrapped -> handshake -> wrapped -> flushing -> shutdown -> unwrapped.
 * - handshake: records go both ways until the engine says 'done' (connectionMade and the
 *   waiter then), or fails, times out (sslHandshakeTimeout) or meets TCP EOF: the waiter
 *   fails, or on a server with no waiter the failure is reported once; the socket closes.
 * - wrapped: application data both ways.
 * - flushing: the end has begun (the app closed, the peer's close_notify or TCP EOF came):
 *   what the peer sent before its end still reaches an app that has not closed.
 * - shutdown: our close_notify is queued; the peer's is awaited (sslShutdownTimeout), then
 *   the socket transport closes after flushing. Bytes after a close_notify are dropped.
 * - unwrapped: the socket transport is gone (connectionLost) or was never there.
 *
 * Flow control across the layer. Reading: the app's pauseReading pauses the socket
 * transport; ciphertext already fed stays in the engine until resumeReading. Writing: the
 * app's water marks apply to getWriteBufferSize() = plaintext waiting for the handshake +
 * ciphertext held in the engine + the socket transport's buffer. The socket transport's own
 * marks are set to (low, low) of the app's: it pauses this protocol above the app's low mark,
 * ciphertext then waits in the engine, and its resumeWriting (at or below the low mark) is the
 * moment to send more and to check the app's low mark, so the app's resumeWriting is never missed.
 */
import { watchRejection } from '../async-result.js';
import { BaseStreamTransport } from '../base-transport.js';
import { ConnectionAbortedError, ConnectionError, ConnectionResetError, RuntimeError, SSLCertVerificationError, TimeoutError } from '../errors.js';
import type { AbstractEventLoop } from '../events.js';
import { WriteFlowControl } from '../flow-control.js';
import { isFuture, isThenable, type Future } from '../futures.js';
import type { TimerHandle } from '../handles.js';
import { logger } from '../log.js';
import { BufferedProtocol, checkProtocol, isBufferedProtocol, type BaseProtocol, type Protocol } from '../protocols.js';
import type { Transport, WriteBufferLimits } from '../transports.js';
import { describe } from '../validate.js';
import { sniContext, type TLSSetup } from './contexts.js';
import type { TLSContext, TLSEngine } from './engine.js';
import { decryptAll, decryptInto } from './decrypt.js';
import { toSSLError } from './ssl-errors.js';
import { SSLObject } from './ssl-object.js';
import { SSLTransport, type SSLTransportOwner } from './ssl-transport.js';

/** asyncio's extra-info names in loopkit's camelCase, for the TLS names with an underscore or two words. */
const CAMEL_EXTRA_NAMES: Record<string, string> = { sslObject: 'ssl_object', sslContext: 'sslcontext' };

/** The SSLProtocol's TLS state (asyncio's SSLProtocolState): unwrapped, handshake, wrapped, flushing before shutdown, shutdown. */
export type SSLState = 'unwrapped' | 'handshake' | 'wrapped' | 'flushing' | 'shutdown';
/** The app protocol's side: init -connectionMade-> made [-eofReceived-> eof] -connectionLost-> lost. */
type AppState = 'init' | 'made' | 'eof' | 'lost';
type AnyProtocol = BaseProtocol & Partial<Protocol> & Partial<BufferedProtocol>;

/** The largest TLS record on the wire: 16 KiB of plaintext, 256 bytes of expansion, the header. */
const RECORD_MAX = 16384 + 256 + 5;
/**
 * Ciphertext one socket read may bring: four whole records, so a 64 KiB write of the peer
 * (four records of 16 KiB, 65,624 bytes with TLS 1.3's AES-GCM) comes in one read and is
 * answered in one send, not two of each.
 */
const READ_BUFFER = 4 * RECORD_MAX;
/**
 * Socket reads land in this one buffer of the process while it is free. A readiness
 * transport reads into it and calls bufferUpdated at once, which hands every byte to the
 * engine (it copies only the part of a record it leaves) and gives the buffer back; so any
 * number of connections read through one warm buffer and an idle one holds none. A
 * transport that keeps the buffer across an asynchronous read (a proactor's posted receive)
 * holds it until its bufferUpdated; connections reading meanwhile use a buffer of their own.
 */
let sharedReadBuffer: Uint8Array | null = null;
let sharedReadBufferTaken = false;
/**
 * Records go to the socket transport through this one buffer of the process: core's stream
 * transports keep no reference to what write() is given (they copy what they cannot send at
 * once), so the buffer is free again when write() returns, and sending allocates nothing. A
 * flush nested inside a write() (a transport calling its protocol back) takes a buffer of its
 * own. Any other transport (a custom backend's) may keep what it is given, as Node's streams
 * do: it gets a fresh buffer per write.
 */
const SEND_BUFFER = 16 * RECORD_MAX;
let sendBuffer: Uint8Array | null = null;
/** The send buffer, or a new one while it is in use (give it back: `sendBuffer = buf`). */
function takeSendBuffer(): Uint8Array {
  const buf = sendBuffer ?? Buffer.allocUnsafeSlow(SEND_BUFFER);
  sendBuffer = null;
  return buf;
}
/** After this many writes to a closed TLS connection, each further one logs a warning (asyncio's). */
const LOG_THRESHOLD_FOR_CONNLOST_WRITES = 5;
const MISSING = Symbol('missing');

/** Options of the SSLProtocol constructor (asyncio's SSLProtocol arguments). */
export interface SSLProtocolOptions {
  serverSide?: boolean;
  /** SNI and the host name checked (client); null: neither. */
  serverHostname?: string | null;
  /** Resolved after the handshake, failed with its error; null on a server's accepted connection. */
  waiter?: Future<void> | null;
  /** false for startTls: the app protocol already had connectionMade from the plain transport. */
  callConnectionMade?: boolean;
  handshakeTimeout?: number;
  shutdownTimeout?: number;
  /** The socket transport had paused its protocol's writing (startTls, CPython gh-109051). */
  writingPaused?: boolean;
  /** What an SNICallback's answer becomes (a context of the same provider). */
  sniContext?: (value: unknown) => TLSContext;
  /** Extra info 'sslcontext': the `ssl` the caller gave (default: `context`). */
  given?: unknown;
}

interface ReadResult {
  /** The peer's close_notify was read. */
  end: boolean;
  /** The engine failed (after delivering what it had decrypted before). */
  error: unknown;
}

export class SSLProtocol extends BufferedProtocol implements SSLTransportOwner {
  readonly _loop: AbstractEventLoop;
  /** What the application's protocol gets. */
  readonly appTransport: SSLTransport;
  private app!: AnyProtocol;
  private appBuffered = false;
  private appState: AppState;
  private readonly context: TLSContext;
  private readonly serverSide: boolean;
  private readonly handshakeTimeout: number;
  private readonly shutdownTimeout: number;
  private readonly sniContext: ((value: unknown) => TLSContext) | null;
  private waiter: Future<void> | null;
  private engine: TLSEngine | null;
  private socket: Transport | null = null;
  private socketLost = false;
  private state: SSLState = 'unwrapped';
  private readonly extra: Record<string, unknown>;

  /** Plaintext written before the handshake finished. */
  private backlog: Uint8Array[] = [];
  private backlogSize = 0;
  /** The socket transport paused our writing: ciphertext waits in the engine. */
  private sslWritingPaused: boolean;
  private readonly appFlow = new WriteFlowControl();
  private appReadingPaused = false;
  /** We paused the socket transport's reading on the app's behalf. */
  private socketReadingPaused = false;
  private tcpEof = false;
  private peerClosed = false;
  private closingSocket = false;
  private sniPending = false;
  /** Why we closed the socket transport (its abort() reports no error). */
  private closeError: unknown = null;
  private writesAfterClose = 0;
  private handshakeTimer: TimerHandle | null = null;
  private shutdownTimer: TimerHandle | null = null;
  /** The buffer getBuffer() lent the socket transport, until its bufferUpdated. */
  private readBuffer: Uint8Array | null = null;
  /** This connection's own read buffer, made when the shared one was in use. */
  private ownReadBuffer: Uint8Array | null = null;
  private firstInput: Uint8Array | null = null;

  constructor(loop: AbstractEventLoop, appProtocol: BaseProtocol, context: TLSContext, options: SSLProtocolOptions = {}) {
    super();
    this._loop = loop;
    this._setAppProtocol(appProtocol);
    this.context = context;
    this.serverSide = options.serverSide ?? false;
    this.handshakeTimeout = options.handshakeTimeout ?? 60;
    this.shutdownTimeout = options.shutdownTimeout ?? 30;
    this.sniContext = options.sniContext ?? null;
    this.waiter = options.waiter ?? null;
    this.appState = options.callConnectionMade === false ? 'made' : 'init';
    this.sslWritingPaused = options.writingPaused ?? false;
    // An app protocol paused by the plain transport awaits its resumeWriting from us now.
    this.appFlow.paused = this.appState === 'made' && this.sslWritingPaused;
    // asyncio's 'sslcontext' is the very SSLContext the caller passed: here the `ssl` given.
    this.extra = { sslcontext: options.given ?? context };
    this.engine = context.newEngine(this.serverSide ? null : (options.serverHostname ?? null));
    this.appTransport = new SSLTransport(this);
  }

  /** The state machine's state (for tests and debugging). */
  get sslState(): SSLState {
    return this.state;
  }

  /** @internal startTls: bytes that arrived behind the upgrade point, fed to the handshake first. */
  _feedFirst(data: Uint8Array | null): void {
    if (data !== null && data.length > 0) this.firstInput = data;
  }

  // ---- the socket transport's protocol ----
  override connectionMade(transport: Transport): void {
    this.socket = transport;
    this.applySocketLimits();
    this.state = 'handshake';
    this.handshakeTimer = this._loop.callLater(this.handshakeTimeout, this.onHandshakeTimeout);
    if (this._loop.getDebug()) logger.debug(`${this} starts the TLS handshake`);
    const first = this.firstInput;
    this.firstInput = null;
    try {
      if (first !== null) this.engine!.feed(first);
    } catch (error) {
      this.handshakeFailed(toSSLError(error));
      return;
    }
    this.doHandshake();
  }

  override getBuffer(_sizeHint: number): Uint8Array {
    if (this.readBuffer === null) {
      if (!sharedReadBufferTaken) {
        sharedReadBufferTaken = true;
        this.readBuffer = sharedReadBuffer ??= Buffer.allocUnsafeSlow(READ_BUFFER);
      } else {
        this.readBuffer = this.ownReadBuffer ??= Buffer.allocUnsafe(READ_BUFFER);
      }
    }
    return this.readBuffer;
  }

  override bufferUpdated(nbytes: number): void {
    const buf = this.readBuffer;
    this.readBuffer = null;
    try {
      if (buf !== null) this.received(buf, nbytes);
    } finally {
      if (buf !== null && buf === sharedReadBuffer) sharedReadBufferTaken = false;
    }
  }

  /** `nbytes` of ciphertext arrived at the start of `buf` (lent by getBuffer). */
  private received(buf: Uint8Array, nbytes: number): void {
    const engine = this.engine;
    // After the peer's close_notify nothing it sends counts (data after close_notify is ignored).
    if (engine === null || nbytes <= 0 || this.peerClosed) return;
    const input = buf.subarray(0, nbytes);
    // The common case: the input goes to the engine with the read that decrypts it.
    if (this.state === 'wrapped' && this.readsToApp()) {
      this.doRead(input);
      return;
    }
    try {
      engine.feed(input);
    } catch (error) {
      this.fatal(toSSLError(error));
      return;
    }
    switch (this.state) {
      case 'handshake':
        if (!this.sniPending) this.doHandshake();
        break;
      case 'wrapped':
        this.doRead();
        break;
      case 'flushing':
        this.continueFlushing();
        break;
      case 'shutdown':
        this.drainShutdown();
        break;
      default:
        break;
    }
  }

  /** TCP EOF. True keeps the socket transport open: this layer closes it when done. */
  override eofReceived(): boolean {
    this.tcpEof = true;
    switch (this.state) {
      case 'handshake':
        this.handshakeFailed(new ConnectionResetError('Connection lost during the TLS handshake: the peer closed the TCP connection (EOF) before the handshake completed'));
        return true;
      case 'wrapped':
        // A TCP EOF without close_notify ends the stream too, as in asyncio and Node.
        this.state = 'flushing';
        this.continueFlushing();
        return true;
      case 'flushing':
        this.continueFlushing();
        return true;
      case 'shutdown':
        this.finishShutdown();
        return true;
      default:
        return false;
    }
  }

  override connectionLost(exc: unknown): void {
    const error = exc ?? this.closeError ?? null;
    this.socketLost = true;
    // A read still posted with the shared buffer may yet write into it: it is left to that
    // read, and the next connection to read makes a new one.
    if (this.readBuffer !== null && this.readBuffer === sharedReadBuffer) {
      sharedReadBuffer = null;
      sharedReadBufferTaken = false;
    }
    this.readBuffer = null;
    this.appTransport._closed = true;
    this.handshakeTimer?.cancel();
    this.handshakeTimer = null;
    this.shutdownTimer?.cancel();
    this.shutdownTimer = null;
    this.state = 'unwrapped';
    this.backlog = [];
    this.backlogSize = 0;
    const engine = this.engine;
    this.engine = null;
    engine?.close();
    // A handshake cut short: the waiter learns it (a no-op once it was woken).
    this.wakeWaiter(error ?? new ConnectionResetError('Connection lost during the TLS handshake'));
    if (this.appState === 'made' || this.appState === 'eof') {
      this.appState = 'lost';
      try {
        watchRejection(this.app.connectionLost(error), (err) => this.report('Exception in protocol.connectionLost()', err));
      } catch (err) {
        this.report('Exception in protocol.connectionLost()', err);
      }
    }
  }

  override pauseWriting(): void {
    this.sslWritingPaused = true;
  }

  override resumeWriting(): void {
    this.sslWritingPaused = false;
    this.flushOutgoing();
  }

  // ---- handshake ----
  private doHandshake(): void {
    const engine = this.engine!;
    let state;
    try {
      state = engine.handshake();
    } catch (error) {
      this.handshakeFailed(toSSLError(error));
      return;
    }
    this.flushOutgoing();
    if (state === 'done') this.handshakeDone();
    else if (state === 'want-sni') this.askSni();
  }

  /** A server with SNICallback: ask it for the context of the name the client sent, as Node does. */
  private askSni(): void {
    const callback = this.context.options.SNICallback;
    const name = this.engine!.servername();
    if (typeof callback !== 'function' || name === null) {
      this.doHandshake();
      return;
    }
    this.sniPending = true;
    let answered = false;
    const done = (err: unknown, ctx?: unknown): void => {
      if (answered) return;
      answered = true;
      // The callback may answer from anywhere (a promise, a host timer), even after the loop closed.
      if (!this._loop.isClosed()) this._loop.callSoonThreadsafe(() => this.sniAnswered(err, ctx));
    };
    try {
      callback(name, done);
    } catch (err) {
      done(err);
    }
  }

  private sniAnswered(err: unknown, ctx: unknown): void {
    this.sniPending = false;
    if (this.state !== 'handshake' || this.engine === null) return;
    try {
      if (err !== null && err !== undefined) throw err;
      if (ctx !== null && ctx !== undefined) {
        if (this.sniContext === null) throw new TypeError('SNICallback answered a context, but this connection cannot compile one');
        this.engine.useContext(this.sniContext(ctx));
      }
    } catch (error) {
      this.handshakeFailed(toSSLError(error));
      return;
    }
    this.doHandshake();
  }

  private handshakeDone(): void {
    this.handshakeTimer?.cancel();
    this.handshakeTimer = null;
    let sslObject: SSLObject;
    try {
      sslObject = new SSLObject(this.engine!.info(), this.serverSide);
      this.extra.peercert = sslObject.getPeerCertificate();
    } catch (error) {
      this.handshakeFailed(toSSLError(error));
      return;
    }
    this.extra.cipher = sslObject.getCipher();
    this.extra.ssl_object = sslObject;
    this.extra.compression = null;
    this.state = 'wrapped';
    if (this._loop.getDebug()) logger.debug(`${this}: TLS handshake done (${sslObject.getProtocol()})`);
    if (this.appState === 'init') {
      this.appState = 'made';
      try {
        this.watch(this.app.connectionMade(this.appTransport), 'connectionMade');
      } catch (error) {
        this.protocolFailed(error, 'connectionMade');
        return;
      }
    }
    this.wakeWaiter(null);
    if (this.state !== 'wrapped') return;
    if (this.backlog.length > 0) this.encryptBacklog();
    // The peer's first data may have come with its last handshake records.
    this.doRead();
  }

  /** The handshake failed: the waiter fails, or (a server's connection) the loop hears of it once; the socket closes. */
  private handshakeFailed(error: unknown): void {
    this.handshakeTimer?.cancel();
    this.handshakeTimer = null;
    if (this.state !== 'handshake') return;
    this.state = 'unwrapped';
    // The alert the engine made tells the peer why; it goes out before the socket closes.
    const alert = this.engine?.takeOutgoing() ?? null;
    if (alert !== null && this.socket !== null && !this.socket.isClosing()) this.socket.write(alert);
    if (this.waiter === null) {
      const message = error instanceof SSLCertVerificationError ? 'SSL handshake failed on verifying the certificate' : 'SSL handshake failed';
      this._loop.callExceptionHandler({
        message,
        exception: error,
        transport: this.socket,
        protocol: this,
        peername: this.socket?.getExtraInfo('peername') ?? null,
      });
    }
    this.wakeWaiter(error);
    this.closeSocket(error);
  }

  private readonly onHandshakeTimeout = (): void => {
    this.handshakeTimer = null;
    if (this.state !== 'handshake') return;
    // asyncio's words first: ported tests match /SSL handshake.*is taking longer/.
    this.handshakeFailed(
      new ConnectionAbortedError(
        `SSL handshake is taking longer than ${this.handshakeTimeout} seconds: aborting the connection (the handshake timed out: sslHandshakeTimeout)`,
      ),
    );
  };

  // ---- reading ----
  /** A Protocol app (not a BufferedProtocol) takes plaintext now: doRead may be given the input. */
  private readsToApp(): boolean {
    return !this.appBuffered && !this.appReadingPaused && !this.appTransport._closed;
  }

  /** Decrypt for the app; `input` (only when readsToApp()) is fed first. */
  private doRead(input: Uint8Array | null = null): void {
    if (this.appReadingPaused || this.engine === null || this.appTransport._closed) return;
    if (this.state !== 'wrapped' && this.state !== 'flushing') return;
    const result = this.appBuffered ? this.readIntoApp() : this.readToApp(input);
    if (this.engine === null) return;
    // Reading can make records to send (TLS 1.3 key updates, tickets).
    this.flushOutgoing();
    if (result.error !== null) this.fatal(toSSLError(result.error));
    else if (result.end) this.onCloseNotify();
  }

  /** Everything the engine decrypts, as one dataReceived (asyncio's way). */
  private readToApp(input: Uint8Array | null): ReadResult {
    const { data, end, error } = decryptAll(this.engine!, input);
    if (end) this.peerClosed = true;
    if (data !== null) {
      try {
        this.watch(this.app.dataReceived!(data), 'dataReceived');
      } catch (err) {
        this.protocolFailed(err, 'dataReceived');
        return { end: false, error: null };
      }
    }
    return { end, error };
  }

  /** A BufferedProtocol: decrypt straight into its buffers, one bufferUpdated per buffer filled. */
  private readIntoApp(): ReadResult {
    const engine = this.engine!;
    for (;;) {
      if (this.appReadingPaused || this.appTransport._closed || this.engine !== engine) return { end: false, error: null };
      const buf = this.appBuffer();
      if (buf === null) return { end: false, error: null };
      const { filled, end, full, error } = decryptInto(engine, buf);
      if (end) this.peerClosed = true;
      if (filled > 0) {
        try {
          this.watch(this.app.bufferUpdated!(filled), 'bufferUpdated');
        } catch (err) {
          this.protocolFailed(err, 'bufferUpdated');
          return { end: false, error: null };
        }
      }
      if (!full || error !== null || end) return { end, error };
    }
  }

  private appBuffer(): Uint8Array | null {
    let buf: unknown;
    try {
      buf = this.app.getBuffer!(-1);
      if (!(buf instanceof Uint8Array)) throw new TypeError(`getBuffer() must return a Uint8Array, got ${describe(buf)}`);
      if (buf.length === 0) throw new RuntimeError('getBuffer() returned an empty buffer');
    } catch (error) {
      this.protocolFailed(error, 'getBuffer');
      return null;
    }
    return buf;
  }

  /** The peer's close_notify: the app hears eofReceived, then our close_notify answers it. */
  private onCloseNotify(): void {
    if (!this.appTransport._closed) this.callAppEof();
    if (this.state === 'wrapped') this.state = 'flushing';
    this.toShutdown();
  }

  private callAppEof(): void {
    if (this.appState !== 'made') return;
    this.appState = 'eof';
    let keepOpen: unknown;
    try {
      keepOpen = this.app.eofReceived?.();
    } catch (error) {
      this.protocolFailed(error, 'eofReceived');
      return;
    }
    if (isThenable(keepOpen) && !isFuture(keepOpen)) this.watch(keepOpen, 'eofReceived');
    else if (keepOpen) logger.warning('returning true from eofReceived() has no effect when using ssl');
  }

  /** 'flushing' after TCP EOF: the rest of what the peer sent reaches the app (once it reads), then the end. */
  private continueFlushing(): void {
    if (this.state !== 'flushing') return;
    if (!this.appTransport._closed) {
      if (this.appReadingPaused) return; // resumeReading comes back here
      this.doRead();
      if (this.state !== 'flushing' || this.appReadingPaused) return;
      if (this.tcpEof) this.callAppEof();
      if (this.state !== 'flushing') return;
      if (!this.tcpEof && !this.appTransport._closed) return;
    }
    this.toShutdown();
  }

  // ---- shutdown ----
  /** @internal the app closed its transport. */
  _startShutdown(): void {
    this.appTransport._closed = true;
    if (this.state === 'handshake') {
      this.closeSocket(new ConnectionAbortedError('the TLS transport was closed during the handshake'));
      return;
    }
    if (this.state !== 'wrapped' && this.state !== 'flushing') return;
    this.state = 'flushing';
    this.toShutdown();
  }

  /** Queue our close_notify after the pending writes; finish once the peer's came (or its TCP EOF). */
  private toShutdown(): void {
    if (this.state !== 'flushing' || this.engine === null) return;
    this.state = 'shutdown';
    this.appTransport._closed = true;
    // The peer's close_notify must be read even if the app had paused reading.
    this.resumeSocketReading();
    this.shutdownTimer ??= this._loop.callLater(this.shutdownTimeout, this.onShutdownTimeout);
    let bothDone = false;
    try {
      if (this.backlog.length > 0) this.encryptBacklog();
      // After TCP EOF the peer may be gone: no close_notify to it (asyncio's rule too).
      if (!this.tcpEof) bothDone = this.engine.shutdown();
    } catch (error) {
      this.fatal(toSSLError(error));
      return;
    }
    this.flushOutgoing();
    if (bothDone || this.peerClosed || this.tcpEof) this.finishShutdown();
  }

  /** Bytes while waiting for the peer's close_notify: application data is dropped (the app closed). */
  private drainShutdown(): void {
    const { end, error } = decryptAll(this.engine!);
    if (error !== null) {
      this.fatal(toSSLError(error));
      return;
    }
    if (end) this.peerClosed = true;
    this.flushOutgoing();
    if (this.peerClosed) this.finishShutdown();
  }

  /** The TLS session is over: send what is left (close_notify included), then close the socket transport. */
  private finishShutdown(): void {
    const socket = this.socket;
    if (this.closingSocket || socket === null || this.socketLost) return;
    this.closingSocket = true;
    const rest = this.engine?.takeOutgoing() ?? null;
    if (rest !== null) socket.write(rest);
    socket.close();
  }

  private readonly onShutdownTimeout = (): void => {
    this.shutdownTimer = null;
    if (this.state !== 'shutdown' && this.state !== 'flushing') return;
    this.closeSocket(new TimeoutError(`SSL shutdown timed out: no close_notify from the peer within ${this.shutdownTimeout} seconds (sslShutdownTimeout)`));
  };

  /** @internal the app aborted its transport. */
  _abort(): void {
    this.appTransport._closed = true;
    this.closeSocket(null);
  }

  // ---- writing ----
  /** @internal */
  _writeApp(chunks: Uint8Array[]): void {
    if (this.appTransport._closed || (this.state !== 'wrapped' && this.state !== 'handshake')) {
      this.writesAfterClose += 1;
      if (this.writesAfterClose >= LOG_THRESHOLD_FOR_CONNLOST_WRITES) logger.warning('SSL connection is closed');
      return;
    }
    if (this.state === 'handshake') {
      // The caller may reuse its buffer once write() returns: keep copies.
      for (const chunk of chunks) {
        this.backlog.push(Uint8Array.prototype.slice.call(chunk));
        this.backlogSize += chunk.length;
      }
      this.controlAppWriting();
      return;
    }
    const engine = this.engine!;
    const socket = this.socket;
    // Core's stream transports keep no reference to what write() gets: the last chunk's
    // records (after any waiting in the engine) are encrypted straight into the send buffer.
    const direct = engine.writeInto !== undefined && socket instanceof BaseStreamTransport && !this.sslWritingPaused;
    const buf = direct ? takeSendBuffer() : null;
    try {
      let n = 0;
      try {
        for (let i = 0; i < chunks.length; i++) {
          if (buf !== null && i === chunks.length - 1) n = engine.writeInto!(chunks[i]!, buf);
          else engine.write(chunks[i]!);
        }
      } catch (error) {
        this.fatal(toSSLError(error));
        return;
      }
      if (n > 0) socket!.write(buf!.subarray(0, n));
    } finally {
      if (buf !== null) sendBuffer = buf;
    }
    this.flushOutgoing();
  }

  private encryptBacklog(): void {
    const backlog = this.backlog;
    this.backlog = [];
    this.backlogSize = 0;
    try {
      for (const chunk of backlog) this.engine!.write(chunk);
    } catch (error) {
      this.fatal(toSSLError(error));
      return;
    }
    this.flushOutgoing();
  }

  /** Hand the engine's records to the socket transport until it pauses us; then the app's flow control. */
  private flushOutgoing(): void {
    const engine = this.engine;
    const socket = this.socket;
    if (engine !== null && socket !== null && engine.outgoingSize() > 0) this.sendRecords(engine, socket);
    this.controlAppWriting();
  }

  private sendRecords(engine: TLSEngine, socket: Transport): void {
    if (!(socket instanceof BaseStreamTransport)) {
      while (!this.sslWritingPaused && !this.socketLost && this.engine === engine) {
        const out = engine.takeOutgoing();
        if (out === null || out.length === 0) break;
        socket.write(out);
      }
      return;
    }
    const buf = takeSendBuffer();
    try {
      // What a paused socket transport would only buffer waits in the engine for resumeWriting.
      while (!this.sslWritingPaused && !this.socketLost && this.engine === engine) {
        const n = engine.takeInto(buf);
        if (n === 0) break;
        socket.write(buf.subarray(0, n));
      }
    } finally {
      sendBuffer = buf;
    }
  }

  private controlAppWriting(): void {
    if (this.appState !== 'made' && this.appState !== 'eof') return;
    const size = this._appWriteBufferSize();
    if (this.appFlow.shouldPause(size)) {
      try {
        watchRejection(this.app.pauseWriting(), (err) => this.report('protocol.pauseWriting() failed', err));
      } catch (error) {
        this.report('protocol.pauseWriting() failed', error);
      }
    } else if (this.appFlow.shouldResume(size)) {
      try {
        watchRejection(this.app.resumeWriting(), (err) => this.report('protocol.resumeWriting() failed', err));
      } catch (error) {
        this.report('protocol.resumeWriting() failed', error);
      }
    }
  }

  /** The socket transport pauses us above the app's low mark (see the module comment). */
  private applySocketLimits(): void {
    this.socket?.setWriteBufferLimits({ high: this.appFlow.low, low: this.appFlow.low });
  }

  // ---- for SSLTransport ----
  /** @internal */
  _extraInfo(name: string): { found: boolean; value: unknown } {
    name = CAMEL_EXTRA_NAMES[name] ?? name;
    if (Object.hasOwn(this.extra, name)) return { found: true, value: this.extra[name] };
    // Once the socket is gone its names (socket, peername, ...) give the default, as asyncio's
    // SSL transport drops its socket transport; the TLS names above stay.
    if (this.socketLost) return { found: false, value: null };
    const value = this.socket?.getExtraInfo<unknown>(name, MISSING) ?? MISSING;
    return value === MISSING ? { found: false, value: null } : { found: true, value };
  }

  /** @internal */
  _socketClosing(): boolean {
    return this.socket === null || this.socketLost || this.socket.isClosing();
  }

  /** @internal */
  _appProtocol(): BaseProtocol {
    return this.app;
  }

  /** @internal */
  _setAppProtocol(protocol: BaseProtocol): void {
    checkProtocol(protocol);
    this.app = protocol as AnyProtocol;
    this.appBuffered = isBufferedProtocol(protocol);
  }

  /** @internal */
  _appReading(): boolean {
    return !this.appReadingPaused;
  }

  /** @internal */
  _pauseAppReading(): void {
    if (this.appReadingPaused) return;
    this.appReadingPaused = true;
    if (this.state === 'wrapped' || this.state === 'flushing') this.pauseSocketReading();
  }

  /** @internal */
  _resumeAppReading(): void {
    if (!this.appReadingPaused) return;
    this.appReadingPaused = false;
    this.resumeSocketReading();
    // What the engine already holds is delivered from the loop, not inside the caller's call.
    this._loop.callSoon(this.afterResume);
  }

  private readonly afterResume = (): void => {
    if (this.state === 'wrapped') this.doRead();
    else if (this.state === 'flushing') this.continueFlushing();
  };

  /** @internal */
  _setAppWriteLimits(limits?: WriteBufferLimits | number | null, low?: number | null): void {
    this.appFlow.set(limits, low);
    this.applySocketLimits();
    this.controlAppWriting();
  }

  /** @internal */
  _appWriteLimits(): [low: number, high: number] {
    return [this.appFlow.low, this.appFlow.high];
  }

  /** @internal */
  _appWriteBufferSize(): number {
    const socketSize = this.socket !== null && !this.socketLost ? this.socket.getWriteBufferSize() : 0;
    return this.backlogSize + (this.engine?.outgoingSize() ?? 0) + socketSize;
  }

  override toString(): string {
    return `<SSLProtocol ${this.serverSide ? 'server' : 'client'} ${this.state}>`;
  }

  // ---- internals ----
  private pauseSocketReading(): void {
    if (this.socketReadingPaused || this.socket === null || this.socketLost) return;
    this.socketReadingPaused = true;
    this.socket.pauseReading();
  }

  private resumeSocketReading(): void {
    if (!this.socketReadingPaused || this.socket === null || this.socketLost) return;
    this.socketReadingPaused = false;
    this.socket.resumeReading();
  }

  /** Close the socket transport now; connectionLost then carries `error`. */
  private closeSocket(error: unknown): void {
    if (this.closeError === null) this.closeError = error;
    if (this.socket !== null && !this.socketLost) this.socket.abort();
    else if (this.socket === null) this.wakeWaiter(error ?? new ConnectionResetError('Connection lost'));
  }

  /** An engine failure after the handshake: the connection closes with it (a non-TLS error is reported too). */
  private fatal(error: unknown): void {
    if (this.state === 'handshake') {
      this.handshakeFailed(error);
      return;
    }
    if (!(error instanceof ConnectionError)) this.report('Fatal error on SSL protocol', error);
    else if (this._loop.getDebug()) logger.debug(`${this}: ${String(error)}`);
    this.closeSocket(error);
  }

  /** An app protocol method returned `result`: a promise that rejects fails the method, as a throw does (async-result.ts). */
  private watch(result: unknown, method: string): void {
    if (result !== undefined) watchRejection(result, (error) => this.protocolFailed(error, method));
  }

  private protocolFailed(error: unknown, method: string): void {
    this.report(`Fatal error: protocol.${method}() call failed.`, error);
    this.closeSocket(error);
  }

  private report(message: string, exception: unknown): void {
    this._loop.callExceptionHandler({ message, exception, transport: this.appTransport, protocol: this.app });
  }

  private wakeWaiter(error: unknown): void {
    const waiter = this.waiter;
    if (waiter === null) return;
    this.waiter = null;
    // loop.close() closing a connection mid-handshake: no callback of the waiter can run now.
    if (waiter.done() || this._loop.isClosed()) return;
    if (error === null || error === undefined) waiter.setResult(undefined);
    else waiter.setException(error);
  }
}

/** The SSLProtocol of a connection the loop makes (createConnection) or accepts (a TLS server). */
export function newSSLProtocol(loop: AbstractEventLoop, app: BaseProtocol, setup: TLSSetup, waiter: Future<void> | null): SSLProtocol {
  return new SSLProtocol(loop, app, setup.context, {
    serverSide: setup.serverSide,
    serverHostname: setup.serverHostname,
    waiter,
    handshakeTimeout: setup.handshakeTimeout,
    shutdownTimeout: setup.shutdownTimeout,
    sniContext: (value) => sniContext(setup.provider, value),
    given: setup.given,
  });
}
