// Drivers for the TLS engine tests: two engines joined in memory, and an engine joined to
// a real socket (node:net carries the bytes; the engine does the TLS).
import type { Socket } from 'node:net';
import type { TLSContext, TLSEngine } from '@loopkit/uv';

/** Move what `from` has to send into `to`; true when something moved. */
export function move(from: TLSEngine, to: TLSEngine): boolean {
  const out = from.takeOutgoing();
  if (out === null) return false;
  to.feed(out);
  return true;
}

/**
 * Run both handshakes to 'done'. `onSni` answers the server's 'want-sni' (it gets the
 * server engine and returns the context to switch to, or null to keep its own).
 */
export function handshake(client: TLSEngine, server: TLSEngine, onSni?: (s: TLSEngine) => TLSContext | null): void {
  let c = client.handshake();
  let s: string = 'want-read';
  for (let i = 0; i < 20 && !(c === 'done' && s === 'done'); i++) {
    move(client, server);
    if (s !== 'done') {
      s = server.handshake();
      if (s === 'want-sni') {
        const ctx = onSni ? onSni(server) : null;
        if (ctx) server.useContext(ctx);
        s = server.handshake();
      }
    }
    move(server, client);
    if (c !== 'done') c = client.handshake();
  }
  if (c !== 'done' || s !== 'done') throw new Error(`handshake stuck: client ${c}, server ${s}`);
  // TLS 1.3: the server's session tickets follow its Finished; let the client take them.
  move(server, client);
  client.read();
  move(client, server);
}

/** Everything `to` can decrypt after `from` sent `data` (moved in slices of `slice` bytes). */
export function transfer(from: TLSEngine, to: TLSEngine, data: Uint8Array, slice = 65536): Buffer {
  const got: Uint8Array[] = [];
  for (let off = 0; off < data.length; off += slice) {
    from.write(data.subarray(off, off + slice));
    move(from, to);
    for (let r = to.read(); r !== null && r.length > 0; r = to.read()) got.push(r);
  }
  return Buffer.concat(got);
}

/** Bytes from a socket, queued until the test asks for them. */
export class Wire {
  #chunks: Buffer[] = [];
  #ended = false;
  #wake: (() => void) | null = null;

  constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => (this.#chunks.push(d), this.#wake?.()));
    socket.on('end', () => ((this.#ended = true), this.#wake?.()));
    socket.on('error', () => ((this.#ended = true), this.#wake?.()));
  }

  /** Feed what arrived into `engine` (waiting for something); false once the stream ended. */
  async pull(engine: TLSEngine): Promise<boolean> {
    while (this.#chunks.length === 0 && !this.#ended) await new Promise<void>((r) => (this.#wake = r));
    this.#wake = null;
    for (const c of this.#chunks.splice(0)) engine.feed(c);
    if (this.#chunks.length === 0 && this.#ended) {
      engine.feedEof();
      return false;
    }
    return true;
  }

  /** Send what `engine` has to send. */
  push(engine: TLSEngine): void {
    const out = engine.takeOutgoing();
    if (out) this.socket.write(out);
  }

  /** Handshake `engine` over the socket. */
  async handshake(engine: TLSEngine): Promise<void> {
    for (let st = engine.handshake(); st !== 'done'; st = engine.handshake()) {
      this.push(engine);
      await this.pull(engine);
    }
    this.push(engine);
  }

  /** Read until `n` bytes of application data arrived. */
  async readN(engine: TLSEngine, n: number): Promise<Buffer> {
    const got: Uint8Array[] = [];
    let have = 0;
    for (;;) {
      for (let r = engine.read(); r !== null && r.length > 0; r = engine.read()) (got.push(r), (have += r.length));
      this.push(engine); // key updates, tickets' answers
      if (have >= n) return Buffer.concat(got);
      if (!(await this.pull(engine))) throw new Error(`stream ended after ${have} of ${n} bytes`);
    }
  }
}
