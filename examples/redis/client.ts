/**
 * A small Redis client over loopkit streams: RESP2 on a StreamReader/StreamWriter pair from
 * `openConnection`. Commands are written as soon as they are called and their replies are
 * matched in order by one reader task, so pipelining is just "call many, await later".
 *
 *   const redis = await RedisClient.connect('127.0.0.1', 6379);
 *   await redis.call('SET', 'k', Buffer.from('v'));
 *   const v = await redis.call('GET', 'k');          // Buffer
 *   const replies = await redis.pipeline([['INCR', 'n'], ['INCR', 'n']]);
 *   await redis.close();
 *
 *   // Redis over TLS (redis-server --tls-port): the options go to openConnection as they are.
 *   const secure = await RedisClient.connect('127.0.0.1', 6380, { ssl: { ca, cert, key }, serverHostname: 'redis.internal' });
 *
 * Errors:
 * - an error reply (`-ERR ...`) rejects that command only, with RedisReplyError;
 * - a lost connection (reset, EOF mid-reply, server killed) rejects every pending command,
 *   and every later one, with one RedisConnectionError (a loopkit ConnectionError) whose
 *   message says how many commands were pending and why; `cause` is the underlying
 *   ConnectionResetError / IncompleteReadError.
 */
import {
  ConnectionError,
  IncompleteReadError,
  getRunningLoop,
  openConnection,
  type AbstractEventLoop,
  type Future,
  type StreamReader,
  type StreamWriter,
  type TLSClientOptions,
} from 'loopkit';

/** What a RESP2 reply becomes: simple strings are strings, bulk strings Buffers, nil null. */
export type RedisReply = string | number | Buffer | null | RedisReply[];
/** A command argument: bytes go as they are, strings as UTF-8, numbers in decimal. */
export type RedisArg = string | number | Uint8Array;

/** The server answered a command with an error reply (`-ERR ...`): the connection is fine. */
export class RedisReplyError extends Error {
  /** The first word of the reply: ERR, WRONGTYPE, NOSCRIPT, ... */
  readonly kind: string;
  constructor(reply: string) {
    super(reply);
    this.kind = reply.split(' ', 1)[0] ?? '';
  }
}
Object.defineProperty(RedisReplyError.prototype, 'name', { value: 'RedisReplyError' });

/** The connection to the server is gone; every pending and later command gets this. */
export class RedisConnectionError extends ConnectionError {
  /** How many commands were waiting for a reply when the connection was lost. */
  readonly pending: number;
  constructor(message: string, pending: number, cause: unknown) {
    super(message, { cause });
    this.pending = pending;
  }
}
Object.defineProperty(RedisConnectionError.prototype, 'name', { value: 'RedisConnectionError' });

/** The server sent something that is not RESP: the stream can no longer be trusted. */
export class RedisProtocolError extends Error {}
Object.defineProperty(RedisProtocolError.prototype, 'name', { value: 'RedisProtocolError' });

const CRLF = Buffer.from('\r\n');

/** RESP encoding of one command: an array of bulk strings. */
export function encodeCommand(args: readonly RedisArg[]): Buffer {
  if (args.length === 0) throw new TypeError('a Redis command needs at least a name');
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    let bytes: Buffer;
    if (typeof arg === 'string') bytes = Buffer.from(arg, 'utf8');
    else if (typeof arg === 'number') {
      if (!Number.isFinite(arg)) throw new TypeError(`a Redis argument must be a finite number, got ${arg}`);
      bytes = Buffer.from(String(arg));
    } else if (arg instanceof Uint8Array) bytes = Buffer.from(arg.buffer, arg.byteOffset, arg.byteLength);
    else throw new TypeError(`a Redis argument must be a string, number or Uint8Array, got ${typeof arg}`);
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, CRLF);
  }
  return Buffer.concat(parts);
}

/** Read one RESP2 reply. An error reply is returned as a RedisReplyError value, not thrown. */
export async function readReply(reader: StreamReader): Promise<RedisReply | RedisReplyError> {
  const line = await reader.readuntil(CRLF);
  const type = line[0];
  const text = line.toString('utf8', 1, line.length - 2);
  switch (type) {
    case 0x2b: // '+'
      return text;
    case 0x2d: // '-'
      return new RedisReplyError(text);
    case 0x3a: // ':'
      return parseInteger(text);
    case 0x24: {
      // '$'
      const length = parseInteger(text);
      if (length === -1) return null;
      const data = await reader.readexactly(length + 2);
      if (data[length] !== 0x0d || data[length + 1] !== 0x0a) throw new RedisProtocolError('bulk string not followed by CRLF');
      return data.subarray(0, length);
    }
    case 0x2a: {
      // '*'
      const count = parseInteger(text);
      if (count === -1) return null;
      const items: RedisReply[] = [];
      for (let i = 0; i < count; i++) {
        const item = await readReply(reader);
        // An error inside an array (EXEC) stays a value there.
        items.push(item as RedisReply);
      }
      return items;
    }
    default:
      throw new RedisProtocolError(`unexpected RESP type byte ${JSON.stringify(line.toString('latin1', 0, 1))}`);
  }
}

function parseInteger(text: string): number {
  if (!/^-?\d+$/.test(text)) throw new RedisProtocolError(`bad RESP integer ${JSON.stringify(text)}`);
  return Number(text);
}

interface Pending {
  future: Future<RedisReply>;
  /** The command's name, for error messages. */
  name: string;
}

export interface RedisClientOptions extends TLSClientOptions {
  /** The StreamReader's limit (longest reply line). Default 64 KiB. */
  limit?: number;
}

export class RedisClient {
  private readonly pending: Pending[] = [];
  private head = 0;
  private failure: RedisConnectionError | null = null;
  private closing = false;
  private readonly readerTask: Future<void>;

  private constructor(
    private readonly loop: AbstractEventLoop,
    private readonly reader: StreamReader,
    private readonly writer: StreamWriter,
    /** host:port, for messages. */
    readonly address: string,
  ) {
    this.readerTask = loop.createTask(() => this.readReplies(), { name: `redis-reader ${address}` });
  }

  /** Connect with the running loop (call it inside a loopkit task). */
  static async connect(host: string, port: number, options: RedisClientOptions = {}): Promise<RedisClient> {
    const loop = getRunningLoop();
    // Only the keys given: openConnection rejects TLS options without `ssl`, as asyncio does.
    const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
    const [reader, writer] = await openConnection(host, port, given);
    return new RedisClient(loop, reader, writer, `${host}:${port}`);
  }

  /** Commands sent and not yet answered. */
  get pendingCount(): number {
    return this.pending.length - this.head;
  }

  /**
   * Send one command and wait for its reply. The command is written before the first
   * await, so several calls made without awaiting in between are pipelined.
   */
  async call(...args: RedisArg[]): Promise<RedisReply> {
    const future = this.send(args);
    await this.drain();
    return await future;
  }

  /**
   * Send every command in one write, then wait for all replies (in order). An error reply
   * rejects with that RedisReplyError once every reply has arrived, so the connection stays
   * in step whatever the replies are.
   */
  async pipeline(commands: readonly (readonly RedisArg[])[]): Promise<RedisReply[]> {
    const futures = this.sendMany(commands);
    await this.drain();
    const settled = await Promise.allSettled(futures);
    const results: RedisReply[] = [];
    for (const s of settled) {
      if (s.status === 'rejected') throw s.reason;
      results.push(s.value);
    }
    return results;
  }

  /** Write one command now; its Future resolves with the reply. */
  send(args: readonly RedisArg[]): Future<RedisReply> {
    return this.sendMany([args])[0]!;
  }

  /** Write several commands in one write; one Future per command, in order. */
  sendMany(commands: readonly (readonly RedisArg[])[]): Future<RedisReply>[] {
    const encoded = commands.map((args) => encodeCommand(args));
    const futures = commands.map((args) => {
      const future = this.loop.createFuture<RedisReply>();
      if (this.failure !== null) future.setException(this.failure);
      else if (this.closing) future.setException(new RedisConnectionError(`Redis client for ${this.address} is closed`, 0, null));
      else this.pending.push({ future, name: String(args[0]) });
      return future;
    });
    if (this.failure === null && !this.closing && encoded.length > 0) {
      this.writer.write(encoded.length === 1 ? encoded[0]! : Buffer.concat(encoded));
    }
    return futures;
  }

  /** Close the connection: commands still waiting get a RedisConnectionError. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.writer.close();
    try {
      await this.writer.waitClosed();
    } catch {
      // the connection had already failed: its error went to the pending commands
    }
    await this.readerTask;
  }

  /** Wait while the transport's write buffer is over its high-water mark. */
  private async drain(): Promise<void> {
    try {
      await this.writer.drain();
    } catch (error) {
      // A lost connection also reaches the reader task, which rejects the pending commands
      // with the reason it saw; if that task already ended, nobody else will.
      if (this.readerTask.done()) this.fail(error);
    }
  }

  private async readReplies(): Promise<void> {
    try {
      for (;;) {
        if (this.closing && this.pendingCount === 0) return;
        let reply: RedisReply | RedisReplyError;
        try {
          reply = await readReply(this.reader);
        } catch (error) {
          if (error instanceof IncompleteReadError && error.partial.length === 0 && this.pendingCount === 0) {
            // EOF between replies with nothing pending: a clean close.
            this.fail(error);
            return;
          }
          throw error;
        }
        const entry = this.pending[this.head];
        if (entry === undefined) throw new RedisProtocolError('reply received with no command pending');
        this.pending[this.head++] = undefined as unknown as Pending;
        if (this.head > 1024 && this.head * 2 > this.pending.length) {
          this.pending.splice(0, this.head);
          this.head = 0;
        }
        if (entry.future.done()) continue; // cancelled by its caller: the reply is dropped
        if (reply instanceof RedisReplyError) entry.future.setException(reply);
        else entry.future.setResult(reply);
      }
    } catch (error) {
      this.fail(error);
      if (error instanceof RedisProtocolError) this.writer.close();
    }
  }

  /** Reject every pending command (and every later one) with one RedisConnectionError. */
  private fail(cause: unknown): void {
    if (this.failure === null) {
      const pending = this.pendingCount;
      const why =
        cause instanceof IncompleteReadError
          ? `the server closed the connection (${cause.message})`
          : cause instanceof Error
            ? `${cause.name}: ${cause.message}`
            : String(cause);
      const message = this.closing && pending === 0
        ? `Redis client for ${this.address} is closed`
        : `connection to Redis at ${this.address} lost with ${pending} command(s) pending: ${why}`;
      this.failure = new RedisConnectionError(message, pending, cause);
    }
    for (let i = this.head; i < this.pending.length; i++) {
      const entry = this.pending[i]!;
      if (!entry.future.done()) entry.future.setException(this.failure);
    }
    this.pending.length = 0;
    this.head = 0;
  }
}
