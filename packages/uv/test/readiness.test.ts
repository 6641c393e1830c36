import { describe, expect, it } from 'vitest';
import { AsyncLocalStorage } from 'node:async_hooks';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import * as uv from '@loopkit/uv';
import { Epoll, Kqueue, PollSet, READABLE, WRITABLE, WakeupFd, socket, socketpair } from '@loopkit/uv';
import { openFds, selectorClasses, sleep } from './helpers.js';

const distIndex = fileURLToPath(new URL('../dist/index.js', import.meta.url));

function pairsOf(out: Int32Array, n: number): Map<number, number> {
  const m = new Map<number, number>();
  for (let i = 0; i < n; i++) m.set(out[2 * i], (m.get(out[2 * i]) ?? 0) | out[2 * i + 1]);
  return m;
}

describe.each(selectorClasses)('%s', (_name, Cls) => {
  it('reports readability after a write and writability', () => {
    const sel = new Cls();
    const [a, b] = socketpair();
    const out = new Int32Array(16);
    sel.add(a.fileno(), READABLE);
    expect(sel.wait(0, out)).toBe(0);
    b.send(Buffer.from('x'));
    let n = sel.wait(1, out);
    expect(pairsOf(out, n)).toEqual(new Map([[a.fileno(), READABLE]]));
    // Level-triggered: still ready until drained.
    expect(sel.wait(0, out)).toBe(1);
    a.recv(10);
    expect(sel.wait(0, out)).toBe(0);
    sel.modify(a.fileno(), READABLE | WRITABLE);
    n = sel.wait(0, out);
    expect(pairsOf(out, n)).toEqual(new Map([[a.fileno(), WRITABLE]]));
    sel.remove(a.fileno());
    expect(sel.wait(0, out)).toBe(0);
    sel.close();
    a.close();
    b.close();
  });

  it('reports a hangup as readable and writable, within the registered interest', () => {
    const sel = new Cls();
    const [a, b] = socketpair();
    const [c, d] = socketpair();
    sel.add(a.fileno(), READABLE | WRITABLE);
    sel.add(c.fileno(), READABLE);
    b.close();
    d.close();
    const out = new Int32Array(16);
    const got = pairsOf(out, sel.wait(1, out));
    expect(got.get(a.fileno())).toBe(READABLE | WRITABLE);
    expect(got.get(c.fileno())).toBe(READABLE);
    sel.close();
    a.close();
    c.close();
  });

  it('wait(0) and a negative timeout never block; a positive one blocks at most that long', () => {
    const sel = new Cls();
    const [a, b] = socketpair();
    sel.add(a.fileno(), READABLE);
    const out = new Int32Array(2);
    // Nothing is ready, so a wait that blocked would never return: the bound is a hang check, not a speed one.
    let t = performance.now();
    for (let i = 0; i < 100; i++) expect(sel.wait(0, out)).toBe(0);
    expect(sel.wait(-1, out)).toBe(0);
    expect(performance.now() - t).toBeLessThan(5000);
    t = performance.now();
    expect(sel.wait(0.05, out)).toBe(0);
    const waited = performance.now() - t;
    expect(waited).toBeGreaterThanOrEqual(45);
    expect(waited).toBeLessThan(1000);
    sel.close();
    a.close();
    b.close();
  });

  it('harvests many fds in one call, capped by out.length / 2', () => {
    const sel = new Cls();
    const pairs = Array.from({ length: 10 }, () => socketpair());
    for (const [a] of pairs) sel.add(a.fileno(), WRITABLE);
    const big = new Int32Array(64);
    expect(pairsOf(big, sel.wait(0, big)).size).toBe(10);
    const small = new Int32Array(6);
    expect(sel.wait(0, small)).toBe(3);
    sel.close();
    for (const [a, b] of pairs) { a.close(); b.close(); }
  });

  it('rejects duplicate, unknown and malformed registrations', () => {
    const sel = new Cls();
    const [a, b] = socketpair();
    expect(() => sel.add(-1, READABLE)).toThrow(new TypeError('fd must be a non-negative integer, got number -1'));
    expect(() => sel.add(1.5, READABLE)).toThrow(TypeError);
    expect(() => sel.add(a.fileno(), 4)).toThrow(RangeError);
    expect(() => sel.add(a.fileno(), 0)).toThrow(/^events must be READABLE/);
    expect(() => sel.wait(0, new Uint8Array(4) as never)).toThrow(/^out must be an Int32Array/);
    expect(() => sel.wait('1' as never, new Int32Array(2))).toThrow(/^timeout must be a number/);
    expect(() => sel.watch(42 as never)).toThrow(new TypeError('onReady must be a function, got number 42'));
    sel.add(a.fileno(), READABLE);
    if (!(sel instanceof Kqueue)) {
      // kqueue cannot tell add from modify; epoll and poll can.
      expect(() => sel.add(a.fileno(), READABLE)).toThrow(expect.objectContaining({ code: 'EEXIST' }));
      expect(() => sel.modify(b.fileno(), READABLE)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    }
    expect(() => sel.remove(b.fileno())).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    sel.close();
    sel.close();
    expect(sel.closed).toBe(true);
    expect(() => sel.wait(0, new Int32Array(2))).toThrow(/EBADF \(\w+ is closed\)/);
    a.close();
    b.close();
  });

  it('watch() fires onReady from Node\'s loop without blocking it; unwatch() stops it', async () => {
    const sel = new Cls();
    const [a, b] = socketpair();
    sel.add(a.fileno(), READABLE);
    const out = new Int32Array(8);
    const events: string[] = [];
    let calls = 0;
    let woke!: () => void;
    const wokeP = new Promise<void>((r) => (woke = r));
    sel.watch(() => {
      calls++;
      const n = sel.wait(0, out);
      events.push(`ready:${n}`);
      a.recv(100); // drain, or level-triggering wakes us again next tick
      queueMicrotask(() => events.push('microtask'));
      woke();
    });
    expect(sel.watching).toBe(true);
    expect(() => sel.watch(() => {})).toThrow(/already watching/);
    setTimeout(() => events.push('timer'), 5);
    setTimeout(() => b.send(Buffer.from('wake')), 30);
    await wokeP;
    // The timer ran while we were "waiting": the thread never blocked. The
    // microtask queued by onReady ran right after it (callback scope).
    expect(events).toEqual(['timer', 'ready:1', 'microtask']);
    expect(calls).toBe(1);

    sel.unwatch();
    expect(sel.watching).toBe(false);
    b.send(Buffer.from('again'));
    await sleep(50);
    expect(calls).toBe(1);
    // Watching again works and sees the pending data at once.
    const again = new Promise<void>((r) => sel.watch(() => { sel.unwatch(); r(); }));
    await again;
    sel.close();
    a.close();
    b.close();
  });

  it('onReady runs in the AsyncLocalStorage context of the watch() call', async () => {
    const als = new AsyncLocalStorage<string>();
    const sel = new Cls();
    const [a, b] = socketpair();
    sel.add(a.fileno(), READABLE);
    const seen = await new Promise<string | undefined>((resolve) => {
      als.run('watcher-context', () => sel.watch(() => { sel.unwatch(); resolve(als.getStore()); }));
      als.run('other', () => b.send(Buffer.from('x')));
    });
    expect(seen).toBe('watcher-context');
    sel.close();
    a.close();
    b.close();
  });

  it('close() from inside onReady is safe and final', async () => {
    const sel = new Cls();
    const [a, b] = socketpair();
    sel.add(a.fileno(), READABLE);
    let calls = 0;
    sel.watch(() => { calls++; sel.close(); });
    b.send(Buffer.from('x')); // never drained: level-triggered, it stays ready
    await sleep(50);
    expect(calls).toBe(1);
    expect(sel.closed).toBe(true);
    a.close();
    b.close();
  });

  it('close() while watching stops the watcher', async () => {
    const sel = new Cls();
    const [a, b] = socketpair();
    sel.add(a.fileno(), READABLE);
    let calls = 0;
    sel.watch(() => calls++);
    sel.close();
    expect(sel.watching).toBe(false);
    b.send(Buffer.from('x'));
    await sleep(30);
    expect(calls).toBe(0);
    a.close();
    b.close();
  });

  it('an exception thrown by onReady is reported as uncaught, not swallowed', async () => {
    const script = `
      const uv = await import(${JSON.stringify(distIndex)});
      const sel = new uv.${_name}();
      const [a, b] = uv.socketpair();
      sel.add(a.fileno(), uv.READABLE);
      process.on('uncaughtException', (e) => { console.log('caught:' + e.message); sel.close(); a.close(); b.close(); });
      sel.watch(() => { throw new Error('boom'); });
      b.send(Buffer.from('x'));
    `;
    const { code, stdout } = await runNode(script, 5000);
    expect(code).toBe(0);
    expect(stdout.trim()).toBe('caught:boom');
  });
});

function runNode(script: string, timeoutMs: number): Promise<{ code: number | null; stdout: string; timedOut: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    let timedOut = false;
    const t = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, timeoutMs);
    child.on('exit', (code) => { clearTimeout(t); resolve({ code, stdout, timedOut }); });
  });
}

describe.each(selectorClasses)('%s keep-alive (child processes)', (name) => {
  const setup = `
    const uv = await import(${JSON.stringify(distIndex)});
    const sel = new uv.${name}();
    const [a, b] = uv.socketpair();
    sel.add(a.fileno(), uv.READABLE);
  `;

  it('the process exits once the watcher is unwatched', async () => {
    const r = await runNode(`${setup}
      sel.watch(() => {});
      setTimeout(() => { sel.unwatch(); console.log('unwatched'); }, 50);`, 5000);
    expect(r).toEqual({ code: 0, stdout: 'unwatched\n', timedOut: false });
  });

  it('a watching, referenced watcher keeps the process alive; unref() lets it exit', async () => {
    const alive = await runNode(`${setup} sel.watch(() => {});`, 500);
    expect(alive.timedOut).toBe(true);
    const r = await runNode(`${setup} sel.watch(() => {}); sel.unref(); console.log('ok');`, 5000);
    expect(r).toEqual({ code: 0, stdout: 'ok\n', timedOut: false });
  });
});

describe('PollSet specifics', () => {
  it('closing a registered socket drops it from the set (no uv_poll on a dead fd)', async () => {
    const ps = new PollSet();
    const [a, b] = socketpair();
    const fd = a.fileno();
    ps.add(fd, READABLE);
    ps.watch(() => {});
    a.close();
    expect(() => ps.remove(fd)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    // The number can be reused and registered again at once.
    const [c, d] = socketpair();
    ps.add(c.fileno(), READABLE);
    ps.close();
    for (const s of [b, c, d]) s.close();
  });

  it('one fd cannot be watched by two PollSets at once', () => {
    const p1 = new PollSet();
    const p2 = new PollSet();
    const [a, b] = socketpair();
    p1.add(a.fileno(), READABLE);
    p2.add(a.fileno(), READABLE);
    p1.watch(() => {});
    expect(() => p2.watch(() => {})).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    expect(p2.watching).toBe(false);
    p1.close();
    p2.watch(() => {});
    p2.close();
    a.close();
    b.close();
  });

  it('coalesces many ready fds into one onReady call per tick', async () => {
    const ps = new PollSet();
    const pairs = Array.from({ length: 5 }, () => socketpair());
    for (const [a] of pairs) ps.add(a.fileno(), READABLE);
    const seen: number[] = [];
    const done = new Promise<void>((r) => {
      ps.watch(() => {
        const out = new Int32Array(32);
        seen.push(ps.wait(0, out));
        for (const [a] of pairs) a.recv(10);
        r();
      });
    });
    for (const [, b] of pairs) b.send(Buffer.from('x'));
    await done;
    await sleep(20);
    expect(seen).toEqual([5]);
    ps.close();
    for (const [a, b] of pairs) { a.close(); b.close(); }
  });
});

describe('PollSet.take: what the host loop reported, without a syscall', () => {
  /** Watch `ps` and resolve with take()'s pairs at the first onReady. */
  function nextTake(ps: PollSet): Promise<number[]> {
    return new Promise((resolve) => {
      ps.watch(() => {
        const out = new Int32Array(32);
        const n = ps.take(out);
        ps.unwatch();
        resolve(Array.from(out.subarray(0, 2 * n)));
      });
    });
  }

  it('hands over each reported (fd, events) pair once, masked by the registered events', async () => {
    const ps = new PollSet();
    const [a, b] = socketpair();
    const [c, d] = socketpair();
    ps.add(a.fileno(), READABLE);
    ps.add(c.fileno(), READABLE | WRITABLE);
    b.send(Buffer.from('x'));
    const pairs = await nextTake(ps);
    const byFd = new Map<number, number>();
    for (let i = 0; i < pairs.length; i += 2) byFd.set(pairs[i]!, pairs[i + 1]!);
    expect(byFd).toEqual(new Map([[a.fileno(), READABLE], [c.fileno(), WRITABLE]]));
    expect(ps.take(new Int32Array(32))).toBe(0); // taken once
    ps.close();
    for (const s of [a, b, c, d]) s.close();
  });

  it('keeps what does not fit for the next take; wait(), modify() and remove() drop reports', async () => {
    const ps = new PollSet();
    const pairs = Array.from({ length: 3 }, () => socketpair());
    for (const [x] of pairs) ps.add(x.fileno(), READABLE | WRITABLE);
    const taken = await new Promise<number[]>((resolve) => {
      ps.watch(() => {
        const one = new Int32Array(2);
        const counts = [ps.take(one), ps.take(one)];
        ps.modify(pairs[2]![0].fileno(), READABLE); // drops the third fd's report
        counts.push(ps.take(one));
        resolve(counts);
      });
    });
    expect(taken).toEqual([1, 1, 0]);
    ps.unwatch();
    const reported = new Promise<void>((resolve) => ps.watch(() => resolve()));
    await reported;
    ps.wait(0, new Int32Array(32)); // polls afresh: the reports are dropped
    expect(ps.take(new Int32Array(32))).toBe(0);
    ps.close();
    for (const [x, y] of pairs) { x.close(); y.close(); }
  });

  it('a peer reset goes on being reported while unread (libuv stops a poll on POLLERR; PollSet restarts it)', async () => {
    const ps = new PollSet();
    const server = socket('inet', 'stream');
    server.bind({ address: '127.0.0.1', port: 0 });
    server.listen(1);
    const client = socket('inet', 'stream');
    client.tryConnect({ address: '127.0.0.1', port: (server.getsockname() as { port: number }).port });
    await sleep(20);
    const [peer] = server.accept();
    client.trySend(Buffer.from('unread'));
    await sleep(20);
    peer.close(); // unread bytes: the kernel resets the connection
    await sleep(20);
    ps.add(client.fileno(), READABLE);
    const reports = await new Promise<number[][]>((resolve) => {
      const seen: number[][] = [];
      ps.watch(() => {
        const out = new Int32Array(8);
        seen.push(Array.from(out.subarray(0, 2 * ps.take(out))));
        if (seen.length === 3) resolve(seen);
      });
    });
    expect(reports).toEqual([[client.fileno(), READABLE], [client.fileno(), READABLE], [client.fileno(), READABLE]]);
    expect(client.tryRecvInto(Buffer.alloc(8))).toBeLessThan(0); // ECONNRESET
    ps.close();
    client.close();
    server.close();
  });

  it('watch(onReady, reports) writes the reports into the array as they come; what does not fit waits for take()', async () => {
    const ps = new PollSet();
    const pairs = Array.from({ length: 3 }, () => socketpair());
    for (const [x] of pairs) ps.add(x.fileno(), READABLE | WRITABLE);
    const reports = new Int32Array(2 + 2 * 2); // room for two pairs: the third overflows
    const seen = await new Promise<{ written: number; left: number; inArray: number[]; taken: number[]; after: number[] }>((resolve) => {
      ps.watch(() => {
        const written = reports[0]!;
        const left = reports[1]!;
        const inArray = Array.from(reports.subarray(2, 2 + 2 * written));
        reports[0] = 0;
        const out = new Int32Array(8);
        const taken = Array.from(out.subarray(0, 2 * ps.take(out)));
        ps.unwatch();
        resolve({ written, left, inArray, taken, after: Array.from(reports.subarray(0, 2)) });
      }, reports);
    });
    expect(seen.written).toBe(2);
    expect(seen.left).toBe(1);
    const fds = pairs.map(([x]) => x.fileno());
    const byFd = new Map<number, number>();
    for (const list of [seen.inArray, seen.taken]) for (let i = 0; i < list.length; i += 2) byFd.set(list[i]!, list[i + 1]!);
    expect(byFd).toEqual(new Map(fds.map((fd) => [fd, WRITABLE])));
    expect(seen.after).toEqual([0, 0]); // take() emptied the overflow; unwatch() keeps both counts at 0
    ps.close();
    for (const [x, y] of pairs) { x.close(); y.close(); }
  });

  it('modify(), remove() and wait() drop reports from the reports array too', async () => {
    const ps = new PollSet();
    const pairs = Array.from({ length: 3 }, () => socketpair());
    for (const [x] of pairs) ps.add(x.fileno(), READABLE | WRITABLE);
    const reports = new Int32Array(2 + 2 * 8);
    const [x0, x1, x2] = pairs.map(([x]) => x.fileno()) as [number, number, number];
    const seen = await new Promise<{ afterModify: number[]; afterRemove: number[]; afterWait: number }>((resolve) => {
      ps.watch(() => {
        ps.modify(x0, READABLE);
        const afterModify = Array.from(reports.subarray(2, 2 + 2 * reports[0]!));
        ps.remove(x1);
        const afterRemove = Array.from(reports.subarray(2, 2 + 2 * reports[0]!));
        ps.wait(0, new Int32Array(8));
        const afterWait = reports[0]!;
        ps.unwatch();
        resolve({ afterModify, afterRemove, afterWait });
      }, reports);
    });
    expect(new Set(seen.afterModify.filter((_, i) => i % 2 === 0))).toEqual(new Set([x1, x2]));
    expect(seen.afterRemove).toEqual([x2, WRITABLE]);
    expect(seen.afterWait).toBe(0);
    ps.close();
    for (const [x, y] of pairs) { x.close(); y.close(); }
  });

  it('watch rejects a bad reports array', () => {
    const ps = new PollSet();
    expect(() => ps.watch(() => {}, [] as never)).toThrow(TypeError);
    expect(() => ps.watch(() => {}, new Int32Array(3))).toThrow(RangeError);
    expect(ps.watching).toBe(false);
    ps.close();
  });

  it('take rejects a bad out array', () => {
    const ps = new PollSet();
    expect(() => ps.take([] as never)).toThrow(TypeError);
    expect(() => ps.take(new Int32Array(1))).toThrow(RangeError);
    ps.close();
  });
});

describe.runIf(Epoll.isSupported)('Epoll specifics', () => {
  it('exposes its descriptor, -1 once closed', () => {
    const ep = new Epoll();
    expect(ep.fd).toBeGreaterThan(2);
    ep.close();
    expect(ep.fd).toBe(-1);
  });

  it('garbage collection closes unreachable instances', async () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    const epolls = () => openFds('eventpoll');
    const before = epolls();
    if (!gc || before < 0) return;
    (() => { for (let i = 0; i < 50; i++) new Epoll(); })();
    expect(epolls()).toBe(before + 50);
    for (let i = 0; i < 10 && epolls() > before; i++) {
      gc();
      await sleep(10);
    }
    expect(epolls()).toBe(before);
  });
});

describe('Kqueue off its platforms', () => {
  it.skipIf(Kqueue.isSupported)('throws a clear error', () => {
    expect(() => new Kqueue()).toThrow(expect.objectContaining({ code: 'ERR_NOT_SUPPORTED' }));
    expect(() => new Kqueue()).toThrow(/Kqueue is not supported on \w+ \(needs macOS or FreeBSD\)/);
  });
});

describe('worker threads', () => {
  it('a worker exiting while watching leaves no open handle behind', async () => {
    const w = new Worker(
      `import(${JSON.stringify(distIndex)}).then((uv) => {
        const sels = [new uv.PollSet(), ${Epoll.isSupported ? 'new uv.Epoll()' : 'new uv.PollSet()'}];
        const [a, b] = uv.socketpair();
        sels[0].add(a.fileno(), uv.READABLE);
        for (const s of sels) s.watch(() => {});
        require('worker_threads').parentPort.postMessage('watching');
      });`,
      { eval: true },
    );
    await new Promise((r) => w.once('message', r));
    const code = await w.terminate();
    expect(code).toBe(1);
    // The process is still healthy: the addon works on the main thread.
    const s = socket();
    s.close();
  });
});

void uv;
