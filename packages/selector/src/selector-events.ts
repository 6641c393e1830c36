/**
 * SelectorEventLoop (asyncio's selector_events.py): core's BaseSocketLoop plus readiness.
 *
 * Backend contract (core/backend.ts): ioPoll = one non-blocking select and dispatch of the
 * ready readers and writers, skipped while the selector cannot have news (see pollDue): a
 * busy loop pays the syscall every MAX_POLL_GAP_MS, not every iteration; ioStart = the
 * selector's host watcher calls `wake`. The sockets of stream transports the loop made or
 * accepted itself skip the selector: Node's own epoll watches them (a uv_poll each, see
 * `hosted`), and what it reported is taken without a second epoll_wait. Every fd has one
 * registration whose data holds its reader and writer Handles, queued as they are (no
 * allocation) when the fd is ready. sock*
 * methods try the syscall first and register only when it would block; transports and
 * servers build on the same registrations. The network methods (createConnection,
 * createServer, ...) are core's: the hooks at the end say how a @loopkit/uv socket is made,
 * bound and connected.
 */
import { fstatSync, osConstants } from './builtins.js';
import {
  _ioWaitingCall,
  BaseSocketLoop,
  checkByteCount,
  checkPath,
  familyOfAddress,
  Future,
  Handle,
  resolveAddress,
  RuntimeError,
  SendfileNotAvailableError,
  toConnectionError,
  type _WaitingCall,
  type BaseProtocol,
  type BaseStreamTransport,
  type DatagramOptions,
  type DatagramProtocol,
  type Family,
  type InetSockAddr,
  type Server,
  type ServerOptions,
  type PipeDirection,
  type SubprocessProtocol,
  type SubprocessSpec,
  type Transport,
} from '@loopkit/core';
import {
  EAGAIN,
  EINPROGRESS,
  EINTR,
  errnoError,
  IPPROTO_IPV6,
  IPV6_V6ONLY,
  keepFreedMemory,
  SO_BROADCAST,
  SO_KEEPALIVE,
  SO_REUSEADDR,
  SO_REUSEPORT,
  SOL_SOCKET,
  PollSet,
  Socket,
  type AddrOut,
  socket as makeSocket,
  WakeupFd,
  setNonblocking,
} from '@loopkit/uv';
import { BaseSelector, DefaultSelector, EVENT_READ, EVENT_WRITE, fileobjToFd, type FileObject } from './selectors.js';
import { SelectorDatagramTransport, SelectorSocketTransport, type SocketTransportLoop } from './transports.js';
import { ReadAhead, type FdRegistration, type ReadinessCallback } from './readiness-transport.js';
import { checkFunction, describe } from './util.js';
import { ChildWatcher } from './child-watcher.js';
import { SelectorPipeTransport } from './pipes.js';
import { regularFileSize, runSendfile } from './sendfile.js';
import { UnixSubprocessTransport } from './subprocess.js';

/** While callbacks keep the loop busy, ready I/O waits at most this long (ms) to be polled... */
const MAX_POLL_GAP_MS = 0.05;
/** ...or this many iterations (a bound that holds however fast iterations are). */
const MAX_SKIPPED_POLLS = 512;
/**
 * For this long (ms) after a poll found events, at most HOT_SKIPPED_POLLS iterations pass
 * between polls: a connection that just spoke is likely to speak again within a round trip,
 * and under a callSoon storm (iterations of a fraction of a µs) the 50 µs gap would add half
 * of it to every request's latency. Counted in iterations, not time, so a loop busy with I/O
 * (long iterations, the host turning often) polls no more than before; a storm with no I/O
 * never gets hot.
 */
const HOT_WINDOW_MS = 1;
const HOT_SKIPPED_POLLS = 16;
/** After a look-ahead finds nothing, the next ones are skipped, up to this many in a row. */
const MAX_LOOK_AHEAD_SKIPS = 16;
/** After running out of fds, accepting resumes this many seconds later (asyncio's). */
const ACCEPT_RETRY_DELAY = 1;
const { EMFILE, ENFILE, ENOBUFS, ENOMEM, ECONNABORTED } = osConstants.errno;

const noRelease = (): void => {};

/** A sock* method's future: settled or cancelled, it withdraws its fd's reader or writer at once. */
class ReadinessFuture<T> extends Future<T> {
  /** @internal withdraws the registration (once) */
  _release: () => void = noRelease;

  override cancel(msg?: string): boolean {
    if (!super.cancel(msg)) return false;
    this._release();
    return true;
  }
}

/** A selector registration's data: the fd's reader and writer (a hosted fd's registration is its transport). */
class FdHandlers implements FdRegistration {
  reader: ReadinessCallback | null = null;
  writer: ReadinessCallback | null = null;
}

/** The events a hosted fd is watched for: those of its registration's handlers that are set. */
function hostedEvents(registration: FdRegistration): number {
  return (registration.reader === null ? 0 : EVENT_READ) | (registration.writer === null ? 0 : EVENT_WRITE);
}

/** What sock* methods take: a @loopkit/uv Socket (anything with its try* methods). */
function checkSock(sock: unknown): Socket {
  if (!(sock instanceof Socket)) throw new TypeError(`sock must be a @loopkit/uv Socket, got ${describe(sock)}`);
  return sock;
}

/** Where `address` points for `sock`: a Unix path, or a host name resolved without blocking. */
async function targetOf(sock: Socket, address: unknown): Promise<{ address: string; port: number } | { path: string }> {
  if (sock.family !== 'unix') return await resolveAddress(address, sock.family, sock.type);
  const path = typeof address === 'string' ? address : (address as { path?: unknown } | null)?.path;
  return { path: checkPath(path, 'address') };
}

let receivedMemoryKept = false;

/**
 * Received chunks are fresh memory that V8 frees in bulk: keep freed memory in the process
 * (see @loopkit/uv's keepFreedMemory), from the first fd a loop reads (a socket, a pipe, a
 * server), not at the loop's creation: a loop that only runs tasks and timers would keep
 * what module loading and compiles freed (1-2.5 MB with 100k idle tasks).
 */
function keepReceivedMemory(): void {
  if (receivedMemoryKept) return;
  receivedMemoryKept = true;
  keepFreedMemory();
}

/** How many bytes of a `length`-byte buffer a recv may fill: `nbytes`, or all of it for 0 (asyncio's recvfrom_into rule). */
function checkNbytes(nbytes: unknown, length: number): number {
  const count = checkByteCount(nbytes, 'nbytes');
  if (count > length) throw new RangeError(`nbytes is greater than the length of the buffer (${count} > ${length})`);
  return count === 0 ? length : count;
}

function checkStreamSock(sock: unknown): Socket {
  const s = checkSock(sock);
  if (s.type !== 'stream') throw new TypeError(`A stream socket was expected, got a ${s.type} socket`);
  if (s.closed) throw new TypeError('sock is closed');
  return s;
}

function wouldBlock(r: number): boolean {
  return r === -EAGAIN || r === -EINTR;
}

function osError(r: number, syscall: string, address?: { address?: string; port?: number; path?: string }): Error {
  return toConnectionError(errnoError(r, syscall, address)) as Error;
}

export class SelectorEventLoop
  extends BaseSocketLoop<Socket, SelectorSocketTransport, SelectorDatagramTransport, Socket>
  implements SocketTransportLoop {
  /** @internal */ readonly _selector: BaseSelector;
  private readonly keys: Map<number, { events: number; data: unknown }>;
  private readonly selfPipe: WakeupFd;
  /**
   * The selector may have events: its host watcher fired, a registration gained an event, or
   * the last poll found some (level-triggered: they tend to persist, and more follow). Only
   * then does ioPoll pay the syscall, or once MAX_POLL_GAP_MS or MAX_SKIPPED_POLLS have
   * passed: the watcher runs only when Node's loop turns, once per host slice under load.
   */
  private pollDue = true;
  private lastPollFound = false;
  /** the loop's clock in ms (core's monotonicMs); a double from the start, as BaseEventLoop's clock fields. */
  private polledAt = -Infinity;
  /** Until when (the loop's clock, ms) polls are at most HOT_SKIPPED_POLLS apart: see HOT_WINDOW_MS. */
  private hotUntil = -Infinity;
  private skippedPolls = 0;
  /** Events idle() harvested for the next ioPoll. */
  private harvested = 0;
  /** Idle look-aheads still to skip, and how many the last miss skipped (doubles per miss). */
  private lookAheadSkips = 0;
  private lookAheadBackoff = 0;
  /**
   * The sockets of stream transports this loop made or accepted: Node's loop polls each
   * itself (a uv_poll per fd) and writes what it reported into `hostReports`, so a wake-up
   * costs no epoll_wait of ours (the selector's fd nested in Node's epoll costs one per
   * wake-up) and no call into the addon (`take` only for what did not fit there).
   * A socket the user gave may be one Node's loop already watches (libuv allows one poll
   * per fd), so those stay on the selector. A hosted socket's registration is its transport,
   * found by fd in an array (smaller than a Map's entry per connection).
   */
  private readonly hosted = new PollSet();
  private readonly hostedByFd: (FdRegistration | undefined)[] = [];
  private hostedCount = 0;
  private readonly givenSockets = new WeakSet<Socket>();
  private hostReported = false;
  /** PollSet's reports: [0] pairs written from [2] on, [1] pairs left for take() (see PollSet.watch). */
  private readonly hostReports = new Int32Array(2 + 2 * 256);
  private hostOut = new Int32Array(2 * 256);
  /** @internal The hosted sockets a wake-up found readable, read in one call (see ReadAhead). */
  readonly _readAhead = new ReadAhead();
  /** @internal how this loop learns that its children exited (a pidfd each, or SIGCHLD) */
  readonly _childWatcher: ChildWatcher = new ChildWatcher(this);

  constructor(selector: BaseSelector | null = null) {
    super();
    if (selector !== null && !(selector instanceof BaseSelector)) {
      throw new TypeError(`selector must be a BaseSelector (EpollSelector, PollSelector, ...), got ${describe(selector)}`);
    }
    this._selector = selector ?? new DefaultSelector();
    const keys = this._selector.getMap();
    if (keys === null) throw new TypeError('selector is closed');
    this.keys = keys;
    // The self-pipe: signalling it wakes a loop idling on its selector, from any thread.
    this.selfPipe = new WakeupFd();
    this._setReader(this.selfPipe.fd, new Handle(() => this.selfPipe.drain(), [], this));
  }

  // ---- the backend contract ----
  override ioPoll(): void {
    // Node's loop turned and reported its hosted sockets: that is this iteration's poll of them.
    const hostTurned = this.hostReported;
    if (hostTurned) {
      this.hostReported = false;
      this.takeHosted();
    }
    const now = this.iterationScheduledAt;
    const skips = now < this.hotUntil ? HOT_SKIPPED_POLLS : MAX_SKIPPED_POLLS;
    if (!this.pollDue && (hostTurned || (this.skippedPolls < skips && now - this.polledAt < MAX_POLL_GAP_MS))) {
      // After a host turn the selector's watcher had its chance too: nothing there is new.
      if (hostTurned) {
        this.polledAt = this.iterationScheduledAt;
        this.skippedPolls = 0;
      } else {
        this.skippedPolls++;
      }
      return;
    }
    // Polling only because the bound ran out: Node's loop has not turned, so hosted sockets are polled here too.
    const bounded = !this.pollDue;
    const selector = this._selector;
    const n = this.harvested > 0 ? this.harvested : selector._poll(0);
    this.harvested = 0;
    this.skippedPolls = 0;
    this.polledAt = this.iterationScheduledAt;
    this.pollDue = this.lastPollFound = n > 0;
    if (bounded && this.hostedCount > 0 && this.pollHosted() > 0) this.hotUntil = now + HOT_WINDOW_MS;
    if (n === 0) return;
    this.hotUntil = now + HOT_WINDOW_MS;
    const out = selector._out;
    const keys = this.keys;
    for (let i = 0; i < 2 * n; i += 2) {
      const fd = out[i]!;
      const key = keys.get(fd);
      if (key === undefined) continue;
      const handlers = key.data;
      if (!(handlers instanceof FdHandlers)) continue; // registered on the selector directly, not through the loop
      this.queueReady(fd, handlers, out[i + 1]! & key.events);
    }
  }

  /** Queue the reader and/or writer of a ready fd (a cancelled one unregisters instead). */
  private queueReady(fd: number, handlers: FdRegistration, events: number): void {
    if (events & EVENT_READ) {
      const reader = handlers.reader;
      if (reader !== null) {
        if (reader._cancelled) this.setHandler(fd, EVENT_READ, null, false);
        else this._addCallback(reader);
      }
    }
    if (events & EVENT_WRITE) {
      const writer = handlers.writer;
      if (writer !== null) {
        if (writer._cancelled) this.setHandler(fd, EVENT_WRITE, null, false);
        else this._addCallback(writer);
      }
    }
  }

  /** What Node's loop reported for the hosted sockets since the last look. */
  private takeHosted(): void {
    const reports = this.hostReports;
    const written = reports[0]!;
    reports[0] = 0; // read now: Node's loop writes later reports from the start
    let n = written;
    this.queueHosted(reports, 2, written);
    if (reports[1]! > 0) {
      const taken = this.hosted.take(this.hostPairs());
      // Several host turns between two iterations may report more than fits: the rest next iteration.
      if (2 * taken === this.hostOut.length) this.hostReported = true;
      this.queueHosted(this.hostOut, 0, taken);
      n += taken;
    }
    if (n > 0) this.hotUntil = this.iterationScheduledAt + HOT_WINDOW_MS;
  }

  /** poll(2) the hosted sockets now, for a busy loop whose host has not turned for a while. */
  private pollHosted(): number {
    const n = this.hosted.wait(0, this.hostPairs());
    this.queueHosted(this.hostOut, 0, n);
    return n;
  }

  /** The pairs buffer for the hosted sockets, room for one report of each. */
  private hostPairs(): Int32Array {
    if (this.hostOut.length < 2 * this.hostedCount) this.hostOut = new Int32Array(2 * this.hostedCount);
    return this.hostOut;
  }

  /** Queue the handlers of `n` (fd, events) pairs of `pairs`, from index `from`. */
  private queueHosted(pairs: Int32Array, from: number, n: number): void {
    // Several readable sockets are read now, in one call into the addon (each transport delivers its read when it runs); one reads itself.
    const ahead = n > 1 ? this._readAhead : null;
    for (let i = from; i < from + 2 * n; i += 2) {
      const handlers = this.hostedByFd[pairs[i]!];
      if (handlers === undefined) continue;
      const events = pairs[i + 1]!;
      // queueReady skips an event whose handler is unset: that is the hosted registration's mask.
      this.queueReady(pairs[i]!, handlers, events);
      // A hosted registration is its transport, and its reader is itself while it reads.
      if (ahead !== null && events & EVENT_READ && handlers.reader === (handlers as unknown)) ahead.queue(handlers as SelectorSocketTransport);
    }
    ahead?.read();
  }

  override ioStart(wake: () => void): void {
    this.pollDue = true; // what became ready while the loop was stopped
    this._selector.watch(() => {
      this.pollDue = true;
      wake();
    });
    try {
      this.hosted.watch(this.hostTurned, this.hostReports);
    } catch (error) {
      this._selector.unwatch();
      throw error;
    }
  }

  /** The hosted PollSet's onReady: a libuv callback in runForever's async context (ioStart watched it). */
  private readonly hostTurned = (): void => {
    this.hostReported = true;
    this._wakeFromHost();
  };

  override ioStop(): void {
    this._selector.unwatch();
    this.hosted.unwatch();
    this.hostReported = false;
    this.harvested = 0;
    this.lastPollFound = false;
  }

  /** The child watcher, the self-pipe and the selector (close() closed the transports). */
  override ioClose(): void {
    this._childWatcher.close();
    this._setReader(this.selfPipe.fd, null);
    this.selfPipe.close();
    this._selector.close();
    this.hosted.close();
  }

  /**
   * Before sleeping after an iteration that did I/O, look once more: under load more events
   * arrived meanwhile, and going on at once (they wait in `harvested` for the next ioPoll)
   * saves a round trip through Node's loop. A look that finds nothing is a wasted syscall
   * (a ping-pong connection's next request comes a round trip later, every time), so after
   * a miss the next 1, 2, 4 ... MAX_LOOK_AHEAD_SKIPS looks are skipped; a hit resets that.
   * With no timer due, the selector's watcher alone wakes the loop: no host timer to arm.
   */
  override idle(deadline: number | null): void {
    if (this.lastPollFound) {
      this.lastPollFound = false;
      if (this.lookAheadSkips > 0) {
        this.lookAheadSkips--;
      } else {
        this.harvested = this._selector._poll(0);
        if (this.harvested > 0) {
          this.lookAheadBackoff = 0;
          this.pollDue = true;
          this.endIdle();
          return;
        }
        this.lookAheadSkips = this.lookAheadBackoff = Math.min(2 * this.lookAheadBackoff || 1, MAX_LOOK_AHEAD_SKIPS);
      }
    }
    if (deadline !== null) super.idle(deadline);
  }

  /** callSoon plus a signal on the self-pipe, as asyncio's _write_to_self. */
  override callSoonThreadsafe<A extends unknown[]>(callback: (...args: A) => unknown, ...args: A): Handle {
    const handle = super.callSoonThreadsafe(callback, ...args);
    this.selfPipe.signal();
    return handle;
  }

  // ---- readiness ----
  /** Call `callback(...args)` whenever `fd` is readable. Replaces an earlier reader. */
  override addReader<A extends unknown[]>(fd: FileObject, callback: (...args: A) => unknown, ...args: A): void {
    this.checkClosed();
    const n = this.userFd(fd);
    checkFunction(callback, 'callback');
    this.setHandler(n, EVENT_READ, this._userHandle(callback, args), true);
  }

  /** Stop watching `fd` for reading; true when a reader was registered. */
  override removeReader(fd: FileObject): boolean {
    if (this.isClosed()) return false;
    return this.setHandler(this.userFd(fd), EVENT_READ, null, true);
  }

  /** Call `callback(...args)` whenever `fd` is writable. Replaces an earlier writer. */
  override addWriter<A extends unknown[]>(fd: FileObject, callback: (...args: A) => unknown, ...args: A): void {
    this.checkClosed();
    const n = this.userFd(fd);
    checkFunction(callback, 'callback');
    this.setHandler(n, EVENT_WRITE, this._userHandle(callback, args), true);
  }

  /** Stop watching `fd` for writing; true when a writer was registered. */
  override removeWriter(fd: FileObject): boolean {
    if (this.isClosed()) return false;
    return this.setHandler(this.userFd(fd), EVENT_WRITE, null, true);
  }

  /** @internal Set or clear (null) the reader of `fd`; the caller keeps its handle usable (not cancelled). */
  _setReader(fd: number, handle: ReadinessCallback | null): boolean {
    return this.setHandler(fd, EVENT_READ, handle, false);
  }

  /** @internal Set or clear (null) the writer of `fd`; the caller keeps its handle usable (not cancelled). */
  _setWriter(fd: number, handle: Handle | null): boolean {
    return this.setHandler(fd, EVENT_WRITE, handle, false);
  }

  /** @internal A stream transport on a socket this loop made or accepted: Node's loop will watch its fd (see `hosted`). */
  _hostTransport(fd: number, registration: FdRegistration): void {
    keepReceivedMemory();
    const byFd = this.hostedByFd;
    // Grown one slot at a time: an index far past the end would turn the array into a dictionary.
    while (byFd.length <= fd) byFd.push(undefined);
    byFd[fd] = registration;
    this.hostedCount++;
  }

  /** @internal A transport released its fd: drop the registration before the fd is closed. */
  override _transportClosed(fd: number): void {
    super._transportClosed(fd);
    const hosted = this.hostedByFd[fd];
    if (hosted !== undefined) {
      this.hostedByFd[fd] = undefined;
      this.hostedCount--;
      if (hostedEvents(hosted) !== 0) this.hosted.remove(fd);
    } else if (this.keys.has(fd)) {
      this._selector.unregister(fd);
    }
  }

  /**
   * One registration per fd shared by read and write (asyncio's _add_reader/_remove_reader).
   * `cancel`: the replaced or removed handle is cancelled (user callbacks); transports reuse theirs.
   */
  private setHandler(fd: number, event: number, handle: ReadinessCallback | null, cancel: boolean): boolean {
    const hosted = this.hostedByFd[fd];
    if (hosted !== undefined) return this.setHostedHandler(fd, hosted, event, handle);
    const key = this.keys.get(fd);
    if (handle === null) {
      if (key === undefined) return false;
      const handlers = key.data as FdHandlers;
      const previous = event === EVENT_READ ? handlers.reader : handlers.writer;
      if (event === EVENT_READ) handlers.reader = null;
      else handlers.writer = null;
      const events = key.events & ~event;
      if (events === 0) this._selector.unregister(fd);
      else if (events !== key.events) this._selector.modify(fd, events, handlers);
      if (previous === null) return false;
      if (cancel && previous instanceof Handle) previous.cancel();
      return true;
    }
    if (key === undefined) {
      if (event === EVENT_READ && fd !== this.selfPipe.fd) keepReceivedMemory();
      const handlers = new FdHandlers();
      if (event === EVENT_READ) handlers.reader = handle;
      else handlers.writer = handle;
      this._selector.register(fd, event, handlers);
      this.pollDue = true; // the fd may be ready already: the next iteration looks
      return false;
    }
    const handlers = key.data as FdHandlers;
    const previous = event === EVENT_READ ? handlers.reader : handlers.writer;
    if (previous === handle) return true;
    if (event === EVENT_READ) handlers.reader = handle;
    else handlers.writer = handle;
    if ((key.events & event) === 0) {
      this._selector.modify(fd, key.events | event, handlers);
      this.pollDue = true;
    }
    if (cancel && previous instanceof Handle) previous.cancel();
    return previous !== null;
  }

  /**
   * A hosted socket's reader or writer (transports only: their handles are never cancelled).
   * Its readiness shows once Node's loop turns, or at the next bounded poll of a busy loop.
   */
  private setHostedHandler(fd: number, handlers: FdRegistration, event: number, handle: ReadinessCallback | null): boolean {
    const previous = event === EVENT_READ ? handlers.reader : handlers.writer;
    const before = hostedEvents(handlers);
    if (event === EVENT_READ) handlers.reader = handle;
    else handlers.writer = handle;
    const events = hostedEvents(handlers);
    if (events !== before) {
      if (before === 0) this.hosted.add(fd, events);
      else if (events === 0) this.hosted.remove(fd);
      else this.hosted.modify(fd, events);
    }
    return previous !== null;
  }

  private userFd(fileobj: FileObject): number {
    const fd = fileobjToFd(fileobj);
    const transport = this._transports.get(fd);
    if (transport !== undefined) throw new RuntimeError(`File descriptor ${fd} is used by transport ${transport}`);
    return fd;
  }

  // ---- sock*: the syscall first, readiness only when it would block ----
  sockRecv(sock: Socket, n: number): Promise<Buffer> {
    return _ioWaitingCall(async (call) => {
      checkSock(sock);
      checkByteCount(n, 'n');
      const buf = Buffer.allocUnsafe(n);
      const got = await this.recvInto(sock, buf, call);
      return buf.subarray(0, got);
    });
  }

  sockRecvInto(sock: Socket, buf: ArrayBufferView): Promise<number> {
    return _ioWaitingCall((call) => this.recvInto(sock, buf, call));
  }

  private async recvInto(sock: Socket, buf: ArrayBufferView, call: _WaitingCall): Promise<number> {
    checkSock(sock);
    if (!ArrayBuffer.isView(buf)) throw new TypeError(`buf must be a Uint8Array or Buffer, got ${describe(buf)}`);
    this.checkClosed();
    const r = sock.tryRecvInto(buf);
    if (r >= 0) return r;
    if (!wouldBlock(r)) throw osError(r, 'recv');
    return await this.whenReady<number>(call, sock, EVENT_READ, (fut) => {
      const r2 = sock.tryRecvInto(buf);
      if (r2 >= 0) fut.setResult(r2);
      else if (!wouldBlock(r2)) fut.setException(osError(r2, 'recv'));
    });
  }

  sockSendall(sock: Socket, data: ArrayBufferView): Promise<void> {
    return _ioWaitingCall((call) => this.sendall(sock, data, call));
  }

  private async sendall(sock: Socket, data: ArrayBufferView, call: _WaitingCall): Promise<void> {
    checkSock(sock);
    if (!ArrayBuffer.isView(data)) throw new TypeError(`data must be a Uint8Array or Buffer, got ${describe(data)}`);
    this.checkClosed();
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    let sent = 0;
    // Returns true when done; throws on error.
    const push = (): boolean => {
      while (sent < bytes.length) {
        const r = sock.trySend(bytes, sent);
        if (r < 0) {
          if (wouldBlock(r)) return false;
          throw osError(r, 'send');
        }
        sent += r;
      }
      return true;
    };
    if (push()) return;
    await this.whenReady<void>(call, sock, EVENT_WRITE, (fut) => {
      try {
        if (push()) fut.setResult(undefined);
      } catch (error) {
        fut.setException(error);
      }
    });
  }

  /** Receive one datagram of up to `bufsize` bytes: `[data, sender address]` (asyncio 3.11's sock_recvfrom). */
  sockRecvfrom(sock: Socket, bufsize: number): Promise<[Buffer, AddrOut]> {
    return _ioWaitingCall(async (call) => {
      checkSock(sock);
      checkByteCount(bufsize, 'bufsize');
      const buf = Buffer.allocUnsafe(bufsize);
      const [n, address] = await this.recvfromInto(sock, buf, 0, call);
      return [buf.subarray(0, n), address];
    });
  }

  /** Receive one datagram into `buf` (its first `nbytes`; 0: all of it): `[bytes, sender address]`. */
  sockRecvfromInto(sock: Socket, buf: ArrayBufferView, nbytes = 0): Promise<[number, AddrOut]> {
    return _ioWaitingCall((call) => this.recvfromInto(sock, buf, nbytes, call));
  }

  private async recvfromInto(sock: Socket, buf: ArrayBufferView, nbytes: number, call: _WaitingCall): Promise<[number, AddrOut]> {
    checkSock(sock);
    if (!ArrayBuffer.isView(buf)) throw new TypeError(`buf must be a Uint8Array or Buffer, got ${describe(buf)}`);
    const length = checkNbytes(nbytes, buf.byteLength);
    this.checkClosed();
    const from: AddrOut = {};
    const r = sock.tryRecvfrom(buf, 0, length, from);
    if (r >= 0) return [r, from];
    if (!wouldBlock(r)) throw osError(r, 'recvfrom');
    return await this.whenReady<[number, AddrOut]>(call, sock, EVENT_READ, (fut) => {
      const r2 = sock.tryRecvfrom(buf, 0, length, from);
      if (r2 >= 0) fut.setResult([r2, from]);
      else if (!wouldBlock(r2)) fut.setException(osError(r2, 'recvfrom'));
    });
  }

  /** Send `data` as one datagram to `address`: resolves to the bytes sent (asyncio 3.11's sock_sendto). */
  sockSendto(sock: Socket, data: ArrayBufferView, address: unknown): Promise<number> {
    return _ioWaitingCall((call) => this.sendto(sock, data, address, call));
  }

  private async sendto(sock: Socket, data: ArrayBufferView, address: unknown, call: _WaitingCall): Promise<number> {
    checkSock(sock);
    if (!ArrayBuffer.isView(data)) throw new TypeError(`data must be a Uint8Array or Buffer, got ${describe(data)}`);
    this.checkClosed();
    const target = await targetOf(sock, address);
    const r = sock.trySendto(data, target);
    if (r >= 0) return r;
    if (!wouldBlock(r)) throw osError(r, 'sendto', target);
    return await this.whenReady<number>(call, sock, EVENT_WRITE, (fut) => {
      const r2 = sock.trySendto(data, target);
      if (r2 >= 0) fut.setResult(r2);
      else if (!wouldBlock(r2)) fut.setException(osError(r2, 'sendto', target));
    });
  }

  /** @internal sockSendfile()'s native path: sendfile(2) on the user's stream socket. */
  override async _sockSendfileNative(sock: unknown, fd: number, offset: number, count: number | null): Promise<number> {
    const s = checkStreamSock(sock);
    const sockFd = this.userFd(s);
    const size = regularFileSize(fd);
    const fut = this.createFuture<number>();
    runSendfile(fut, {
      send: (at, n) => s.trySendfile(fd, at, n),
      whenWritable: (again) => this.setHandler(sockFd, EVENT_WRITE, again === null ? null : new Handle(again, [], this), true),
    }, offset, count, size);
    return await fut;
  }

  /**
   * @internal sendfile()'s native path on a socket transport (asyncio's
   * _SelectorSocketTransport): reading paused, what it buffered flushed first, write()
   * refused until the file is sent.
   */
  override async _sendfileNative(transport: BaseStreamTransport, fd: number, offset: number, count: number | null): Promise<number> {
    if (!(transport instanceof SelectorSocketTransport)) throw new SendfileNotAvailableError('sendfile syscall is not supported');
    const size = regularFileSize(fd);
    const resumeReading = transport.isReading();
    transport.pauseReading();
    try {
      await transport._beginSendfile();
      const fut = this.createFuture<number>();
      runSendfile(fut, {
        send: (at, n) => transport._trySendfile(fd, at, n),
        whenWritable: (again) => transport._whenWritable(again),
      }, offset, count, size);
      return await fut;
    } finally {
      transport._endSendfile();
      if (resumeReading && !transport.isClosing()) transport.resumeReading();
    }
  }

  sockConnect(sock: Socket, address: unknown): Promise<void> {
    return _ioWaitingCall((call) => this.connect(sock, address, call));
  }

  private async connect(sock: Socket, address: unknown, call: _WaitingCall): Promise<void> {
    checkSock(sock);
    this.checkClosed();
    const target = await targetOf(sock, address);
    const r = sock.tryConnect(target);
    if (r === 0) return;
    if (r !== -EINPROGRESS && !wouldBlock(r)) throw osError(r, 'connect', target);
    await this.whenReady<void>(call, sock, EVENT_WRITE, (fut) => {
      const err = sock.getError();
      if (err === 0) fut.setResult(undefined);
      else if (err !== -EINPROGRESS && !wouldBlock(err)) fut.setException(osError(err, 'connect', target));
    });
  }

  /** Accept a connection on `sock` (a Socket, checked); resolves to `[socket, address]`, the socket of `sock`'s kind. */
  sockAccept<S>(sock: S): Promise<[S, unknown]> {
    return _ioWaitingCall((call) => this.accept(sock as Socket, call)) as Promise<[S, unknown]>;
  }

  private async accept(sock: Socket, call: _WaitingCall): Promise<[Socket, unknown]> {
    checkSock(sock);
    this.checkClosed();
    const tryAccept = (): [Socket, unknown] | null => {
      try {
        return sock.accept();
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (code === 'EAGAIN' || code === 'EINTR') return null;
        throw toConnectionError(error);
      }
    };
    const accepted = tryAccept();
    if (accepted !== null) return accepted;
    return await this.whenReady<[Socket, unknown]>(call, sock, EVENT_READ, (fut) => {
      try {
        const got = tryAccept();
        if (got !== null) fut.setResult(got);
      } catch (error) {
        fut.setException(error);
      }
    });
  }

  /**
   * Wait until `sock` is ready for `event`, calling `attempt` on each readiness until it
   * settles the future. Done or cancelled, the registration goes at once (asyncio's
   * _sock_read_done, which asyncio runs before the awaiting task resumes): the next operation
   * on the fd, or a socket given the number of one closed after a cancel, finds it free.
   * The future is `call`'s waiter: cancelling a Future that wraps the call's promise cancels it.
   */
  private whenReady<T>(call: _WaitingCall, sock: Socket, event: number, attempt: (fut: Future<T>) => void): Future<T> {
    call.check();
    const fd = this.userFd(sock);
    const keyed = this.keys.get(fd);
    const busy = keyed !== undefined && (event === EVENT_READ ? (keyed.data as FdHandlers).reader : (keyed.data as FdHandlers).writer);
    if (busy) throw new RuntimeError(`another operation is already waiting for ${event === EVENT_READ ? 'reading' : 'writing'} on fd ${fd}`);
    const fut = new ReadinessFuture<T>(this);
    const handle = new Handle(() => {
      if (fut.done()) return;
      attempt(fut);
      if (fut.done()) fut._release();
    }, [], this);
    fut._release = () => {
      fut._release = noRelease;
      const key = this.keys.get(fd);
      const current = key === undefined ? null : event === EVENT_READ ? (key.data as FdHandlers).reader : (key.data as FdHandlers).writer;
      if (current === handle && !this.isClosed()) this.setHandler(fd, event, null, true);
    };
    this.setHandler(fd, event, handle, true);
    call.waiter = fut;
    return fut;
  }

  // ---- subprocesses and pipes: native children, readiness pipes (core's hooks) ----
  /** @internal A child started with posix_spawn; its exit seen through a pidfd (or SIGCHLD). */
  override _makeSubprocessTransport(protocol: SubprocessProtocol, spec: SubprocessSpec, waiter: Future<void>): UnixSubprocessTransport {
    return new UnixSubprocessTransport(this, protocol, spec, waiter);
  }

  /**
   * @internal A pipe transport on `fd`, owned by the loop as a socket's is (addReader refuses
   * the fd; loop.close() closes it). The fd must be a pipe, socket or character device, as
   * asyncio requires; it is made non-blocking and closed with the transport.
   */
  override _makePipeTransport(direction: PipeDirection, fd: number, protocol: BaseProtocol, waiter: Future<void>): Transport {
    const stat = fstatSync(fd);
    if (!stat.isFIFO() && !stat.isSocket() && !stat.isCharacterDevice()) {
      throw new TypeError(`pipe must be a pipe, socket or character device (fd ${fd} is not)`);
    }
    if (this._transports.has(fd)) throw new RuntimeError(`File descriptor ${fd} is used by transport ${this._transports.get(fd)}`);
    setNonblocking(fd);
    const transport = new SelectorPipeTransport(this, fd, protocol, waiter, direction);
    this._transports.set(fd, transport);
    return transport;
  }

  // ---- serving (ServingLoop) ----
  /** @internal listen, then accept up to `backlog` connections per readiness event. */
  _startServing(server: Server<Socket>, sock: Socket): void {
    sock.listen(server._backlog);
    this._setReader(sock.fileno(), new Handle(this.acceptConnections, [server, sock], this));
  }

  /** @internal */
  _stopServing(sock: Socket): void {
    if (!this.isClosed()) this._setReader(sock.fileno(), null);
    sock.close();
  }

  private readonly acceptConnections = (server: Server<Socket>, sock: Socket): void => {
    for (let i = 0; i < Math.max(server._backlog, 1); i++) {
      let conn: Socket;
      try {
        [conn] = sock.accept();
      } catch (error) {
        const errno = -((error as { errno?: number }).errno ?? 0);
        if (errno === EAGAIN || errno === EINTR || errno === ECONNABORTED) return;
        if (errno === EMFILE || errno === ENFILE || errno === ENOBUFS || errno === ENOMEM) {
          // Out of fds or memory: stop accepting for a while rather than spin (asyncio's).
          this.callExceptionHandler({ message: 'socket.accept() out of system resource', exception: error, socket: sock });
          this._setReader(sock.fileno(), null);
          this.callLater(ACCEPT_RETRY_DELAY, () => {
            if (server.isServing() && !sock.closed) this._setReader(sock.fileno(), new Handle(this.acceptConnections, [server, sock], this));
          });
          return;
        }
        throw error;
      }
      this._connectionAccepted(server, conn);
    }
  };

  // ---- what differs in the network methods (core's BaseSocketLoop hooks) ----
  protected _newStreamSocket(family: Family | 'unix'): Socket {
    return makeSocket(family, 'stream');
  }

  protected async _connect(sock: Socket, address: InetSockAddr | { path: string }): Promise<void> {
    await this.sockConnect(sock, address);
  }

  protected _givenStreamSocket(sock: unknown): Socket {
    const given = checkStreamSock(sock);
    this.givenSockets.add(given);
    return given;
  }

  protected _givenListener(sock: unknown): Socket {
    return checkStreamSock(sock);
  }

  protected _checkReusePort(): void {
    if (SO_REUSEPORT < 0) throw new TypeError('reusePort is not supported on this platform');
  }

  /** A bound socket; null for '::' where IPv6 is unavailable (the IPv4 socket still serves). */
  protected _listenInet(address: string | null, family: Family | null, port: number, _backlog: number, options: ServerOptions<Socket>): Socket | null {
    // Both are set here: core's _anyAddresses (not overridden) names every interface it listens on.
    address = address!;
    let sock: Socket;
    try {
      sock = makeSocket(family!, 'stream');
    } catch (error) {
      if (address === '::' && (error as { code?: unknown }).code === 'EAFNOSUPPORT') return null;
      throw error;
    }
    try {
      // POSIX servers reuse the address by default, so a restart does not hit TIME_WAIT.
      if (options.reuseAddress ?? true) sock.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
      if (options.reusePort) sock.setsockopt(SOL_SOCKET, SO_REUSEPORT, 1);
      // Accepted connections inherit it from the listener.
      if (options.keepAlive) sock.setsockopt(SOL_SOCKET, SO_KEEPALIVE, 1);
      // As asyncio: an IPv6 listener does not also take IPv4 connections.
      if (family === 'inet6') sock.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 1);
      sock.bind({ address, port });
    } catch (error) {
      sock.close();
      if (address === '::' && (error as { code?: unknown }).code === 'EADDRNOTAVAIL') return null;
      const e = error as Error;
      e.message = `error while attempting to bind on address ${familyOfAddress(address) === 'inet6' ? `[${address}]` : address}:${port}: ${e.message}`;
      throw error;
    }
    return sock;
  }

  protected _listenUnix(path: string): Socket {
    const sock = makeSocket('unix', 'stream');
    try {
      sock.bind(path);
    } catch (error) {
      sock.close();
      throw error;
    }
    return sock;
  }

  protected _givenDatagramSocket(given: unknown): [Socket, boolean] {
    const sock = checkSock(given);
    if (sock.type !== 'dgram') throw new TypeError(`A datagram socket was expected, got a ${sock.type} socket`);
    if (sock.closed) throw new TypeError('sock is closed');
    try {
      sock.getpeername();
      return [sock, true];
    } catch {
      return [sock, false];
    }
  }

  protected async _openDatagram(family: Family, local: InetSockAddr | null, remote: InetSockAddr | null, options: DatagramOptions<Socket>): Promise<Socket> {
    const sock = makeSocket(family, 'dgram');
    try {
      if (options.reusePort) sock.setsockopt(SOL_SOCKET, SO_REUSEPORT, 1);
      if (options.allowBroadcast) sock.setsockopt(SOL_SOCKET, SO_BROADCAST, 1);
      if (local !== null) sock.bind(local);
      if (remote !== null) await this.sockConnect(sock, remote);
    } catch (error) {
      sock.close();
      throw error;
    }
    return sock;
  }

  protected _streamTransport(sock: Socket, protocol: BaseProtocol, waiter: Future<void> | null, server: Server<Socket> | null): SelectorSocketTransport {
    return new SelectorSocketTransport(this, sock, protocol, waiter, server, !this.givenSockets.has(sock));
  }

  protected _datagramTransport(sock: Socket, protocol: DatagramProtocol, connected: boolean, waiter: Future<void>): SelectorDatagramTransport {
    return new SelectorDatagramTransport(this, sock, protocol, connected, waiter);
  }

  /** Transports are owned by fd: addReader and friends refuse those fds. */
  protected override _transportKey(sock: Socket): number {
    return sock.fileno();
  }
}
