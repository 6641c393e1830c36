import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { READABLE, WakeupFd } from '@loopkit/uv';
import { selectorClasses } from './helpers.js';

const distIndex = fileURLToPath(new URL('../dist/index.js', import.meta.url));

describe('WakeupFd', () => {
  it('signal makes fd readable; drain consumes every pending signal', () => {
    const w = new WakeupFd();
    const [, Cls] = selectorClasses[0];
    const sel = new Cls();
    sel.add(w.fd, READABLE);
    const out = new Int32Array(2);
    expect(sel.wait(0, out)).toBe(0);
    expect(w.drain()).toBe(false);
    expect(w.signal()).toBe(true);
    expect(w.signal()).toBe(true);
    expect(sel.wait(0, out)).toBe(1);
    expect(out[0]).toBe(w.fd);
    expect(w.drain()).toBe(true);
    expect(sel.wait(0, out)).toBe(0);
    sel.close();
    w.close();
    w.close();
    expect(w.closed).toBe(true);
    expect(w.signal()).toBe(false);
    expect(() => WakeupFd.signalFd(-3)).toThrow(TypeError);
  });

  it.each(selectorClasses)('a worker_thread given only the number wakes a watching %s', async (_n, Cls) => {
    const w = new WakeupFd();
    const sel = new Cls();
    sel.add(w.fd, READABLE);
    const woke = new Promise<void>((resolve) => {
      sel.watch(() => {
        expect(w.drain()).toBe(true);
        resolve();
      });
    });
    const worker = new Worker(
      `const { workerData } = require('worker_threads');
       import(workerData.path).then((uv) => { uv.WakeupFd.signalFd(workerData.fd); });`,
      { eval: true, workerData: { path: distIndex, fd: w.writeFd } },
    );
    // Listen for the exit at once: PollSet's callback runs in the check phase, after the
    // poll phase may already have delivered the worker's exit.
    const exited = new Promise((r) => worker.once('exit', r));
    await woke;
    await exited;
    sel.close();
    w.close();
  });
});
