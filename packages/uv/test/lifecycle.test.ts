// Worker exit and env teardown: no crash when only workers load the addon, and
// every socket / wake-up fd a dying env still owns is closed (and nothing else).
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { closeSync, fstatSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Socket } from '@loopkit/uv';

const distIndex = fileURLToPath(new URL('../dist/index.js', import.meta.url));

function runNode(script: string, timeoutMs = 15000): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code, signal) => { clearTimeout(t); resolve({ code, signal, stdout, stderr }); });
  });
}

// Worker body (CommonJS eval): loads the addon, leaves sockets open (socket, socketpair,
// a listener with an accepted connection, an adopted fd, a WakeupFd); with `watch`, also
// selectors (and a ring where io_uring works) watched from Node's loop. Posts 'ready'.
const workerBody = `
const { workerData, parentPort } = require('worker_threads');
import(workerData.path).then((uv) => {
  const keep = [];
  const [a, b] = uv.socketpair();
  const l = uv.socket('inet');
  l.bind({ address: '127.0.0.1', port: 0 });
  l.listen();
  const c = uv.socket('inet');
  c.tryConnect({ address: '127.0.0.1', port: l.getsockname().port });
  let fd = -1;
  for (let i = 0; i < 200 && fd < 0; i++) fd = l.tryAccept();
  if (fd < 0) throw new Error('accept failed: ' + fd);
  const adopted = uv.Socket.fromFd(uv.socket('unix', 'dgram').detach());
  keep.push(a, b, l, c, fd, adopted, new uv.WakeupFd());
  if (workerData.watch) {
    const sels = [new uv.PollSet()];
    if (uv.Epoll.isSupported) sels.push(new uv.Epoll());
    if (uv.Kqueue.isSupported) sels.push(new uv.Kqueue());
    for (const sel of sels) { sel.add(sel === sels[0] ? a.fileno() : b.fileno(), uv.READABLE); sel.watch(() => {}); }
    if (uv.Uring.problem() === null) { const r = new uv.Uring(8); r.recv(a.fileno(), Buffer.alloc(16)); r.submit(); r.watch(() => {}); keep.push(r); }
    keep.push(sels);
  }
  globalThis.keep = keep;
  parentPort.postMessage('ready');
  if (workerData.how === 'exit') setTimeout(() => process.exit(0), 5);
});`;

// Child main thread: never imports @loopkit/uv. Runs `n` workers per exit mode, one at a time.
function childScript(opts: { watch: boolean; modes: string[]; n: number; countFds: boolean }): string {
  return `
    import { Worker } from 'node:worker_threads';
    import { readdirSync } from 'node:fs';
    const fds = () => readdirSync('/proc/self/fd').length;
    const body = ${JSON.stringify(workerBody)};
    const run = (how, watch) => new Promise((resolve, reject) => {
      const w = new Worker(body, { eval: true, execArgv: [], workerData: { path: ${JSON.stringify(distIndex)}, how, watch } });
      w.on('error', reject);
      w.on('message', () => { if (how === 'terminate') w.terminate(); });
      w.on('exit', resolve);
    });
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
    // Warm-up: a worker whose fds are all closed from JS, so the baseline
    // counts whatever Node itself keeps once it has run a worker.
    await new Promise((resolve) => {
      const w = new Worker("const { workerData } = require('worker_threads'); import(workerData).then((uv) => { const [a, b] = uv.socketpair(); a.close(); b.close(); });", { eval: true, execArgv: [], workerData: ${JSON.stringify(distIndex)} });
      w.on('exit', resolve);
    });
    await sleep(50);
    const base = ${opts.countFds} ? fds() : 0;
    for (const how of ${JSON.stringify(opts.modes)}) for (let i = 0; i < ${opts.n}; i++) await run(how, ${opts.watch});
    let after = base;
    if (${opts.countFds}) for (let i = 0; i < 40; i++) { after = fds(); if (after <= base) break; await sleep(25); }
    console.log(JSON.stringify({ base, after }));
  `;
}

describe('worker exit when the main thread never loaded the addon', () => {
  it.each([['exit'], ['terminate']])('a watching worker that ends by %s does not crash the process', async (how) => {
    const r = await runNode(childScript({ watch: true, modes: [how], n: 3, countFds: false }));
    expect({ code: r.code, signal: r.signal, stderr: r.stderr }).toEqual({ code: 0, signal: null, stderr: '' });
    expect(r.stdout).toContain('"base"');
  });

  it('a worker that only uses sockets does not crash the process', async () => {
    const r = await runNode(childScript({ watch: false, modes: ['exit', 'terminate'], n: 2, countFds: false }));
    expect({ code: r.code, signal: r.signal, stderr: r.stderr }).toEqual({ code: 0, signal: null, stderr: '' });
  });
});

describe.runIf(process.platform === 'linux')('descriptors left open by a worker', () => {
  it.each([
    ['exit', false], ['terminate', false], ['exit', true], ['terminate', true],
  ])('are closed when it ends by %s (watching: %s)', async (how, watch) => {
    const r = await runNode(childScript({ watch: watch as boolean, modes: [how as string], n: 5, countFds: true }));
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const { base, after } = JSON.parse(r.stdout.trim()) as { base: number; after: number };
    expect(base).toBeGreaterThan(0);
    expect(after).toBeLessThanOrEqual(base);
  });
});

// Ownership: the hook closes only what its env still owns, and only the same open file.
describe('the env cleanup hook closes only what the env still owns', () => {
  function inWorker(code: string, onMessage?: (m: unknown, w: Worker) => void): Promise<unknown[]> {
    return new Promise((resolve, reject) => {
      const got: unknown[] = [];
      const w = new Worker(
        `const { workerData, parentPort } = require('worker_threads');
         const fs = require('fs');
         import(workerData.path).then((uv) => { ${code} });`,
        { eval: true, workerData: { path: distIndex, file: scratchFile } },
      );
      w.on('message', (m) => { got.push(m); onMessage?.(m, w); });
      w.on('error', reject);
      w.on('exit', () => resolve(got));
    });
  }
  const dir = mkdtempSync(join(tmpdir(), 'loopkit-uv-'));
  const scratchFile = join(dir, 'f');
  closeSync(openSync(scratchFile, 'w'));

  const isOpen = (fd: number) => { try { fstatSync(fd); return true; } catch { return false; } };

  // A file opened by the main thread: Node itself closes the fds a worker opened with fs.
  it('a socket closed from JS is not closed again, even once its number is reused', async () => {
    let n = -1;
    let f = -1;
    await inWorker(
      `const s = uv.socket('inet');
       const n = s.fileno();
       s.close();
       parentPort.postMessage(n);
       parentPort.once('message', () => process.exit(0));`,
      (m, w) => { n = m as number; f = openSync(scratchFile, 'r'); w.postMessage('go'); },
    );
    expect(f).toBe(n);
    expect(isOpen(f)).toBe(true);
    closeSync(f);
  });

  it('an fd closed behind its Socket and reused by another file is left alone', async () => {
    let n = -1;
    let f = -1;
    await inWorker(
      `const s = uv.socket('inet');
       globalThis.keep = s;
       parentPort.postMessage(s.fileno());
       parentPort.once('message', () => process.exit(0));`,
      (m, w) => { n = m as number; closeSync(n); f = openSync(scratchFile, 'r'); w.postMessage('go'); },
    );
    expect(f).toBe(n);
    expect(isOpen(f)).toBe(true);
    closeSync(f);
  });

  it('a detached fd belongs to the caller and outlives the worker', async () => {
    const [fd] = (await inWorker(`
      const s = uv.socket('inet');
      parentPort.postMessage(s.detach());`)) as number[];
    expect(isOpen(fd)).toBe(true);
    Socket.fromFd(fd).close();
    expect(isOpen(fd)).toBe(false);
  });

  it('an fd adopted by another thread (Socket.fromFd) is not closed by the worker that made it', async () => {
    let adopted: Socket | undefined;
    await inWorker(
      `const s = uv.socket('inet');
       globalThis.keep = s;
       parentPort.postMessage(s.fileno());
       parentPort.once('message', () => process.exit(0));`,
      (m, w) => { adopted = Socket.fromFd(m as number); w.postMessage('adopted'); },
    );
    expect(adopted).toBeDefined();
    const fd = adopted!.fileno();
    expect(isOpen(fd)).toBe(true);
    expect(adopted!.getsockname()).toMatchObject({ family: 'IPv4' });
    adopted!.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
