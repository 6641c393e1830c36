/**
 * Scenarios of CPython 3.13's test_sendfile.py (SendfileMixin, SockSendfileMixin) on both
 * loops: loop.sendfile() over plain and TLS transports, loop.sockSendfile(), their argument
 * and state errors, and a peer closing before or after the whole file arrived. Unlike a Python
 * file object, a file descriptor has no position to advance here (reads are positional): the
 * count resolved is what tells how far the send got, and `file.tell()` checks have no twin.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  ConnectionError,
  DatagramProtocol,
  Protocol,
  RuntimeError,
  SelectorEventLoop,
  SendfileNotAvailableError,
  sleep,
  socket,
  type AbstractEventLoop,
  type DatagramTransport,
  type Server,
  type Transport,
} from 'loopkit';
import { testCerts } from '@loopkit/conformance/support';
import { onEachLoop, portOf, rejection, runIn } from './loops.js';

/** As the CPython test: larger than what the kernel buffers between two sockets at once. */
const DATA = Buffer.alloc(1024 * 17 * 64 + 1);
for (let i = 0; i < DATA.length; i++) DATA[i] = (i * 31 + (i >> 10)) & 0xff;
/** For the peer closing mid-way: big enough that loopback buffers cannot hold it all. */
const BIG = Buffer.alloc(32 * 1024 * 1024, 0x5a);

let dir = '';
let dataPath = '';
let bigPath = '';
let emptyPath = '';
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loopkit-audit-sendfile-'));
  dataPath = path.join(dir, 'data');
  bigPath = path.join(dir, 'big');
  emptyPath = path.join(dir, 'empty');
  fs.writeFileSync(dataPath, DATA);
  fs.writeFileSync(bigPath, BIG);
  fs.writeFileSync(emptyPath, '');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Opens `file` for reading for the length of `body`. */
async function withFile<T>(file: string, body: (fd: number) => Promise<T>): Promise<T> {
  const fd = fs.openSync(file, 'r');
  try {
    return await body(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Whether `make`'s loop has the OS's sendfile for socket transports (the selector loop). */
function sendsNatively(make: () => AbstractEventLoop): boolean {
  const loop = make();
  loop.close();
  return loop instanceof SelectorEventLoop;
}

/** CPython's MySendfileProto: keeps what arrives, closes once `closeAfter` bytes came (0: never). */
class SinkProto extends Protocol {
  transport: Transport | null = null;
  readonly chunks: Buffer[] = [];
  nbytes = 0;
  readonly done: Promise<void>;
  private finish!: () => void;
  constructor(private readonly closeAfter = 0) {
    super();
    this.done = new Promise((resolve) => (this.finish = resolve));
  }
  override connectionMade(transport: Transport): void {
    this.transport = transport;
  }
  override dataReceived(data: Uint8Array): void {
    this.chunks.push(Buffer.from(data));
    this.nbytes += data.length;
    if (this.closeAfter && this.nbytes >= this.closeAfter) this.transport!.close();
  }
  override eofReceived(): void {}
  override connectionLost(): void {
    this.finish();
  }
  data(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** CPython's prepare_sendfile: a server keeping what arrives and a client transport to it. */
async function prepare(loop: AbstractEventLoop, opts: { ssl?: boolean; closeAfter?: number } = {}): Promise<{ srv: SinkProto; tr: Transport; finish: () => Promise<void> }> {
  const certs = testCerts();
  const srv = new SinkProto(opts.closeAfter);
  const server = (await loop.createServer(() => srv, '127.0.0.1', 0, opts.ssl ? { ssl: { key: certs.serverKey, cert: certs.serverCert } } : {})) as Server;
  const [tr] = (await loop.createConnection(() => new SinkProto(), '127.0.0.1', portOf(server), opts.ssl ? { ssl: { ca: certs.ca }, serverHostname: 'localhost' } : {})) as [Transport, SinkProto];
  tr.setWriteBufferLimits({ high: 4096 });
  const finish = async (): Promise<void> => {
    tr.close();
    await srv.done;
    server.close();
    await server.waitClosed();
  };
  return { srv, tr, finish };
}

onEachLoop('test_sendfile (SendfileMixin)', (make) => {
  it('test_sendfile / test_sendfile_partial: the whole file, then 100 bytes from offset 1000', () =>
    runIn(make, (loop) =>
      withFile(dataPath, async (fd) => {
        const whole = await prepare(loop);
        expect(await loop.sendfile(whole.tr, fd)).toBe(DATA.length);
        await whole.finish();
        expect(whole.srv.nbytes).toBe(DATA.length);
        expect(whole.srv.data().equals(DATA)).toBe(true);
        const part = await prepare(loop);
        expect(await loop.sendfile(part.tr, fd, 1000, 100)).toBe(100);
        await part.finish();
        expect(part.srv.data().equals(DATA.subarray(1000, 1100))).toBe(true);
      })));

  it('test_sendfile_ssl / test_sendfile_ssl_partial: through TLS (the fallback path)', () =>
    runIn(make, (loop) =>
      withFile(dataPath, async (fd) => {
        const whole = await prepare(loop, { ssl: true });
        expect(await loop.sendfile(whole.tr, fd)).toBe(DATA.length);
        await whole.finish();
        expect(whole.srv.data().equals(DATA)).toBe(true);
        const part = await prepare(loop, { ssl: true });
        expect(await loop.sendfile(part.tr, fd, 1000, 100)).toBe(100);
        await part.finish();
        expect(part.srv.data().equals(DATA.subarray(1000, 1100))).toBe(true);
      })));

  it('test_sendfile_pre_and_post_data / test_sendfile_ssl_pre_and_post_data: writes before and after keep their order', () =>
    runIn(make, (loop) =>
      withFile(dataPath, async (fd) => {
        for (const ssl of [false, true]) {
          const { srv, tr, finish } = await prepare(loop, { ssl });
          const prefix = Buffer.from('PREFIX__'.repeat(1024));
          const suffix = Buffer.from('--SUFFIX'.repeat(1024));
          tr.write(prefix);
          expect(await loop.sendfile(tr, fd)).toBe(DATA.length);
          tr.write(suffix);
          await finish();
          expect(srv.data().equals(Buffer.concat([prefix, DATA, suffix]))).toBe(true);
        }
      })));

  it('test_sendfile_not_supported: a datagram transport is refused with RuntimeError "not supported"', () =>
    runIn(make, (loop) =>
      withFile(dataPath, async (fd) => {
        const [tr] = (await loop.createDatagramEndpoint(() => new DatagramProtocol(), { localAddr: ['127.0.0.1', 0] })) as [DatagramTransport, unknown];
        try {
          const error = await rejection(loop.sendfile(tr as never, fd));
          expect(error).toBeInstanceOf(RuntimeError);
          expect(String((error as Error).message)).toMatch(/not supported/);
        } finally {
          tr.close();
        }
      })));

  it('test_sendfile_for_closing_transp: RuntimeError "is closing", nothing sent', () =>
    runIn(make, (loop) =>
      withFile(dataPath, async (fd) => {
        const { srv, tr, finish } = await prepare(loop);
        tr.close();
        const error = await rejection(loop.sendfile(tr, fd));
        expect(error).toBeInstanceOf(RuntimeError);
        expect((error as Error).message).toMatch(/is closing/);
        await finish();
        expect(srv.nbytes).toBe(0);
      })));

  it('test_sendfile_force_unsupported_native: a file the kernel cannot send with fallback: false gives SendfileNotAvailableError, nothing sent', () =>
    runIn(make, (loop) =>
      withFile('/dev/zero', async (fd) => {
        const { srv, tr, finish } = await prepare(loop);
        const error = await rejection(loop.sendfile(tr, fd, 0, 4096, { fallback: false }));
        expect(error).toBeInstanceOf(SendfileNotAvailableError);
        await finish();
        expect(srv.nbytes).toBe(0);
      })));

  it('test_sendfile_no_fallback_for_fallback_transport: a TLS transport with fallback: false is refused ("fallback is disabled")', () =>
    runIn(make, (loop) =>
      withFile(dataPath, async (fd) => {
        const { srv, tr, finish } = await prepare(loop, { ssl: true });
        const error = await rejection(loop.sendfile(tr, fd, 0, null, { fallback: false }));
        expect(error).toBeInstanceOf(RuntimeError);
        expect((error as Error).message).toMatch(/fallback is disabled/);
        await finish();
        expect(srv.nbytes).toBe(0);
      })));

  it('test_sendfile_close_peer_after_receiving / _ssl_: the peer closing once it has it all does not fail the send', () =>
    runIn(make, (loop) =>
      withFile(dataPath, async (fd) => {
        for (const ssl of [false, true]) {
          const { srv, tr, finish } = await prepare(loop, { ssl, closeAfter: DATA.length });
          expect(await loop.sendfile(tr, fd)).toBe(DATA.length);
          await finish();
          expect(srv.data().equals(DATA)).toBe(true);
        }
      })));

  it('test_sendfile_close_peer_in_the_middle_of_receiving: ConnectionError, the transport closing', () =>
    runIn(make, (loop) =>
      withFile(bigPath, async (fd) => {
        const { srv, tr, finish } = await prepare(loop, { closeAfter: 1024 });
        const error = await rejection(loop.sendfile(tr, fd));
        expect(error).toBeInstanceOf(ConnectionError);
        await srv.done;
        expect(srv.nbytes).toBeGreaterThanOrEqual(1024);
        expect(srv.nbytes).toBeLessThan(BIG.length);
        // Reading resumed after the send: the reset reaches the transport (asyncio: within run_loop(srv_proto.done)).
        for (let i = 0; i < 200 && !tr.isClosing(); i++) await sleep(0.005);
        expect(tr.isClosing()).toBe(true);
        await finish();
      })));

  // The native path only (asyncio skips it without os.sendfile): the proactor loops send by writes.
  it.runIf(sendsNatively(make))('test_sendfile_prevents_bare_write: write() during the native send raises "sendfile is in progress"; the send completes', () =>
    runIn(make, (loop) =>
      withFile(dataPath, async (fd) => {
        const { srv, tr, finish } = await prepare(loop);
        const sending = loop.sendfile(tr, fd);
        expect(() => tr.write(Buffer.from('data'))).toThrow(/sendfile is in progress/);
        expect(await sending).toBe(DATA.length);
        await finish();
        expect(srv.data().equals(DATA)).toBe(true);
      })));

  it('_check_sendfile_params: file, offset and count are checked, naming the argument', () =>
    runIn(make, async (loop) => {
      const { tr, finish } = await prepare(loop);
      await expect(loop.sendfile(tr, 'data.bin' as never)).rejects.toThrow(/file/);
      await withFile(dataPath, async (fd) => {
        await expect(loop.sendfile(tr, fd, -1)).rejects.toThrow(/offset must be a non-negative integer \(got -1\)/);
        await expect(loop.sendfile(tr, fd, 0, 0)).rejects.toThrow(/count must be a positive integer \(got 0\)/);
        await expect(loop.sendfile(tr, fd, 1.5 as never)).rejects.toThrow(TypeError);
      });
      await finish();
    }));
});

onEachLoop('test_sendfile (SockSendfileMixin)', (make) => {
  /** CPython's prepare_socksendfile: a server keeping what arrives and a connected loop socket. */
  async function prepareSock(loop: AbstractEventLoop) {
    const srv = new SinkProto();
    const server = (await loop.createServer(() => srv, '127.0.0.1', 0)) as Server;
    const sock = socket('inet', 'stream');
    await loop.sockConnect(sock, { address: '127.0.0.1', port: portOf(server) });
    const finish = async (): Promise<void> => {
      sock.close();
      await srv.done;
      server.close();
      await server.waitClosed();
    };
    return { srv, sock, finish };
  }

  it('test_sock_sendfile_success / _with_offset_and_count / _zero_size', () =>
    runIn(make, async (loop) => {
      await withFile(dataPath, async (fd) => {
        const whole = await prepareSock(loop);
        expect(await loop.sockSendfile(whole.sock, fd)).toBe(DATA.length);
        await whole.finish();
        expect(whole.srv.data().equals(DATA)).toBe(true);
        const part = await prepareSock(loop);
        expect(await loop.sockSendfile(part.sock, fd, 1000, 2000)).toBe(2000);
        await part.finish();
        expect(part.srv.data().equals(DATA.subarray(1000, 3000))).toBe(true);
      });
      await withFile(emptyPath, async (fd) => {
        const empty = await prepareSock(loop);
        expect(await loop.sockSendfile(empty.sock, fd, 0, null)).toBe(0);
        await empty.finish();
        expect(empty.srv.nbytes).toBe(0);
      });
    }));

  it('test_sock_sendfile_mix_with_regular_send: sockSendall, sockSendfile, sockSendall arrive in order', () =>
    runIn(make, (loop) =>
      withFile(dataPath, async (fd) => {
        const buf = Buffer.from('mix_regular_send'.repeat(4 * 1024));
        const { srv, sock, finish } = await prepareSock(loop);
        await loop.sockSendall(sock, buf);
        expect(await loop.sockSendfile(sock, fd)).toBe(DATA.length);
        await loop.sockSendall(sock, buf);
        await finish();
        expect(srv.data().equals(Buffer.concat([buf, DATA, buf]))).toBe(true);
      })));

  it('sock_sendfile to a peer that resets mid-way: a ConnectionError (asyncio: the OSError of ECONNRESET/EPIPE is one)', () =>
    runIn(make, (loop) =>
      withFile(bigPath, async (fd) => {
        const server = net.createServer((peer) => {
          peer.on('error', () => {});
          peer.once('data', () => peer.resetAndDestroy());
        });
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        const sock = socket('inet', 'stream');
        try {
          await loop.sockConnect(sock, { address: '127.0.0.1', port: (server.address() as net.AddressInfo).port });
          const error = await rejection(loop.sockSendfile(sock, fd));
          expect(error).toBeInstanceOf(ConnectionError);
          expect(['ECONNRESET', 'EPIPE']).toContain((error as { code?: string }).code);
        } finally {
          sock.close();
          await new Promise((resolve) => server.close(resolve));
        }
      })));
});
