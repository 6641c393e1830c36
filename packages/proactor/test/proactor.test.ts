/** The Proactor contract on NetProactor, and what is specific to ProactorEventLoop. */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { CancelledError, NotImplementedError, Protocol, sleep, type Future, type Server, type Transport } from '@loopkit/core';
import { NetProactor, NetSocket, ProactorEventLoop } from '@loopkit/proactor';
import { run } from './run-loop.js';
import { isAvailable as uvAvailable, socketpair, type Socket } from '@loopkit/uv';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

async function waitFor(cond: () => boolean): Promise<void> {
  const end = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`not met: ${cond}`);
    await sleep(0.002);
  }
}

/** A connected pair of NetSockets: one from connect, one from accept on a non-serving server. */
async function netPair(loop: ProactorEventLoop): Promise<[NetSocket, NetSocket, Server]> {
  const server = await loop.createServer(() => new Protocol(), '127.0.0.1', 0, { startServing: false });
  const listener = server.sockets[0] as NetSocket;
  const client = new NetSocket('inet');
  const accepting = loop.createTask(() => loop.sockAccept(listener));
  await loop.sockConnect(client, { address: '127.0.0.1', port: (listener.getsockname() as { port: number }).port });
  const [conn] = (await accepting) as [NetSocket, unknown];
  return [client, conn, server];
}

describe('NetProactor: the Proactor contract', () => {
  it('recv completes in select(), which returns the completed futures', async () => {
    await run(async (loop) => {
      const proactor = loop._proactor;
      const [a, b, server] = await netPair(loop);
      const fut = proactor.recv(b, 100);
      expect(fut.done()).toBe(false);
      await loop.sockSendall(a, Buffer.from('ping'));
      await waitFor(() => fut.done());
      expect(Buffer.from(fut.result()).toString()).toBe('ping');
      // select() (the loop's I/O step) hands back what it completed, once.
      const next = proactor.recv(b, 100);
      await loop.sockSendall(a, Buffer.from('pong'));
      let completed: Future<unknown>[] = [];
      await waitFor(() => {
        completed = proactor.select(0);
        return completed.length > 0 || next.done();
      });
      expect(next.done()).toBe(true);
      a.close();
      b.close();
      server.close();
    });
  });

  it('a send the OS takes at once returns a done future', async () => {
    await run(async (loop) => {
      const [a, b, server] = await netPair(loop);
      const fut = loop._proactor.send(a, Buffer.from('now'));
      expect(fut.done()).toBe(true);
      expect(fut.result()).toBe(3);
      expect(Buffer.from(await loop.sockRecv(b, 10)).toString()).toBe('now');
      a.close();
      b.close();
      server.close();
    });
  });

  it('cancelling a recv whose bytes arrived but were not yet selected keeps them for the next recv', async () => {
    await run(async (loop) => {
      const [a, b, server] = await netPair(loop);
      // A proactor the loop never selects: completions wait until we look.
      const side = new NetProactor();
      side.setLoop(loop);
      const first = side.recv(b, 100);
      await loop.sockSendall(a, Buffer.from('kept'));
      // The bytes reach b while `first` is still posted: wait for the side proactor's news (a
      // fixed sleep failed under load, when the sleep's timer ran before Node read the socket).
      const news = () => (side as unknown as { readyHead: unknown }).readyHead !== null;
      for (let waited = 0; !news() && waited < 500; waited++) await sleep(0.01);
      expect(news()).toBe(true);
      expect(first.done()).toBe(false);
      expect(first.cancel()).toBe(true);
      const second = side.recv(b, 100);
      expect(second.done()).toBe(true);
      expect(Buffer.from(second.result()).toString()).toBe('kept');
      side.close();
      a.close();
      b.close();
      server.close();
    });
  });

  it('a NetSocket with a receive waiting on one NetProactor is refused by another; once idle it moves over', async () => {
    await run(async (loop) => {
      const [a, b, server] = await netPair(loop);
      const side = new NetProactor();
      side.setLoop(loop);
      const waiting = loop.sockRecv(b, 100);
      await sleep(0.01);
      // The receive stays the loop's: the other proactor would have left it waiting forever.
      expect(() => side.recv(b, 100)).toThrow('this NetSocket has operations or a transport on another NetProactor');
      await loop.sockSendall(a, Buffer.from('first'));
      expect(Buffer.from(await waiting).toString()).toBe('first');
      const moved = side.recv(b, 100);
      await loop.sockSendall(a, Buffer.from('second'));
      for (let waited = 0; (side.select(0), !moved.done()) && waited < 500; waited++) await sleep(0.01);
      expect(Buffer.from(moved.result()).toString()).toBe('second');
      side.close();
      a.close();
      b.close();
      server.close();
    });
  });

  it('cancelling the task awaiting sockRecv cancels the receive, keeping later bytes', async () => {
    await run(async (loop) => {
      const [a, b, server] = await netPair(loop);
      const task = loop.createTask(() => loop.sockRecv(b, 100));
      await sleep(0.01);
      task.cancel();
      await expect(Promise.resolve(task)).rejects.toBeInstanceOf(CancelledError);
      await loop.sockSendall(a, Buffer.from('after'));
      expect(Buffer.from(await loop.sockRecv(b, 100)).toString()).toBe('after');
      a.close();
      b.close();
      server.close();
    });
  });

  it('receives complete in posting order; recvInto fills the caller buffer; EOF is empty', async () => {
    await run(async (loop) => {
      const proactor = loop._proactor;
      const [a, b, server] = await netPair(loop);
      const r1 = proactor.recv(b, 3);
      const buf = Buffer.alloc(10);
      const r2 = proactor.recvInto(b, buf);
      await loop.sockSendall(a, Buffer.from('abcdef'));
      await waitFor(() => r2.done());
      expect(Buffer.from(r1.result()).toString()).toBe('abc');
      expect(buf.subarray(0, r2.result()).toString()).toBe('def');
      a.shutdownWrite();
      expect((await loop.sockRecv(b, 10)).length).toBe(0);
      a.close();
      b.close();
      server.close();
    });
  });

  it('sendfile sends a range of a file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loopkit-'));
    onTestFinished(() => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'data');
    const content = Buffer.alloc(200_000, 'xyz');
    fs.writeFileSync(file, content);
    const fd = fs.openSync(file, 'r');
    try {
      await run(async (loop) => {
        const [a, b, server] = await netPair(loop);
        const sent = loop._proactor.sendfile(a, fd, 1000, 150_000);
        const parts: Buffer[] = [];
        let got = 0;
        while (got < 150_000) {
          const part = Buffer.from(await loop.sockRecv(b, 65536));
          parts.push(part);
          got += part.length;
        }
        expect(await sent).toBe(150_000);
        expect(Buffer.concat(parts).equals(content.subarray(1000, 151_000))).toBe(true);
        a.close();
        b.close();
        server.close();
      });
    } finally {
      fs.closeSync(fd);
    }
  });

  it('rejects bad arguments with TypeError/RangeError naming them', async () => {
    await run(async (loop) => {
      const proactor = loop._proactor;
      const sock = new NetSocket('inet');
      expect(() => proactor.recv('nope', 1)).toThrow(/sock must be/);
      expect(() => proactor.recv(sock, -1)).toThrow(RangeError);
      expect(() => proactor.send(sock, 'text' as never)).toThrow(/data must be/);
      expect(() => proactor.recvInto(sock, null as never)).toThrow(/buf must be/);
      await expect(loop.sockRecv(sock, 1)).rejects.toMatchObject({ code: 'ENOTCONN' });
      expect(() => new NetSocket('ipx' as never)).toThrow(TypeError);
      expect(() => new ProactorEventLoop({} as never)).toThrow(/proactor must implement/);
      await expect(loop.createServer(() => new Protocol(), '127.0.0.1', 0, { backlog: -1 })).rejects.toThrow(/backlog/);
      await expect(loop.createConnection('x' as never, '127.0.0.1', 1)).rejects.toThrow(/protocolFactory/);
    });
  });
});

/** The kernel's transparent-huge-page mode ("always", "madvise" or "never"), or null where it has none. */
function thpMode(): string | null {
  try {
    return /\[(\w+)\]/.exec(fs.readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8'))?.[1] ?? null;
  } catch {
    return null;
  }
}
const glibc = process.platform === 'linux' && Boolean((process.report?.getReport() as { header?: { glibcVersionRuntime?: string } })?.header?.glibcVersionRuntime);

describe.runIf(uvAvailable() && glibc && (thpMode() === 'madvise' || thpMode() === 'always'))('NetProactor: huge pages for received memory', () => {
  it('asks for huge pages on the heap at the first read, of any size, not before', () => {
    // In a fresh process: connected, then an echo of 1 KiB messages; before the first and after
    // each, the MiB of mappings advised for huge pages (VmFlags "hg" in /proc/self/smaps).
    const script = `
      import { readFileSync } from 'node:fs';
      import { ProactorEventLoop } from '@loopkit/proactor';
      import { Protocol } from '@loopkit/core';
      const advisedMiB = () => {
        let kib = 0;
        for (const mapping of readFileSync('/proc/self/smaps', 'utf8').split(/\\n(?=[0-9a-f]+-[0-9a-f]+ )/)) {
          if (/^VmFlags:.* hg/m.test(mapping)) kib += Number(/^Size:\\s+(\\d+) kB/m.exec(mapping)[1]);
        }
        return kib / 1024;
      };
      class Echo extends Protocol { connectionMade(t) { this.t = t; } dataReceived(d) { this.t.write(d); } }
      const loop = new ProactorEventLoop();
      const seen = [];
      await loop.runUntilComplete(async () => {
        const server = await loop.createServer(() => new Echo(), '127.0.0.1', 0);
        let want = 0, got = 0, done = null;
        class Client extends Protocol { dataReceived(d) { got += d.length; if (got >= want) done(); } }
        const [transport] = await loop.createConnection(() => new Client(), '127.0.0.1', server.sockets[0].getsockname().port);
        seen.push(advisedMiB());
        for (const size of [1024]) {
          want += size;
          const echoed = new Promise((resolve) => (done = resolve));
          transport.write(Buffer.alloc(size, 120));
          await echoed;
          seen.push(advisedMiB());
        }
        transport.close();
        server.close();
      });
      console.log(JSON.stringify(seen));
    `;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, timeout: 20_000, encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
    const seen = JSON.parse(result.stdout) as number[];
    expect(seen[0]).toBe(0);
    expect(seen[1]).toBeGreaterThanOrEqual(28);
  });
});

describe("NetSocket's received chunks", () => {
  /** Chunk `i` of a stream: its bytes are (i * 7 + k) & 255, so order and position show. */
  const chunkOf = (i: number, size: number): Buffer => Buffer.from(Array.from({ length: size }, (_, k) => (i * 7 + k) & 255));

  it('a stream that is not the direct reader reads at most 128 KiB at a time', () => {
    // In a fresh process: connection A reads first (the direct reader from its second read on),
    // then B, paused until a peer's 1 MiB waits whole in its kernel buffer, reads it through
    // the shared scratch buffer: each read asks for 128 KiB (256 KiB reads made the kernel's
    // copy to user space ~3x dearer per byte at 100 KiB x 10: bench/README.md, session 25).
    const script = `
      import * as net from 'node:net';
      import { Protocol } from '@loopkit/core';
      import { ProactorEventLoop } from '@loopkit/proactor';
      const big = Buffer.alloc(1024 * 1024, 7);
      const peers = net.createServer((c) => c.write(big));
      await new Promise((resolve) => peers.listen(0, '127.0.0.1', resolve));
      const port = peers.address().port;
      const loop = new ProactorEventLoop();
      const lengths = [];
      await loop.runUntilComplete(async () => {
        let first = null;
        class A extends Protocol { dataReceived() { first?.(); } }
        const firstRead = new Promise((resolve) => (first = resolve));
        const [a] = await loop.createConnection(() => new A(), '127.0.0.1', port);
        await firstRead;
        let got = 0, done = null;
        class B extends Protocol {
          connectionMade(t) { t.pauseReading(); setTimeout(() => t.resumeReading(), 300); }
          dataReceived(d) { lengths.push(d.length); got += d.length; if (got === big.length) done(); }
        }
        const all = new Promise((resolve) => (done = resolve));
        const [b] = await loop.createConnection(() => new B(), '127.0.0.1', port);
        await all;
        a.close();
        b.close();
      });
      peers.close();
      console.log(JSON.stringify(lengths));
    `;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, timeout: 20_000, encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
    const lengths = JSON.parse(result.stdout) as number[];
    expect(Math.max(...lengths)).toBe(128 * 1024);
  });

  it('one stream reads straight into a slab of its own, the others copy into the shared receive slab or a buffer of their own', () => {
    // In a fresh process (no stream has read yet): an echo server and two client connections of
    // the same loop. The accepted connection reads first, so it becomes the direct reader at
    // its first read: from its second read on, its chunks are views of a 256 KiB slab that is
    // not core's receive slab (nothing was copied there). The clients' reads copy: under 64
    // KiB into core's receive slab, larger into a buffer of exactly their size. Once the
    // direct reader's connection closed, the next accepted connection takes over.
    const script = `
      import { Protocol, receiveSlab } from '@loopkit/core';
      import { ProactorEventLoop } from '@loopkit/proactor';
      const inCoreSlab = (chunk) => chunk.buffer === receiveSlab.withRoom(0).buffer;
      const kindOf = (chunk) => inCoreSlab(chunk) ? 'core' : chunk.buffer.byteLength === 256 * 1024 ? 'slab' : chunk.buffer.byteLength === chunk.length ? 'own' : 'other';
      const seen = { server: [], client: [] };
      let serving = 0;
      class Echo extends Protocol {
        connectionMade(t) { this.t = t; this.n = serving++; }
        dataReceived(d) { seen.server.push([this.n, kindOf(d), d.length]); this.t.write(d); }
      }
      const message = (size, seed) => Buffer.from(Array.from({ length: size }, (_, k) => (seed * 31 + k * 7) & 255));
      const loop = new ProactorEventLoop();
      let intact = true;
      await loop.runUntilComplete(async () => {
        const server = await loop.createServer(() => new Echo(), '127.0.0.1', 0);
        const port = server.sockets[0].getsockname().port;
        for (const connection of [0, 1]) {
          let got = [], want = 0, done = null;
          class Client extends Protocol {
            dataReceived(d) { seen.client.push([connection, kindOf(d), d.length]); got.push(Buffer.from(d)); want -= d.length; if (want <= 0) done(); }
          }
          const [transport] = await loop.createConnection(() => new Client(), '127.0.0.1', port);
          for (const [i, size] of [1024, 7, 16384, 1024, 40000, 100 * 1024, 1, 1024].entries()) {
            const sent = message(size, i + 10 * connection);
            got = [];
            want = size;
            const echoed = new Promise((resolve) => (done = resolve));
            transport.write(sent);
            await echoed;
            if (!Buffer.concat(got).equals(sent)) intact = false;
          }
          transport.close();
          // The server side's close reaches its handle's 'close' before the next connection reads.
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        server.close();
      });
      console.log(JSON.stringify({ intact, seen }));
    `;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, timeout: 20_000, encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
    const { intact, seen } = JSON.parse(result.stdout) as { intact: boolean; seen: Record<'server' | 'client', Array<[number, string, number]>> };
    expect(intact).toBe(true);
    for (const connection of [0, 1]) {
      const served = seen.server.filter(([n]) => n === connection);
      // The first read was copied (into core's slab: 1 KiB); every later one was read in place.
      expect(served[0]).toEqual([connection, 'core', 1024]);
      expect(served.slice(1).map(([, kind]) => kind)).toEqual(served.slice(1).map(() => 'slab'));
      expect(served.length).toBeGreaterThan(5);
    }
    for (const [, kind, length] of seen.client) expect(kind).toBe(length < 64 * 1024 ? 'core' : 'own');
    expect(seen.client.some(([, , length]) => length >= 64 * 1024)).toBe(true);
  });

  it('hands every byte out once and in order, through partial takes, a backlog past its kept slots, and reuse', () => {
    const sock = new NetSocket('inet');
    for (const backlog of [1, 3, 100, 2]) {
      const sent: Buffer[] = [];
      for (let i = 0; i < backlog; i++) {
        const chunk = chunkOf(i + backlog, 1 + (i % 5));
        sent.push(chunk);
        expect(sock._keep(chunk)).toBe(true);
      }
      const expected = Buffer.concat(sent);
      expect(sock._buffered).toBe(expected.length);
      const got: Buffer[] = [];
      // Takes of 2 bytes split chunks; an into-buffer take of 7 spans several.
      for (let turn = 0; sock._buffered > 0 && turn < 2 * expected.length; turn++) {
        if (turn % 2 === 0) got.push(Buffer.from(sock._take(2)));
        else {
          const into = Buffer.alloc(7);
          got.push(into.subarray(0, sock._takeInto(into)));
        }
      }
      expect(Buffer.concat(got)).toEqual(expected);
      expect(sock._take(10).length).toBe(0);
    }
  });

  it('keeps a bounded list when the reader always leaves chunks behind (three arrive, one is taken, then one a turn)', () => {
    const sock = new NetSocket('inet');
    const got: Buffer[] = [];
    // The first unread chunk has a field of its own: the list holds the two behind it.
    const sent: Buffer[] = [chunkOf(0, 3), chunkOf(1, 3)];
    sock._keep(sent[0]!);
    sock._keep(sent[1]!);
    for (let i = 2; i <= 10_000; i++) {
      const chunk = chunkOf(i, 3);
      sent.push(chunk);
      sock._keep(chunk);
      got.push(Buffer.from(sock._take(3)));
    }
    // The list, not what it holds, is what would grow: 10,000 taken slots without compaction.
    expect((sock as unknown as { parts: { later: { slots: Buffer[] } } }).parts.later.slots.length).toBeLessThanOrEqual(64);
    got.push(Buffer.from(sock._take(3)), Buffer.from(sock._take(3)));
    expect(Buffer.concat(got)).toEqual(Buffer.concat(sent));
  });
});

describe.skipIf(!uvAvailable())('NetProactor on @loopkit/uv sockets', () => {
  it('cancelling a recv on a uv socket keeps the bytes', async () => {
    await run(async (loop) => {
      const [a, b] = socketpair() as [Socket, Socket];
      const side = new NetProactor();
      side.setLoop(loop);
      try {
        const first = side.recv(b, 100);
        expect(first.done()).toBe(false);
        a.send(Buffer.from('still here'));
        await sleep(0.01); // b is readable; nobody selected `side`
        first.cancel();
        const second = side.recv(b, 100);
        expect(Buffer.from(second.result()).toString()).toBe('still here');
      } finally {
        side.close();
        a.close();
        b.close();
      }
    });
  });

  it('a recv waits for readiness and completes when data arrives', async () => {
    await run(async (loop) => {
      const [a, b] = socketpair() as [Socket, Socket];
      try {
        const receiving = loop.createTask(() => loop.sockRecv(b, 100));
        await sleep(0.01);
        expect(receiving.done()).toBe(false);
        await loop.sockSendall(a, Buffer.from('late'));
        expect(Buffer.from(await receiving).toString()).toBe('late');
      } finally {
        a.close();
        b.close();
      }
    });
  });
});

describe('ProactorEventLoop', () => {
  it('has no readiness API (NotImplementedError, as asyncio)', () => {
    const loop = new ProactorEventLoop();
    expect(() => loop.addReader(0, () => {})).toThrow(NotImplementedError);
    expect(() => loop.addWriter(0, () => {})).toThrow(NotImplementedError);
    expect(() => loop.removeReader(0)).toThrow(NotImplementedError);
    expect(() => loop.removeWriter(0)).toThrow(NotImplementedError);
    loop.close();
  });

  it('a BufferedProtocol receives into its own buffer', async () => {
    await run(async (loop) => {
      const server = await loop.createServer(
        () =>
          new (class extends Protocol {
            override connectionMade(t: Transport): void {
              t.write(Buffer.from('buffered hello'));
              t.close();
            }
          })(),
        '127.0.0.1',
        0,
      );
      const store = Buffer.alloc(64);
      let filled = 0;
      let eof = false;
      const protocol = {
        connectionMade() {},
        connectionLost() {},
        getBuffer: () => store.subarray(filled),
        bufferUpdated: (n: number) => {
          filled += n;
        },
        eofReceived: () => {
          eof = true;
        },
      };
      await loop.createConnection(() => protocol as never, '127.0.0.1', ((server.sockets[0] as NetSocket).getsockname() as { port: number }).port);
      await waitFor(() => eof);
      expect(store.subarray(0, filled).toString()).toBe('buffered hello');
      server.close();
    });
  });

  it('a signal handler runs on the loop, which idles until it arrives', async () => {
    await run(async (loop) => {
      const got = loop.createFuture<string>();
      loop.addSignalHandler('SIGUSR2', () => got.setResult('SIGUSR2'));
      setTimeout(() => process.kill(process.pid, 'SIGUSR2'), 10);
      expect(await got).toBe('SIGUSR2');
      expect(loop.removeSignalHandler('SIGUSR2')).toBe(true);
    });
  });

  it('a stopped loop with an open server keeps the process alive no longer', () => {
    const script = `
      import { ProactorEventLoop } from '@loopkit/proactor';
      import { Protocol } from '@loopkit/core';
      const loop = new ProactorEventLoop();
      await loop.runUntilComplete(async () => {
        const server = await loop.createServer(() => new Protocol(), '127.0.0.1', 0);
        await loop.createConnection(() => new Protocol(), '127.0.0.1', server.sockets[0].getsockname().port);
      });
      console.log('stopped');
    `;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, timeout: 10_000, encoding: 'utf8' });
    expect(result.stdout.trim()).toBe('stopped');
    expect(result.status).toBe(0);
  });
});
