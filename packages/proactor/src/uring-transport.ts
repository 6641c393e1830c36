/**
 * UringStreamTransport: UringEventLoop's stream transport. It takes its socket's ring
 * completions itself, with no Future per operation (what `_ringCompleted` is for):
 *
 * - Reading: one multishot receive into the ring's receive pool stays armed while reading
 *   (kernel 6.17+): one SQE, then a completion per chunk, until it took MULTISHOT_LIMIT
 *   bytes; `_run` arms the next after delivering, so the kernel never takes more than that
 *   ahead of the protocol (a kernel without the cap gets single pooled receives). The
 *   proactor's harvest has already
 *   copied each chunk into a slab that is never reused (a protocol may keep its bytes) and
 *   given the pool buffer back. Where the kernel has no multishot receive, a single pooled
 *   receive is posted again after each completion; where it has no pool either, a receive
 *   into a buffer of the transport's own (made on first use). A receive that ends with the
 *   pool dry (-ENOBUFS) is posted again once the harvest gave buffers back.
 * - Direct reads, for large messages (and a new transport's first reads, so a server of
 *   large messages never uses the pool): once one turn delivered `proactor._directReadFrom`
 *   bytes (8 KiB), the pooled receive is cancelled and, after its last completion, Node's
 *   loop polls the socket for readability instead (the proactor's `_watchReadable`: a
 *   uv_poll, as the selector loop hosts its sockets; a ring poll would complete through task
 *   work, which interrupts a sleeping epoll_wait and costs a second one per wake-up); each
 *   report runs recv syscalls straight into the slab (or a BufferedProtocol's buffer), as the
 *   selector does. The copy out of the pool costs more than that syscall above a few KiB.
 *   A round reads until a short read; when one select() reports two or more sockets, the
 *   proactor reads them in one call into the addon instead (its read-ahead), and each
 *   transport delivers its read from `_run` as a pooled chunk (`_readAhead`).
 *   Eight rounds in a row of under 4 KiB switch back to
 *   the pool once several sockets have news at a time (`busyElsewhere`); one connection's
 *   small messages stay direct, and a transport on the pool whose last eight rounds came
 *   alone (the load fell to one connection) goes back to direct reads. Only one of the two
 *   (the receive or the readability poll) is ever armed.
 * - The transport notes each completion and queues itself on the loop once per harvest;
 *   its `_run` delivers the chunks, then EOF or the error, in order, in the same iteration.
 * - pauseReading cancels the receive; what completes before the cancel lands is held by
 *   core until resumeReading. No second receive is posted until the first's last
 *   completion (two on one socket could interleave chunks). Core delivers what it holds
 *   from a callback after resumeReading, so a direct read that runs first hands its bytes
 *   to core's queue behind them, even for a BufferedProtocol (its buffer would take them
 *   ahead of the held ones: asyncio's SSLProtocol then saw "bad record mac").
 * - Writing: the non-blocking send syscall at once, as the selector's transport (loopback
 *   TCP nearly always takes it whole); what the kernel leaves is buffered by core and a
 *   one-shot ring poll for writability sends it when there is room.
 * - Closing: the readability poll stops, and the armed receive and write poll are cancelled,
 *   before the socket closes (the ring holds the file until they complete; their last
 *   completions free their ring slots and find the transport closed).
 */
import { BaseStreamTransport, NodeBuffer, receiveSlab, socketExtra, toConnectionError, type AbstractEventLoop, type BaseProtocol, type ConnectionOwner, type Future } from '@loopkit/core';
import { adviseHugePagesForRead, EAGAIN, EINTR, errnoError, SHUT_WR, Uring, WRITABLE } from '@loopkit/uv';
import { addressOf, EXTRA_NOT_READ, keptAddress, type KeptAddress } from './kept-address.js';
import type { NetSocket } from './net-socket.js';
import type { ReleaseHook } from './transports.js';
import type { ReadableSink, RingSink, UringProactor, UringSocket } from './uring-proactor.js';

const ECANCELED = 125;
const EINVAL = 22;
const ENOBUFS = 105;
const ENOSYS = 38;
/**
 * The most one multishot receive takes off the socket before it ends and `_run` arms the
 * next (after delivering): what a reader that pauses may still be handed, as the
 * selector's 256 KiB read. Uncapped, the kernel drains the socket into the pool as fast as
 * the peer writes (megabytes between two harvests), and the peer is never throttled.
 */
const MULTISHOT_LIMIT = 256 * 1024;
/** The transport's own receive buffer (kernels without a receive pool). */
const OWN_BUFFER_SIZE = 64 * 1024;
/** `end` while the stream has not ended. */
const OPEN = 1;
/** `end` once a harvest dropped received bytes, having no slab for them: the proactor's `_slabFailure` fails the transport. */
const LOST = 2;
/** The least room a direct receive into the slab asks for (the selector's). */
const MIN_DIRECT_READ = 64 * 1024;
/**
 * Direct reads go back to the pool after this many rounds in a row that each read less than
 * `SMALL_ROUND` bytes, once a select() finds two or more sockets readable or a harvest brings
 * two or more completions (`proactor._poolFromReads`): with several connections busy, pooled
 * receives save the recv syscall per message and their wake-up serves the batch; with one, a ring completion's
 * wake-up costs more than the syscall (it interrupts Node's sleeping epoll_wait, which then
 * polls again: bench/README.md, "Session 15 (s15-uring)").
 */
const SMALL_ROUNDS = 8;
const SMALL_ROUND = 4 * 1024;
/**
 * A transport on the pool goes back to direct reads after this many pooled rounds in a row
 * that came alone (no other socket had news: the harvest brought one completion and the last
 * select found at most one socket readable): the load fell to one connection, whose ring
 * wake-ups cost more than the recv syscall (see SMALL_ROUNDS).
 */
const LONE_ROUNDS = 8;

/**
 * The transport's rarely changed states, bits of one field (`flags`): a field each was 8 bytes
 * of every connection, idle ones included. The receive's cancel was asked for (no new receive
 * until its last completion); the receive in the ring is a multishot one; Node's loop could not
 * poll the socket (see postRecv: reads stay pooled); the stream's end was delivered (no receive
 * is posted again); the socket was closed.
 */
const RECV_CANCELLED = 1;
const RECV_MULTISHOT = 2;
const DIRECT_REFUSED = 4;
const ENDED = 8;
const CLOSED = 16;

export class UringStreamTransport extends BaseStreamTransport implements RingSink, ReadableSink {
  private readonly proactor: UringProactor;
  private readonly sock: UringSocket;
  private readonly fd: number;
  private readonly release: ReleaseHook;
  private reading = false;
  /** The receive in the ring (0: none). */
  private recvId = 0;
  /** RECV_CANCELLED, RECV_MULTISHOT, DIRECT_REFUSED, ENDED, CLOSED. */
  private flags = 0;
  /** Reads are direct: Node's loop polls the socket for readability, then the recv syscall into the slab. */
  private direct = false;
  /** Node's loop polls the socket for this transport's direct reads (the proactor's `_watchReadable`). */
  private pollingReads = false;
  /** Node's loop reported the socket readable since the last `_run`. */
  private readable = false;
  /**
   * Direct-read rounds in a row that read little (see SMALL_ROUNDS), or on the pool, pooled
   * rounds in a row that came alone (see LONE_ROUNDS): one count, as a transport is on one or
   * the other, and switching starts it again.
   */
  private rounds = 0;
  /** The last direct read left room in its buffer: the socket is drained for now. */
  private readShort = false;
  /** The write poll in the ring (0: none). */
  private pollId = 0;
  /**
   * The first chunk received since the last `_run` (most harvests bring one: no array per
   * harvest), and the ones after it, if any.
   */
  private received: Uint8Array | null = null;
  private receivedMore: Uint8Array[] | null = null;
  /** OPEN, 0 once EOF arrived, or the receive's -errno: delivered after the received chunks. */
  private end = OPEN;
  /** The write poll completed: 1 writable, -errno failed, 0 nothing new. */
  private writeNews = 0;
  /** Its ready entry waits (it queues itself once until the entry runs). */
  private queued = false;
  private ownBuffer: Buffer | null = null;
  /**
   * The peer's address as read when the connection was made (kept-address.ts: a server logging
   * its peers in connectionLost must see a reset peer's too), undefined once the extra info is
   * made; that info is made when first asked for, or when the socket closes if nobody asked.
   */
  private peer: KeptAddress;
  private peerPort: number;

  constructor(
    loop: AbstractEventLoop,
    proactor: UringProactor,
    sock: UringSocket,
    protocol: BaseProtocol,
    waiter: Future<void> | null,
    server: ConnectionOwner | null,
    release: ReleaseHook,
  ) {
    super(loop, protocol, EXTRA_NOT_READ, server);
    this.proactor = proactor;
    this.sock = sock;
    [this.peer, this.peerPort] = keptAddress(() => sock.getpeername());
    this.fd = sock.fileno();
    this.release = release;
    this.direct = proactor._startDirect || proactor._directReadFrom === 0;
    this._start(waiter);
  }

  // ---- writing: the syscall at once; a ring poll for room when the kernel left bytes ----
  protected _writeNow(chunks: readonly Uint8Array[]): number {
    const raw = this.sock.raw;
    let r: number;
    // One chunk whole, as the selector's transport sends it: the addon's call without offset and
    // length converts and checks two numbers less (trySend reads no `byteLength` for it either,
    // whose megamorphic load made session 19 pass the length).
    if (chunks.length === 1) r = raw.trySend(chunks[0]!);
    else r = raw.trySendv(chunks);
    if (r >= 0) return r;
    if (r === -EAGAIN || r === -EINTR) return 0;
    throw toConnectionError(errnoError(r, 'send'));
  }

  protected _startWriting(): void {
    if (this.pollId === 0) this.pollWritable();
  }

  protected _stopWriting(): void {
    // The poll completes on its own; its completion finds the buffer empty.
  }

  private pollWritable(): void {
    const id = this.proactor._track(this, this.proactor._ring().poll(this.fd, WRITABLE));
    if (id > 0) {
      this.pollId = id;
    } else {
      this.writeNews = id;
      this.queue();
    }
  }

  // ---- reading ----
  protected _startReading(): void {
    this.reading = true;
    if (this.recvId === 0 && !this.pollingReads && (this.flags & ENDED) === 0 && this.end === OPEN) this.postRecv();
  }

  protected _stopReading(): void {
    this.reading = false;
    this.cancelRecv();
  }

  private postRecv(): void {
    const proactor = this.proactor;
    if (this.direct) {
      try {
        proactor._watchReadable(this.fd, this);
        this.pollingReads = true;
        return;
      } catch {
        // Node's loop polls this fd already (libuv allows one poll per fd: a socket the user
        // gave may be watched elsewhere): it keeps reading through the ring's pool.
        this.direct = false;
        this.flags |= DIRECT_REFUSED;
      }
    }
    const ring = proactor._ring();
    let id = -ENOSYS;
    this.flags &= ~RECV_MULTISHOT;
    if (proactor._pooled) {
      if (proactor._multishot) {
        id = ring.recvMulti(this.fd, MULTISHOT_LIMIT);
        if (id > 0) this.flags |= RECV_MULTISHOT;
      } else {
        id = ring.recvPooled(this.fd, Uring.POOL_BUFFER_SIZE);
      }
      if (id === -ENOSYS) proactor._pooled = false;
    }
    if (id === -ENOSYS) {
      const buf = (this.ownBuffer ??= Buffer.allocUnsafe(OWN_BUFFER_SIZE));
      id = ring.recv(this.fd, buf, 0, buf.length);
    }
    id = proactor._track(this, id);
    if (id > 0) {
      this.recvId = id;
      this.flags &= ~RECV_CANCELLED;
    } else {
      this.end = id;
      this.queue();
    }
  }

  /**
   * @internal Node's loop reported the socket readable (direct reads; from the proactor's
   * select): true when this read may be made ahead with the other sockets of the report
   * (reading into the slab, not reported twice), delivered by `_readAhead`.
   */
  _readableReported(): boolean {
    if ((this.flags & CLOSED) !== 0 || !this.pollingReads || this.readable) return false;
    this.readable = true;
    this.queue();
    return this.reading && !this._closing && this.end === OPEN && !this._readsIntoBuffer();
  }

  /**
   * @internal The read the proactor made ahead for this socket: its bytes are delivered by
   * `_run` as a pooled chunk's (so a pause or close since is handled by core alike), EOF or
   * an error after them; the round counts as readDirect's would.
   */
  _readAhead(data: Buffer | null, r: number): void {
    this.readable = false;
    if (data !== null) this.add(data);
    else if (r !== -EAGAIN && r !== -EINTR && this.end === OPEN) this.end = r; // 0: EOF
    this.noteDirectRound(r > 0 ? r : 0);
  }

  /**
   * @internal A completion of this transport's receive whose bytes the harvest dropped (no
   * slab could be allocated): the chunks noted before go to the protocol, then the transport
   * fails with the allocation's error (`_run`); none after them is delivered.
   */
  _receiveLost(id: number, more: boolean): void {
    if ((this.flags & CLOSED) !== 0 || id !== this.recvId) return;
    if (!more) this.recvId = 0;
    this.end = LOST;
    this.queue();
  }

  /** @internal A completion of this transport's receive or write poll (from the proactor's harvest). */
  _ringCompleted(id: number, res: number, more: boolean, data: Buffer | null): void {
    if ((this.flags & CLOSED) !== 0) return; // the cancels' completions, after close: nothing to deliver
    if (id === this.recvId) {
      if (!more) this.recvId = 0;
      // A pooled chunk (only receives carry one), the first since the last `_run` most often;
      // none after bytes were lost (a gap), the failure is what comes.
      if (data !== null) {
        if (this.end === LOST) return;
        if (this.received === null) this.received = data;
        else this.keep(data);
      } else if (res > 0) this.add(Buffer.from(this.ownBuffer!.subarray(0, res)));
      else if (res === -EINVAL && (this.flags & RECV_MULTISHOT) !== 0) {
        // A kernel without capped multishot receives (before 6.17): single receives from now
        // on, since an uncapped one would take whatever the peer writes while reading is paused.
        this.proactor._multishot = false;
      } else if (res !== -ECANCELED && res !== -ENOBUFS && this.end === OPEN) {
        this.end = res; // 0: EOF
      }
    } else if (id === this.pollId) {
      this.pollId = 0;
      this.writeNews = res < 0 ? res : 1;
    } else {
      return;
    }
    this.queue();
  }

  /**
   * Adds a received chunk, joined to the previous one when it continues it in
   * the same slab (the socket's chunks of one harvest land one after the other): a 100 KiB
   * message that came in two pool buffers reaches the protocol, and its echo the kernel, whole.
   */
  private keep(data: Buffer): void {
    const more = this.receivedMore;
    const last = more !== null ? more[more.length - 1]! : this.received;
    // Offsets first: the `buffer` getters (calls into V8's C++) only for a chunk that may continue the last.
    if (last !== null && last.byteOffset + last.byteLength === data.byteOffset && last.buffer === data.buffer) {
      const joined = Buffer.from(data.buffer, last.byteOffset, last.byteLength + data.byteLength);
      if (more !== null) more[more.length - 1] = joined;
      else this.received = joined;
    } else {
      this.add(data);
    }
  }

  private add(chunk: Uint8Array): void {
    if (this.received === null) this.received = chunk;
    else if (this.receivedMore === null) this.receivedMore = [chunk];
    else this.receivedMore.push(chunk);
  }

  private queue(): void {
    if (this.queued) return;
    this.queued = true;
    const entryQueue = this.proactor._entryQueue;
    if (entryQueue !== null) entryQueue._callSoonEntry(this);
    else this._loop.callSoon(() => this._run());
  }

  /**
   * @internal The loop's ready entry: deliver what completed, then post what is needed next.
   * Throws only what the loop's exception handling lets through (see resumeAfterEscape).
   */
  _run(): void {
    this.queued = false;
    // A direct round with nothing else to do (the ping-pong's) reads outside runGuarded's try:
    // V8 makes a `new NodeBuffer` it inlines under an exception handler a generic construct
    // (the construct stub, Node's FastBuffer constructor, then the typed array's: ~140
    // instructions a read on Node 24, where readDirect inlines into the entry), and one
    // outside any handler a single CreateTypedArray. Nothing needs the try here: core's
    // calls guard the protocol's callbacks, the slab's allocation is guarded in recvIntoSlab,
    // and what the loop's exception handling lets out of a delivery leaves nothing undone
    // (what a harvest notes meanwhile queues the transport again; the level-triggered poll
    // reports the socket again).
    if (this.readable && this.received === null && this.writeNews === 0 && this.end === OPEN) {
      this.readable = false;
      if (this.reading && !this._closing) this.readDirect();
      // EOF or an error read, or a switch to the pool (its receive is posted): the rest's work.
      if (this.end === OPEN && this.pollingReads) return;
    }
    this.runGuarded();
  }

  /** `_run`'s work but the lone direct round's, under a try: see resumeAfterEscape. */
  private runGuarded(): void {
    // The chunks after the first, and how many of them were handed over: see resumeAfterEscape.
    let more: Uint8Array[] | null = null;
    let handed = 0;
    try {
      const first = this.received;
      if (first !== null) {
        // Taken first: a chunk harvested while these are delivered (a cancel drains the ring) waits for the next `_run`.
        more = this.receivedMore;
        this.received = this.receivedMore = null;
        let bytes = first.length;
        // Core holds what arrives while paused and drops what arrives once closing.
        this._dataReceived(first);
        if (more !== null) {
          while (handed < more.length) {
            const chunk = more[handed++]!;
            bytes += chunk.length;
            this._dataReceived(chunk);
          }
        }
        if (bytes >= this.proactor._directReadFrom) this.switchReads(true);
        else if (!this.direct) this.notePooledRound();
      }
      if (this.readable) {
        this.readable = false;
        if (this.reading && !this._closing && this.end === OPEN) this.readDirect();
      }
      // Not while chunks wait that a harvest noted during this run (a proactor operation
      // cancelled from a protocol callback, Server.close() among them, harvests at once): the
      // multishot receive took them before its end, and the next run delivers them first.
      if (this.end !== OPEN && (this.flags & ENDED) === 0 && this.received === null) {
        this.flags |= ENDED;
        this.cancelRecv(); // the readability poll stays on after EOF
        const end = this.end;
        if (end === 0) this._eofReceived();
        else if (!this._closing) this._fatalError(end === LOST ? this.proactor._slabFailure : toConnectionError(errnoError(end, 'recv')), 'Fatal read error on socket transport');
      }
      const writeNews = this.writeNews;
      if (writeNews !== 0) {
        this.writeNews = 0;
        if (writeNews < 0) this._fatalError(toConnectionError(errnoError(writeNews, 'send')), 'Fatal write error on socket transport');
        else {
          this._writeReady();
          // Also once close() was called: the buffer is flushed before connectionLost (an abort dropped it).
          if (this._firstBufferedChunk() !== null && this.pollId === 0) this.pollWritable();
        }
      }
      if (this.reading && this.recvId === 0 && !this.pollingReads && (this.flags & ENDED) === 0 && this.end === OPEN && !this._closing) this.postRecv();
    } catch (error) {
      try {
        this._fatalError(error, 'Fatal error on socket transport');
      } catch (escaping) {
        // Only an exception the loop's exception handling lets through gets here (every other
        // one ends in _fatalError), and it leaves the loop's turn: see resumeAfterEscape.
        this.resumeAfterEscape(more, handed);
        throw escaping;
      }
    }
  }

  /**
   * An exception left `_run` midway, through the loop's exception handling (which let it out of
   * the loop's turn, as asyncio lets KeyboardInterrupt out of a callback): the chunks not
   * handed to the protocol yet go back ahead of any harvested since, a write the poll found room
   * for is tried again, and the transport queues itself to do the rest (post its next receive
   * among them) when the loop runs again. The chunk being delivered counts as delivered.
   */
  private resumeAfterEscape(more: Uint8Array[] | null, handed: number): void {
    if (more !== null && handed < more.length) {
      const rest = more.slice(handed);
      if (this.received !== null) rest.push(this.received);
      if (this.receivedMore !== null) rest.push(...this.receivedMore);
      this.received = rest.shift()!;
      this.receivedMore = rest.length > 0 ? rest : null;
    }
    if (this.writeNews === 0 && this.pollId === 0 && this._firstBufferedChunk() !== null) this.writeNews = 1;
    this.queue();
  }

  /**
   * Large messages are read directly: a pooled receive costs a copy out of the pool that a
   * direct one does not, and above a few tens of KiB that copy costs more than the recv
   * syscall. Small ones go back to the pool (no syscall per message). The switch to direct
   * reads waits for the receive in the ring to end (it is cancelled), so chunks stay in order.
   */
  private switchReads(direct: boolean): void {
    if (this.direct === direct || (this.flags & DIRECT_REFUSED) !== 0) return;
    this.direct = direct;
    this.rounds = 0;
    this.cancelRecv();
  }

  /** A pooled round of small messages: back to direct reads once LONE_ROUNDS in a row came alone. */
  private notePooledRound(): void {
    if (this.busyElsewhere()) this.rounds = 0;
    else if (++this.rounds >= LONE_ROUNDS) this.switchReads(true);
  }

  private cancelRecv(): void {
    if (this.pollingReads) {
      this.pollingReads = false;
      this.readable = false;
      this.proactor._unwatchReadable(this.fd);
    }
    if (this.recvId !== 0 && (this.flags & RECV_CANCELLED) === 0) {
      this.flags |= RECV_CANCELLED;
      this.proactor._cancelTracked(this.recvId);
    }
  }

  /**
   * Node's loop reported the socket readable: recv syscalls into the slab (or the
   * BufferedProtocol's buffer) until one reads short (what arrives later is reported again).
   * Stops when the protocol pauses reading; EOF or an error goes to `end`.
   */
  private readDirect(): void {
    const raw = this.sock.raw;
    let total = 0;
    let r = -EAGAIN;
    while (this.reading && !this._closing) {
      // Bytes core still holds (from before a pause) go first: what is read now queues behind them.
      if (this._readsIntoBuffer()) {
        const buf = this._getReadBuffer(-1);
        if (buf === null) return;
        r = raw.tryRecvInto(buf, 0, buf.byteLength);
        if (r > 0) this._bufferUpdated(r);
        this.readShort = r < buf.byteLength;
      } else {
        r = this.recvIntoSlab(raw);
      }
      if (r <= 0) break;
      total += r;
      // A short read drained the socket (for now: the poll is level-triggered).
      if (this.readShort) break;
    }
    if (r <= 0 && r !== -EAGAIN && r !== -EINTR) this.end = r; // 0: EOF
    this.noteDirectRound(total);
  }

  /** A direct round read `total` bytes: back to the pool after SMALL_ROUNDS small ones in a row while other sockets are busy. */
  private noteDirectRound(total: number): void {
    if (total >= SMALL_ROUND) this.rounds = 0;
    else if (++this.rounds >= SMALL_ROUNDS && this.proactor._directReadFrom > 0 && this.busyElsewhere()) this.switchReads(false);
  }

  /**
   * One recv into the slab, its bytes handed to the protocol; `readShort` says whether it left
   * room. A method of its own, optimized apart from readDirect's loop: inlined there, Node 20's
   * optimizing compiler left the view's construction as out-of-line calls and a constructor
   * stub per read, ~190 instructions (bench/README.md, session 19). Into the slab's
   * ArrayBuffer, the view made on it: the addon skips a view's lookup and the chunk the
   * `buffer` getter (see NodeBuffer).
   */
  private recvIntoSlab(raw: UringSocket['raw']): number {
    try {
      receiveSlab.withRoom(MIN_DIRECT_READ);
    } catch (error) {
      // A slab not allocated: this transport's failure, not the loop's (the read is outside any other try: see _run).
      this._fatalError(error, 'Fatal read error on socket transport');
      return -EAGAIN;
    }
    const memory = receiveSlab.memory();
    const start = receiveSlab.offset();
    const room = receiveSlab.room();
    const r = raw.tryRecvInto(memory, start, room);
    this.readShort = r < room;
    if (r > 0) {
      receiveSlab.taken(start + r);
      adviseHugePagesForRead(r, start === 0);
      this._dataReceived(new NodeBuffer(memory, start, r));
    }
    return r;
  }

  /**
   * Several sockets have news at a time: a select() found two or more read directly, or the
   * ring's last harvest brought two or more completions (the other busy sockets are on the pool).
   */
  private busyElsewhere(): boolean {
    const proactor = this.proactor;
    return proactor._readsPerSelect >= proactor._poolFromReads || proactor._lastHarvest >= proactor._poolFromReads;
  }

  // ---- extra info: made when first asked for, with the peer's address read at the start ----
  override getExtraInfo<T = any>(name: string, defaultValue: T | null = null): T | null {
    if (this._extra === EXTRA_NOT_READ) this.makeExtra();
    return super.getExtraInfo(name, defaultValue);
  }

  private makeExtra(): void {
    const peername = addressOf(this.peer, this.peerPort, this.sock.family);
    this.peer = undefined;
    this._extra = socketExtra(this.sock, peername);
  }

  // ---- closing ----
  protected _shutdownWrite(): void {
    try {
      this.sock.raw.shutdown(SHUT_WR);
    } catch (error) {
      throw toConnectionError(error);
    }
  }

  protected _closeResources(): void {
    this.flags |= CLOSED | ENDED;
    this.reading = false;
    this.cancelRecv();
    if (this.pollId !== 0) this.proactor._cancelTracked(this.pollId);
    // Made now, while the socket is open: connectionLost and later callers may still ask.
    if (this._extra === EXTRA_NOT_READ) this.makeExtra();
    this.sock.close();
    this.release(this.sock as unknown as NetSocket);
  }
}
