import { describe, expect, it } from 'vitest';
import { closeSync, existsSync, fstatSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import v8 from 'node:v8';
import { join } from 'node:path';
import * as uv from '@loopkit/uv';
import { Socket, socket, socketpair, EAGAIN, EINPROGRESS, SOL_SOCKET, SO_REUSEADDR } from '@loopkit/uv';
import { openFds, waitReadable, waitWritable } from './helpers.js';

function listener(family: 'inet' | 'inet6', address: string) {
  const srv = socket(family);
  srv.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
  srv.bind({ address, port: 0 });
  srv.listen();
  return srv;
}

describe('addon', () => {
  it('loaded', () => {
    expect(uv.loadError()).toBeNull();
    expect(uv.isAvailable()).toBe(true);
    expect(uv.SOL_SOCKET).toBeGreaterThanOrEqual(0);
    expect(uv.constants.TCP_NODELAY).toBe(uv.TCP_NODELAY);
  });
});

// getsockname/getpeername reuse the previous call's address string when equal (a
// connection's extra info keeps both): that must never hand back a stale address or a shared object.
describe('addresses', () => {
  it('getsockname/getpeername: a fresh object each call, and each address as it is, however they alternate', () => {
    const srv = listener('inet', '127.0.0.1');
    const port = (srv.getsockname() as uv.InetAddress).port;
    const clients = ['127.0.0.2', '127.0.0.1', '127.0.0.3', '127.0.0.3'].map((address) => {
      const cli = socket('inet');
      cli.bind({ address, port: 0 });
      expect([0, -EINPROGRESS]).toContain(cli.tryConnect({ address: '127.0.0.1', port }));
      expect(waitWritable(cli.fileno())).toBeTruthy();
      return cli;
    });
    const accepted = clients.map(() => {
      expect(waitReadable(srv.fileno())).toBeTruthy();
      return srv.accept()[0];
    });
    const byLocal = new Map(clients.map((cli) => [(cli.getsockname() as uv.InetAddress).port, cli]));
    for (const conn of accepted) {
      const peer = conn.getpeername() as uv.InetAddress;
      const cli = byLocal.get(peer.port)!;
      expect(peer).toEqual(cli.getsockname());
      expect(conn.getsockname()).toEqual({ address: '127.0.0.1', family: 'IPv4', port });
      const again = conn.getpeername() as uv.InetAddress;
      expect(again).not.toBe(peer);
      again.address = 'changed';
      expect(conn.getpeername()).toEqual(peer);
    }
    for (const s of [...accepted, ...clients, srv]) s.close();
  });
});

describe.each([
  ['IPv4', 'inet', '127.0.0.1'],
  ['IPv6', 'inet6', '::1'],
] as const)('TCP over %s', (label, family, host) => {
  it('echoes between two raw sockets, EAGAIN before data', () => {
    const srv = listener(family, host);
    const addr = srv.getsockname();
    expect(addr).toEqual({ address: host, family: label, port: expect.any(Number) });

    // Nothing pending yet: accept would block.
    expect(srv.tryAccept()).toBe(-EAGAIN);
    expect(() => srv.accept()).toThrow(expect.objectContaining({ code: 'EAGAIN', syscall: 'accept' }));

    const cli = socket(family);
    const r = cli.tryConnect(addr);
    expect([0, -EINPROGRESS]).toContain(r);
    expect(waitWritable(cli.fileno())).toBeTruthy();
    expect(cli.getError()).toBe(0);

    expect(waitReadable(srv.fileno())).toBeTruthy();
    const [conn, peer] = srv.accept();
    expect(conn).toBeInstanceOf(Socket);
    expect(conn.family).toBe(family);
    expect(peer).toEqual(cli.getsockname());
    expect(conn.getpeername()).toEqual(cli.getsockname());
    expect(cli.getpeername()).toEqual(addr);

    // No data yet: both forms report a would-block.
    const buf = Buffer.alloc(64);
    expect(conn.tryRecvInto(buf)).toBe(-EAGAIN);
    const err = (() => { try { conn.recv(10); } catch (e) { return e as uv.ErrnoError; } })();
    expect(err).toMatchObject({ code: 'EAGAIN', errno: -EAGAIN, syscall: 'recv' });

    expect(cli.send(Buffer.from('ping'))).toBe(4);
    waitReadable(conn.fileno());
    expect(conn.recv(64).toString()).toBe('ping');
    expect(conn.trySend(Buffer.from('xpongx'), 1, 4)).toBe(4);
    waitReadable(cli.fileno());
    expect(cli.tryRecvInto(buf, 10, 20)).toBe(4);
    expect(buf.subarray(10, 14).toString()).toBe('pong');

    // Half-close: the peer reads EOF (an empty Buffer), then can still send.
    cli.shutdown(uv.SHUT_WR);
    waitReadable(conn.fileno());
    expect(conn.recv(64).length).toBe(0);
    conn.send(Buffer.from('bye'));
    waitReadable(cli.fileno());
    expect(cli.recv(64).toString()).toBe('bye');

    for (const s of [cli, conn, srv]) s.close();
  });

  it('writev sends several buffers in one call', () => {
    const srv = listener(family, host);
    const cli = socket(family);
    cli.tryConnect(srv.getsockname());
    waitReadable(srv.fileno());
    const [conn] = srv.accept();
    waitWritable(cli.fileno());
    const parts = [Buffer.from('ab'), new Uint8Array([99, 100]), Buffer.alloc(0), Buffer.from('ef')];
    expect(cli.trySendv(parts)).toBe(6);
    expect(cli.sendmsg([Buffer.from('gh')])).toBe(2);
    waitReadable(conn.fileno());
    const got: Buffer[] = [];
    let n = 0;
    while (n < 8) {
      const b = conn.recv(64);
      got.push(b);
      n += b.length;
    }
    expect(Buffer.concat(got).toString()).toBe('abcdefgh');
    for (const s of [cli, conn, srv]) s.close();
  });
});

describe('connect errors', () => {
  it('a closed port gives ECONNREFUSED through SO_ERROR after writability', () => {
    // Find a port nothing listens on: bind, read the port, close.
    const probe = socket('inet');
    probe.bind({ address: '127.0.0.1', port: 0 });
    const { port } = probe.getsockname() as uv.InetAddress;
    probe.close();

    const s = socket('inet');
    const r = s.tryConnect(['127.0.0.1', port]);
    let errno = r;
    if (r === -EINPROGRESS) {
      expect(waitWritable(s.fileno())).toBeTruthy();
      errno = s.getError();
    }
    expect(errno).toBe(-uv.ECONNREFUSED);
    const err = uv.errnoError(errno, 'connect', { address: '127.0.0.1', port });
    expect(err).toMatchObject({ code: 'ECONNREFUSED', syscall: 'connect', errno: -uv.ECONNREFUSED, address: '127.0.0.1', port });
    expect(err.message).toBe(`connect ECONNREFUSED 127.0.0.1:${port}`);
    expect(s.getError()).toBe(0); // SO_ERROR is cleared by reading it
    s.close();
  });

  it('the throwing connect raises EINPROGRESS like a BlockingIOError', () => {
    const srv = listener('inet', '127.0.0.1');
    const s = socket('inet');
    try {
      s.connect(srv.getsockname());
    } catch (e) {
      expect(e).toMatchObject({ code: 'EINPROGRESS', syscall: 'connect' });
      expect((e as Error).message).toMatch(/^connect EINPROGRESS 127\.0\.0\.1:\d+$/);
    }
    s.close();
    srv.close();
  });

  it('bind to an address in use fails with EADDRINUSE', () => {
    const a = listener('inet', '127.0.0.1');
    const b = socket('inet');
    expect(() => b.bind(a.getsockname())).toThrow(expect.objectContaining({ code: 'EADDRINUSE', syscall: 'bind' }));
    a.close();
    b.close();
  });
});

describe('UDP', () => {
  it.each([
    ['inet', '127.0.0.1', 'IPv4'],
    ['inet6', '::1', 'IPv6'],
  ] as const)('sendto/recvfrom round trip over %s with the sender address', (family, host, label) => {
    const a = socket(family, 'dgram');
    const b = socket(family, 'dgram');
    a.bind({ address: host, port: 0 });
    b.bind({ address: host, port: 0 });
    expect(b.tryRecvfrom(Buffer.alloc(10))).toBe(-EAGAIN);
    expect(a.sendto(Buffer.from('hello'), b.getsockname())).toBe(5);
    waitReadable(b.fileno());
    const [data, from] = b.recvfrom(100);
    expect(data.toString()).toBe('hello');
    expect(from).toEqual({ address: host, family: label, port: (a.getsockname() as uv.InetAddress).port });

    // Hot-path forms: the address lands in a caller-owned object.
    expect(b.trySendto(Buffer.from('back'), from)).toBe(4);
    waitReadable(a.fileno());
    const buf = Buffer.alloc(16);
    const out: uv.AddrOut = {};
    expect(a.tryRecvfrom(buf, 2, 8, out)).toBe(4);
    expect(buf.subarray(2, 6).toString()).toBe('back');
    expect(out).toEqual(b.getsockname());
    a.close();
    b.close();
  });
});

describe('Unix sockets', () => {
  it('stream server and client on a path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'loopkit-uv-'));
    const path = join(dir, 's.sock');
    try {
      const srv = socket('unix');
      srv.bind({ path });
      srv.listen(4);
      expect(existsSync(path)).toBe(true);
      expect(srv.getsockname()).toEqual({ path });
      const cli = socket('unix');
      const r = cli.tryConnect(path);
      expect([0, -EINPROGRESS]).toContain(r);
      waitReadable(srv.fileno());
      const [conn, peer] = srv.accept();
      expect(peer).toEqual({ path: '' });
      expect(cli.getpeername()).toEqual({ path });
      cli.send(Buffer.from('over unix'));
      waitReadable(conn.fileno());
      expect(conn.recv(100).toString()).toBe('over unix');
      for (const s of [cli, conn, srv]) s.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('socketpair gives two connected non-blocking sockets', () => {
    const [a, b] = socketpair();
    expect(a.family).toBe('unix');
    expect(a.type).toBe('stream');
    expect(a.tryRecvInto(Buffer.alloc(4))).toBe(-EAGAIN);
    a.send(Buffer.from('x'));
    waitReadable(b.fileno());
    expect(b.recv(4).toString()).toBe('x');
    b.close();
    waitReadable(a.fileno());
    expect(a.recv(4).length).toBe(0); // EOF once the peer closed
    a.close();
  });

  it('trySend and tryRecvInto take every kind of view by its bytes, at its own offset', () => {
    const [a, b] = socketpair();
    const backing = new ArrayBuffer(16);
    new Uint8Array(backing).set(Array.from({ length: 16 }, (_, i) => i));
    const views: [ArrayBufferView, string][] = [
      [new Uint16Array(backing, 2, 3), '020304050607'],
      [new DataView(backing, 5, 4), '05060708'],
      [new Float64Array(backing, 8, 1), '08090a0b0c0d0e0f'],
      [new Uint8Array(backing, 13, 2), '0d0e'],
      [Buffer.from(backing, 1, 2), '0102'],
    ];
    for (const [view, hex] of views) {
      expect(a.trySend(view)).toBe(view.byteLength);
      waitReadable(b.fileno());
      const into = new Uint32Array(8);
      const got = b.tryRecvInto(new DataView(into.buffer, 4, 16));
      expect(Buffer.from(into.buffer, 4, got).toString('hex')).toBe(hex);
    }
    a.close();
    b.close();
  });

  it('tryRecvInto reads into an ArrayBuffer at an offset, within its bytes', () => {
    const [a, b] = socketpair();
    const backing = new ArrayBuffer(16);
    expect(a.trySend(Buffer.from('abcdef'))).toBe(6);
    waitReadable(b.fileno());
    expect(b.tryRecvInto(backing, 4, 3)).toBe(3);
    expect(b.tryRecvInto(backing, 10)).toBe(3);
    expect(Buffer.from(backing).toString('latin1')).toBe('\0\0\0\0abc\0\0\0def\0\0\0');
    expect(() => b.tryRecvInto(backing, 12, 5)).toThrow(RangeError);
    expect(() => b.tryRecvInto(new SharedArrayBuffer(4) as never)).toThrow(
      /^buf must be a Buffer, TypedArray, DataView or ArrayBuffer, got/,
    );
    a.close();
    b.close();
  });

  it('Socket.fromFd adopts a descriptor and learns its family and type', () => {
    const u = socket('inet6', 'dgram');
    const adopted = Socket.fromFd(u.detach());
    expect(u.closed).toBe(true);
    expect(adopted.family).toBe('inet6');
    expect(adopted.type).toBe('dgram');
    adopted.close();
  });
});

describe('options', () => {
  it('setsockopt/getsockopt for the usual options', () => {
    const s = socket('inet6');
    s.setsockopt(uv.IPPROTO_TCP, uv.TCP_NODELAY, true);
    expect(s.getsockopt(uv.IPPROTO_TCP, uv.TCP_NODELAY)).not.toBe(0);
    s.setsockopt(SOL_SOCKET, uv.SO_KEEPALIVE, 1);
    expect(s.getsockopt(SOL_SOCKET, uv.SO_KEEPALIVE)).not.toBe(0);
    s.setsockopt(SOL_SOCKET, uv.SO_REUSEPORT, 1);
    expect(s.getsockopt(SOL_SOCKET, uv.SO_REUSEPORT)).not.toBe(0);
    s.setsockopt(uv.IPPROTO_IPV6, uv.IPV6_V6ONLY, 1);
    expect(s.getsockopt(uv.IPPROTO_IPV6, uv.IPV6_V6ONLY)).toBe(1);
    s.setsockopt(SOL_SOCKET, uv.SO_RCVBUF, 65536);
    expect(s.getsockopt(SOL_SOCKET, uv.SO_RCVBUF)).toBeGreaterThanOrEqual(65536);
    expect(s.getsockopt(SOL_SOCKET, uv.SO_ERROR)).toBe(0);
    expect(() => s.setsockopt(SOL_SOCKET, 99999, 1)).toThrow(expect.objectContaining({ syscall: 'setsockopt' }));
    s.close();
  });

  it('an inet6 socket reaches an IPv4 address through a v4-mapped address', () => {
    const srv = listener('inet', '127.0.0.1');
    const cli = socket('inet6');
    cli.tryConnect(srv.getsockname());
    waitWritable(cli.fileno());
    expect(cli.getError()).toBe(0);
    expect((cli.getpeername() as uv.InetAddress).address).toBe('::ffff:127.0.0.1');
    cli.close();
    srv.close();
  });
});

describe('closed sockets and bad arguments', () => {
  it('close is idempotent and a closed socket raises EBADF', () => {
    const s = socket();
    s.close();
    s.close();
    expect(s.closed).toBe(true);
    expect(s.fileno()).toBe(-1);
    expect(() => s.recv(1)).toThrow(/recv EBADF \(socket is closed\)/);
    expect(() => s.bind({ port: 0 })).toThrow(expect.objectContaining({ code: 'EBADF', syscall: 'bind' }));
    expect(s.tryRecvInto(Buffer.alloc(1))).toBe(-uv.EBADF);
    expect(s.trySend(Buffer.alloc(1))).toBe(-uv.EBADF);
  });

  it('throws TypeError/RangeError naming the argument', () => {
    expect(() => socket('bogus' as never)).toThrow(new TypeError(`family must be 'inet', 'inet6' or 'unix', got string "bogus"`));
    expect(() => socket('inet', 'raw' as never)).toThrow(TypeError);
    expect(() => socket('inet', 'raw' as never)).toThrow(/^type must be/);
    expect(() => Socket.fromFd(1.5)).toThrow(new TypeError('fd must be a non-negative integer, got number 1.5'));
    expect(() => Socket.fromFd('3' as never)).toThrow(/^fd must be/);
    const [a, b] = socketpair();
    expect(() => a.send('text' as never)).toThrow(new TypeError('data must be a Buffer, TypedArray or DataView, got string "text"'));
    expect(() => a.tryRecvInto([1, 2] as never)).toThrow(/^buf must be a Buffer/);
    expect(() => a.tryRecvInto(Buffer.alloc(4), 2, 3)).toThrow(RangeError);
    expect(() => a.tryRecvInto(Buffer.alloc(4), 0.5)).toThrow(/^offset must be an integer/);
    expect(() => a.trySendv('x' as never)).toThrow(/^bufs must be an array/);
    expect(() => a.trySendv([Buffer.from('a'), 'b'] as never)).toThrow(TypeError);
    expect(() => a.trySendv([Buffer.from('a'), 'b'] as never)).toThrow(/bufs\[i\]/);
    a.close();
    b.close();
    const t = socket('inet');
    expect(() => t.bind({ address: 'localhost', port: 0 })).toThrow(/address must be a numeric IPv4 or IPv6 address/);
    expect(() => t.bind({ address: '::1', port: 0 })).toThrow(/is IPv6 but the socket family is 'inet'/);
    expect(() => t.bind({ port: 70000 })).toThrow(RangeError);
    expect(() => t.bind({ path: '/tmp/x' } as never)).toThrow(/^address must be \{address\?, port\}/);
    expect(() => t.listen('5' as never)).toThrow(/^backlog must be an integer/);
    t.close();
    expect(() => socket('unix').bind({ port: 1 } as never)).toThrow(/^address must be a path string or \{path\}/);
  });
});

describe('errnoError / errnoName', () => {
  it('builds Node-style errors', () => {
    expect(uv.errnoName(-uv.ECONNRESET)).toBe('ECONNRESET');
    expect(uv.errnoName(EINPROGRESS)).toBe('EINPROGRESS');
    const e = uv.errnoError(-uv.EPIPE, 'write');
    expect(e).toBeInstanceOf(Error);
    expect(e).toMatchObject({ message: 'write EPIPE', code: 'EPIPE', errno: -uv.EPIPE, syscall: 'write' });
    expect(uv.errnoError(uv.ENOENT, 'connect', { path: '/x' }).message).toBe('connect ENOENT /x');
  });
});

describe('no descriptor leak', () => {
  it('1,000 create/connect/accept/close cycles leave /proc/self/fd unchanged', () => {
    const before = openFds();
    if (before < 0) return; // no /proc (macOS): nothing to count
    const srv = listener('inet', '127.0.0.1');
    const addr = srv.getsockname();
    for (let i = 0; i < 1000; i++) {
      const c = socket('inet');
      c.tryConnect(addr);
      let fd = srv.tryAccept();
      if (fd === -EAGAIN) {
        waitReadable(srv.fileno());
        fd = srv.tryAccept();
      }
      expect(fd).toBeGreaterThanOrEqual(0);
      Socket.fromFd(fd).close();
      c.close();
    }
    srv.close();
    expect(openFds()).toBe(before);
  });
});

describe('what a Socket holds', () => {
  it('no more than an object of its three fields (fd, family, type): no per-instance private brand', () => {
    // A private instance method would give every Socket a brand field, 8 bytes of each connection.
    class ThreeFields {
      fd = 3;
      family = 'inet';
      type = 'stream';
    }
    const probes = Array.from({ length: 50 }, () => new ThreeFields());
    const sockets = Array.from({ length: 50 }, () => socket('inet', 'stream'));
    try {
      const snapshot = JSON.parse(readSnapshot()) as {
        snapshot: { meta: { node_fields: string[]; edge_fields: string[] } };
        nodes: number[];
        edges: number[];
        strings: string[];
      };
      const { node_fields: nodeFields, edge_fields: edgeFields } = snapshot.snapshot.meta;
      const [nameAt, sizeAt, edgeCountAt] = ['name', 'self_size', 'edge_count'].map((f) => nodeFields.indexOf(f));
      const edgeNameAt = edgeFields.indexOf('name_or_index');
      const family = snapshot.strings.indexOf('family');
      /** Self sizes of the objects named `name` with a 'family' property (other classes are called Socket too). */
      const sizesOf = (name: string): number[] => {
        const named = snapshot.strings.indexOf(name);
        const sizes: number[] = [];
        for (let i = 0, edge = 0; i < snapshot.nodes.length; i += nodeFields.length) {
          const edges = snapshot.nodes[i + edgeCountAt!]!;
          if (snapshot.nodes[i + nameAt!] === named) {
            for (let k = edge; k < edge + edges; k++) {
              if (snapshot.edges[k * edgeFields.length + edgeNameAt] === family) {
                sizes.push(snapshot.nodes[i + sizeAt!]!);
                break;
              }
            }
          }
          edge += edges;
        }
        return sizes;
      };
      const probeSizes = sizesOf('ThreeFields');
      const socketSizes = sizesOf('Socket');
      expect(probeSizes).toHaveLength(probes.length);
      expect(socketSizes.length).toBeGreaterThanOrEqual(sockets.length); // with the earlier tests' uncollected ones
      expect(Math.max(...socketSizes)).toBeLessThanOrEqual(Math.min(...probeSizes));
    } finally {
      for (const sock of sockets) sock.close();
    }
  }, 60_000); // a heap snapshot of the test's own process, all CPU: 7.7 s at load 16 of the default 20 s
});

describe('a Socket collected without close()', () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  const pause = () => new Promise((resolve) => setTimeout(resolve, 10));

  it('has its fd closed after a full collection', async () => {
    if (!gc || openFds() < 0) return; // needs --expose-gc (vitest.config) and /proc
    // Earlier tests' unclosed sockets go first.
    for (let i = 0; i < 3; i++) {
      gc();
      await pause();
    }
    const before = openFds();
    (() => {
      for (let i = 0; i < 50; i++) socket('inet');
    })();
    expect(openFds()).toBe(before + 50);
    for (let i = 0; i < 20 && openFds() > before; i++) {
      gc();
      await pause();
    }
    expect(openFds()).toBe(before);
  });

  it('past 1,024 fds (a sweep in chunks, one per host task), every collected fd is closed', async () => {
    if (!gc || openFds() < 0) return;
    for (let i = 0; i < 3; i++) {
      gc();
      await pause();
    }
    const before = openFds();
    const count = 1100;
    (() => {
      for (let i = 0; i < count; i++) socket('inet');
    })();
    expect(openFds()).toBe(before + count);
    for (let i = 0; i < 20 && openFds() > before; i++) {
      gc();
      await pause();
    }
    expect(openFds()).toBe(before);
  });

  it("closed or detached first, it never closes its fd number's next owner", async () => {
    if (!gc) return;
    const files: number[] = [];
    const detachedFds: number[] = [];
    (() => {
      for (let i = 0; i < 20; i++) {
        const closed = socket('inet');
        const fd = closed.fileno();
        closed.close();
        // The lowest free number, the one just closed, now a file's that no Socket owns.
        files.push(openSync('/dev/null', 'r'));
        expect(files.at(-1)).toBe(fd);
        detachedFds.push(socket('inet').detach());
      }
    })();
    for (let i = 0; i < 5; i++) {
      gc();
      await pause();
    }
    for (const fd of files) {
      expect(fstatSync(fd).isCharacterDevice()).toBe(true); // still open: EBADF would throw
      closeSync(fd);
    }
    // The detached fds are the caller's: still open.
    for (const fd of detachedFds) Socket.fromFd(fd).close();
  });
});

/** The heap snapshot of this process, as text. */
function readSnapshot(): string {
  const stream = v8.getHeapSnapshot();
  let text = '';
  for (let chunk; (chunk = stream.read()) !== null; ) text += chunk;
  return text;
}

describe('tryRecvBatch', () => {
  it('reads each fd in turn into one buffer, 8-aligned, with EOF and EAGAIN per fd, and stops short of minRoom', () => {
    const pairs = [socketpair(), socketpair(), socketpair(), socketpair()];
    pairs[0]![1].send(Buffer.from('first'));
    pairs[1]![1].close(); // EOF
    // pairs[2]: nothing sent (EAGAIN)
    pairs[3]![1].send(Buffer.from('fourth'));
    for (const i of [0, 1, 3]) waitReadable(pairs[i]![0].fileno());
    const fds = Int32Array.from(pairs.map(([a]) => a.fileno()));
    const out = new Int32Array(8).fill(99);
    const buf = Buffer.alloc(64);
    expect(uv.tryRecvBatch(fds, 0, 4, buf, 16, 48, 8, out)).toBe(4);
    expect(Array.from(out)).toEqual([16, 5, 24, 0, 24, -EAGAIN, 24, 6]);
    expect(buf.subarray(16, 21).toString()).toBe('first');
    expect(buf.subarray(24, 30).toString()).toBe('fourth');
    // From index 1, with room for one read of at least 40 bytes: fds[2] is not read.
    pairs[0]![1].send(Buffer.from('again'));
    pairs[3]![1].send(Buffer.from('left in the kernel'));
    waitReadable(pairs[0]![0].fileno());
    fds[1] = pairs[0]![0].fileno();
    expect(uv.tryRecvBatch(fds, 1, 4, buf, 0, 44, 40, out)).toBe(2);
    expect(out.subarray(2, 4)).toEqual(Int32Array.from([0, 5]));
    expect(pairs[3]![0].recv(64).toString()).toBe('left in the kernel');
    for (const [a, b] of pairs) {
      a.close();
      if (!b.closed) b.close();
    }
  });

  it("reads into an ArrayBuffer (the receive slab's memory) at an offset, within its bytes", () => {
    const [a, b] = socketpair();
    const [c, d] = socketpair();
    b.send(Buffer.from('one'));
    d.send(Buffer.from('two'));
    waitReadable(a.fileno());
    waitReadable(c.fileno());
    const memory = new ArrayBuffer(32);
    const out = new Int32Array(4);
    expect(uv.tryRecvBatch(Int32Array.from([a.fileno(), c.fileno()]), 0, 2, memory, 8, 24, 8, out)).toBe(2);
    expect(Array.from(out)).toEqual([8, 3, 16, 3]);
    expect(Buffer.from(memory, 8, 3).toString() + Buffer.from(memory, 16, 3).toString()).toBe('onetwo');
    expect(() => uv.tryRecvBatch(Int32Array.from([a.fileno()]), 0, 1, memory, 16, 24, 8, out)).toThrow(/within buf/);
    for (const s of [a, b, c, d]) s.close();
  });

  it('names a bad argument', () => {
    const fds = new Int32Array(2);
    const out = new Int32Array(4);
    const buf = Buffer.alloc(16);
    expect(() => uv.tryRecvBatch([0, 1] as unknown as Int32Array, 0, 2, buf, 0, 16, 8, out)).toThrow(/fds must be an Int32Array/);
    expect(() => uv.tryRecvBatch(fds, 0, 3, buf, 0, 16, 8, out)).toThrow(/count/);
    expect(() => uv.tryRecvBatch(fds, 0, 2, buf, 0, 16, 8, new Int32Array(2))).toThrow(/out\.length/);
    expect(() => uv.tryRecvBatch(fds, 0, 2, buf, 8, 16, 8, out)).toThrow(/within buf/);
    expect(() => uv.tryRecvBatch(fds, 0, 2, buf, 0, 16, 0, out)).toThrow(/minRoom must be >= 1/);
  });
});
