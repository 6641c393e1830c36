/** Child processes through the native spawn: pipes, stdio fates, signals, pidfd, reaping. */
import { describe, expect, it, onTestFinished } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeFd, pidfdOpen, pipeRead, pipeWrite, pipeWritev, reapChild, socketpair, spawnChild, EAGAIN, isAvailable } from '../dist/index.js';

const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;

function flagsOf(path: string): number {
  return parseInt(/flags:\s+(\d+)/.exec(readFileSync(path, 'utf8'))![1]!, 8);
}

/** Read a pipe to EOF, blocking the test (not a loop) with short sleeps. */
function readAll(fd: number): Buffer {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(65536);
  for (;;) {
    const r = pipeRead(fd, buf);
    if (r === 0) return Buffer.concat(chunks);
    if (r === -EAGAIN) {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
      continue;
    }
    if (r < 0) throw new Error(`read failed: ${r}`);
    chunks.push(Buffer.from(buf.subarray(0, r)));
  }
}

describe.skipIf(!isAvailable() || process.platform !== 'linux')('spawnChild', () => {
  it('pipes both ways; our ends non-blocking and close-on-exec, the child\'s blocking', () => {
    const child = spawnChild({ file: 'sh', argv: ['sh', '-c', 'cat /proc/self/fdinfo/0; cat'], stdio: ['pipe', 'pipe', 'inherit'] });
    expect(child.stderr).toBe(null);
    for (const fd of [child.stdin!, child.stdout!]) {
      const flags = flagsOf(`/proc/self/fdinfo/${fd}`);
      expect(flags & O_NONBLOCK).toBe(O_NONBLOCK);
      expect(flags & O_CLOEXEC).toBe(O_CLOEXEC);
    }
    expect(pipeWritev(child.stdin!, [Buffer.from('abc'), Buffer.from('def\n')])).toBe(7);
    closeFd(child.stdin!);
    const out = readAll(child.stdout!).toString();
    closeFd(child.stdout!);
    const childFlags = parseInt(/flags:\s+(\d+)/.exec(out)![1]!, 8);
    expect(childFlags & O_NONBLOCK).toBe(0);
    expect(out.endsWith('abcdef\n')).toBe(true);
    expect(reapChild(child.pid, true)).toBe(0);
  });

  it('gives the child default signal dispositions and an empty mask (Node ignores SIGPIPE)', () => {
    const child = spawnChild({ file: '/bin/cat', argv: ['cat', '/proc/self/status'], stdio: ['devnull', 'pipe', 'inherit'] });
    const status = readAll(child.stdout!).toString();
    closeFd(child.stdout!);
    // signals 1-31 (glibc keeps its own real-time signals 32 and 33 as they are)
    const standard = (line: string): bigint => BigInt(`0x${new RegExp(`${line}:\\s+(\\w+)`).exec(status)![1]}`) & 0x7fffffffn;
    expect(standard('SigIgn')).toBe(0n);
    expect(standard('SigBlk')).toBe(0n);
    expect(reapChild(child.pid, true)).toBe(0);
  });

  it('sends stderr to stdout, passes env and cwd, and searches the child\'s PATH', () => {
    const child = spawnChild({
      file: 'sh',
      argv: ['sh', '-c', 'echo "$A"; pwd; echo err >&2'],
      env: ['A=from env', 'PATH=/bin:/usr/bin'],
      cwd: '/tmp',
      stdio: ['devnull', 'pipe', 'stdout'],
    });
    expect(readAll(child.stdout!).toString()).toBe('from env\n/tmp\nerr\n');
    closeFd(child.stdout!);
    expect(reapChild(child.pid, true)).toBe(0);
  });

  it('reports exec failures as Node-style errors, leaving nothing open or running', () => {
    const fds = (): number => readdirSync('/proc/self/fd').length;
    const before = fds();
    expect(() => spawnChild({ file: '/nonexistent', argv: ['x'], stdio: ['pipe', 'pipe', 'pipe'] })).toThrow(expect.objectContaining({ code: 'ENOENT', syscall: 'spawn /nonexistent' }));
    const scratch = mkdtempSync(join(tmpdir(), 'loopkit-uv-'));
    onTestFinished(() => rmSync(scratch, { recursive: true, force: true }));
    const noexec = join(scratch, 'script.sh');
    writeFileSync(noexec, '#!/bin/sh\n', { mode: 0o644 });
    expect(() => spawnChild({ file: noexec, argv: ['x'], stdio: ['pipe', 'pipe', 'pipe'] })).toThrow(expect.objectContaining({ code: 'EACCES' }));
    expect(() => spawnChild({ file: '/bin/true', argv: ['x'], cwd: '/nonexistent', stdio: ['pipe', 'pipe', 'pipe'] })).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(() => spawnChild({ file: '/bin/true', argv: ['x'], stdio: ['stdout', 'pipe', 'pipe'] })).toThrow(/stdin must be/);
    expect(fds()).toBe(before);
  });

  it('sees the exit through a pidfd, and reaps a signal death as minus the signal', () => {
    const child = spawnChild({ file: '/bin/sleep', argv: ['sleep', '30'], stdio: ['devnull', 'devnull', 'devnull'] });
    const pidfd = pidfdOpen(child.pid)!;
    expect(pidfd).toBeGreaterThan(2);
    expect(reapChild(child.pid)).toBe(null); // still running
    process.kill(child.pid, 'SIGTERM');
    expect(reapChild(child.pid, true)).toBe(-15);
    closeFd(pidfd);
    expect(() => reapChild(child.pid)).toThrow(expect.objectContaining({ code: 'ECHILD' }));
  });
});


describe.skipIf(!isAvailable() || process.platform !== 'linux')('pipeWrite', () => {
  it('writes exactly the bytes of a view, returns -EAGAIN when the socket is full, and checks its arguments', () => {
    const [a, b] = socketpair();
    onTestFinished(() => {
      a.close();
      b.close();
    });
    const backing = Buffer.from('..hello..');
    expect(pipeWrite(a.fileno(), backing.subarray(2, 7))).toBe(5);
    expect(pipeWrite(a.fileno(), new Uint16Array([0x6968]))).toBe(2);
    const got = Buffer.alloc(16);
    expect(b.tryRecvInto(got)).toBe(7);
    expect(got.subarray(0, 7).toString()).toBe('hellohi');
    const block = Buffer.alloc(64 * 1024, 1);
    let r = 0;
    for (let i = 0; i < 1000 && r >= 0; i++) r = pipeWrite(a.fileno(), block);
    expect(r).toBe(-EAGAIN);
    expect(() => pipeWrite(a.fileno(), 'text' as unknown as Buffer)).toThrow(TypeError);
    expect(() => pipeWrite(1.5, block)).toThrow(TypeError);
  });
});
