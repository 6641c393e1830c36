/**
 * Subprocesses and pipes on every loop with real I/O (the selector's native children, the
 * proactor's node:child_process, BaseEventLoop's inherited default): real programs
 * (/bin/cat, /bin/sh, /bin/echo, /bin/sleep, /usr/bin/python3), data both ways, exit codes
 * and signals, env and cwd, many children at once, fd and zombie leaks, the protocol's call
 * order, cancellation, close(), broken pipes and bad input.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from './expect.js';
import { describe, it } from './kit.js';
import { rule } from './rules.js';
import {
  BrokenPipeError,
  DEVNULL,
  PIPE,
  ProcessLookupError,
  Protocol,
  STDOUT,
  SubprocessProtocol,
  TimeoutError,
  createSubprocessExec,
  createSubprocessShell,
  gather,
  sleep,
  waitFor,
  type AbstractEventLoop,
  type Future,
  type SubprocessTransport,
  type Transport,
} from '@loopkit/core';
import { lacks, withLoop, type LoopUnderTest } from './context.js';
import { hasProcFd, noProcFd, openFds, pattern } from './support/net.js';
import { tempDir } from './support/temp-dir.js';

const PYTHON = '/usr/bin/python3';
const hasPython = fs.existsSync(PYTHON);
/** For the tests that start hundreds of children: node:child_process forks the whole process (libuv), which on a loaded 2-core machine takes tens of ms a child. */
const SLOW = 90_000;

/** This process's children (pid -> state letter), from /proc: zombies show as 'Z'. */
function children(): Map<number, string> {
  const out = new Map<number, string>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[1]) === process.pid) out.set(Number(name), fields[0]!);
  }
  return out;
}

/** Wait in real time until `cond` holds (reaping by the host may lag the loop). */
async function eventually(cond: () => boolean, timeout = 5): Promise<void> {
  const end = Date.now() + timeout * 1000;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`condition not met within ${timeout}s: ${cond}`);
    await sleep(0.01);
  }
}

/** Records the subprocess protocol's calls in order. */
class Recording extends SubprocessProtocol {
  events: string[] = [];
  out: Buffer[] = [];
  transport: SubprocessTransport | null = null;
  readonly done: Future<void>;
  constructor(loop: AbstractEventLoop) {
    super();
    this.done = loop.createFuture<void>();
  }
  override connectionMade(transport: SubprocessTransport): void {
    this.transport = transport;
    this.events.push('made');
  }
  override pipeDataReceived(fd: number, data: Uint8Array): void {
    this.out.push(Buffer.from(data));
    if (this.events.at(-1) !== `data${fd}`) this.events.push(`data${fd}`);
  }
  override pipeConnectionLost(fd: number, exc: unknown): void {
    this.events.push(`lost${fd}:${exc === null ? 'ok' : String(exc)}`);
  }
  override processExited(): void {
    this.events.push(`exited:${this.transport?.getReturncode()}`);
  }
  override connectionLost(exc: unknown): void {
    this.events.push(`connectionLost:${exc}`);
    this.done.setResult(undefined);
  }
}

class Sink extends Protocol {
  chunks: Buffer[] = [];
  constructor(readonly lost: Future<unknown>) {
    super();
  }
  override dataReceived(data: Uint8Array): void {
    this.chunks.push(Buffer.from(data));
  }
  override connectionLost(exc: unknown): void {
    this.lost.setResult(exc);
  }
}

export function subprocessSuite(subject: LoopUnderTest): void {
  describe('subprocess', () => {
    it('sends 8 MiB through cat both ways with communicate()', () =>
      withLoop(subject, async (_loop, reports) => {
        const data = pattern(8 << 20);
        const proc = await createSubprocessExec('/bin/cat', [], { stdin: PIPE, stdout: PIPE });
        const [out, err] = await proc.communicate(data);
        expect(err).toBe(null);
        expect(out!.length).toBe(data.length);
        expect(out!.equals(data)).toBe(true);
        expect(proc.returncode).toBe(0);
        expect(reports).toEqual([]);
      }));

    it('streams 8 MiB into cat while reading it back (drain and read)', () =>
      withLoop(subject, async () => {
        const data = pattern(8 << 20, 7);
        const proc = await createSubprocessExec('/bin/cat', [], { stdin: PIPE, stdout: PIPE });
        const writer = async (): Promise<void> => {
          for (let i = 0; i < data.length; i += 100_000) {
            proc.stdin!.write(data.subarray(i, i + 100_000));
            await proc.stdin!.drain();
          }
          proc.stdin!.close();
        };
        const [, out] = (await gather(writer, () => proc.stdout!.read())) as [void, Buffer];
        expect(out.equals(data)).toBe(true);
        expect(await proc.wait()).toBe(0);
      }));

    it.skipIf(!hasPython && `skipped: no ${PYTHON} here`)('holds a line-by-line dialogue with a python child', () =>
      withLoop(subject, async () => {
        const script = 'import sys\nfor line in sys.stdin:\n    print(line.strip().upper(), flush=True)\n';
        const proc = await createSubprocessExec(PYTHON, ['-u', '-c', script], { stdin: PIPE, stdout: PIPE });
        for (let i = 0; i < 20; i++) {
          proc.stdin!.write(Buffer.from(`line ${i} of the dialogue\n`));
          await proc.stdin!.drain();
          const answer = await proc.stdout!.readline();
          expect(answer.toString()).toBe(`LINE ${i} OF THE DIALOGUE\n`);
        }
        proc.stdin!.close();
        expect((await proc.stdout!.read()).length).toBe(0);
        expect(await proc.wait()).toBe(0);
      }));

    it('reports exit codes, and signal deaths as minus the signal number', rule("a child's returncode is its exit status, or minus the signal that killed it", () =>
      withLoop(subject, async () => {
        const exit7 = await createSubprocessShell('exit 7');
        expect(await exit7.wait()).toBe(7);
        const own = await createSubprocessShell('kill -USR1 $$');
        expect(await own.wait()).toBe(-os.constants.signals.SIGUSR1);
        const term = await createSubprocessExec('/bin/sleep', ['30']);
        expect(term.returncode).toBe(null);
        term.terminate();
        expect(await term.wait()).toBe(-15);
        const killed = await createSubprocessExec('/bin/sleep', ['30']);
        killed.kill();
        expect(await killed.wait()).toBe(-9);
        const int = await createSubprocessExec('/bin/sleep', ['30']);
        int.sendSignal('SIGINT');
        expect(await int.wait()).toBe(-2);
        // reaped and its pipes closed: ProcessLookupError (asyncio's), never another process with that pid
        expect(() => int.sendSignal('SIGKILL')).toThrow(ProcessLookupError);
        const echo = await createSubprocessExec('/bin/echo', ['a', 'b c'], { stdout: PIPE });
        expect((await echo.communicate())[0]!.toString()).toBe('a b c\n');
      })));

    it('passes env and cwd, and sends stderr to stdout or /dev/null', () =>
      withLoop(subject, async () => {
        const dir = fs.realpathSync(tempDir('cwd'));
        const proc = await createSubprocessShell('echo "$GREETING"; pwd; echo oops >&2', {
          stdout: PIPE,
          stderr: STDOUT,
          env: { GREETING: 'hello from env', PATH: '/usr/bin:/bin' },
          cwd: dir,
        });
        const [out, err] = await proc.communicate();
        expect(out!.toString()).toBe(`hello from env\n${dir}\noops\n`);
        expect(err).toBe(null);
        const quiet = await createSubprocessShell('echo visible; echo hidden >&2', { stdout: PIPE, stderr: DEVNULL });
        expect((await quiet.communicate())[0]!.toString()).toBe('visible\n');
        const file = path.join(dir, 'out.txt');
        const fd = fs.openSync(file, 'w');
        try {
          const toFile = await createSubprocessShell('echo into the file; echo and its errors >&2', { stdout: fd, stderr: STDOUT });
          expect(await toFile.communicate()).toEqual([null, null]);
        } finally {
          fs.closeSync(fd);
        }
        expect(fs.readFileSync(file, 'utf8')).toBe('into the file\nand its errors\n');
        const both = await createSubprocessShell('echo out; echo err >&2', { stdout: PIPE, stderr: PIPE });
        const [o, e] = await both.communicate();
        expect([o!.toString(), e!.toString()]).toEqual(['out\n', 'err\n']);
      }));

    it('runs 50 children at once', () =>
      withLoop(subject, async () => {
        const run = async (i: number): Promise<string> => {
          const proc = await createSubprocessExec('/bin/sh', ['-c', `sleep 0.1; echo child ${i}`], { stdout: PIPE });
          const [out] = await proc.communicate();
          expect(proc.returncode).toBe(0);
          return out!.toString();
        };
        const outs = (await gather(...Array.from({ length: 50 }, (_, i) => () => run(i)))) as string[];
        expect(outs).toEqual(Array.from({ length: 50 }, (_, i) => `child ${i}\n`));
      }), SLOW);

    it.skipIf(!hasProcFd && noProcFd)('leaks no fd and no zombie over 200 spawns', () =>
      withLoop(subject, async () => {
        const warm = await createSubprocessExec('/bin/true', [], { stdout: PIPE });
        await warm.communicate();
        const fdsBefore = openFds();
        for (let i = 0; i < 200; i++) {
          // every other child inherits our stdio: /bin/true, since the runner's stdout may refuse writes
          const proc = i % 2 === 0
            ? await createSubprocessExec('/bin/echo', [String(i)], { stdin: PIPE, stdout: PIPE, stderr: PIPE })
            : await createSubprocessExec('/bin/true');
          if (i % 2 === 0) expect((await proc.communicate())[0]!.toString()).toBe(`${i}\n`);
          else expect(await proc.wait()).toBe(0);
        }
        await eventually(() => children().size === 0);
        expect(openFds()).toBeLessThanOrEqual(fdsBefore);
      }), SLOW);

    it('gives BrokenPipeError (EPIPE) for writes to a child that exited, and to one killed mid-write', () =>
      withLoop(subject, async (_loop, reports) => {
        const gone = await createSubprocessExec('/bin/true', [], { stdin: PIPE });
        expect(await gone.wait()).toBe(0);
        gone.stdin!.write(Buffer.from('nobody reads this'));
        const err1 = await gone.stdin!.drain().then(() => null, (e: unknown) => e);
        expect(err1).toBeInstanceOf(BrokenPipeError);
        expect((err1 as { code?: string }).code).toBe('EPIPE');

        // cat never gets its stdout read: its pipes fill, the write stalls, then it is killed
        const stuck = await createSubprocessExec('/bin/cat', [], { stdin: PIPE, stdout: PIPE });
        stuck.stdin!.write(pattern(4 << 20));
        const draining = stuck.stdin!.drain().then(() => null, (e: unknown) => e);
        await sleep(0.1);
        expect(stuck.stdin!.transport.getWriteBufferSize()).toBeGreaterThan(0);
        stuck.kill();
        const err2 = await draining;
        expect(err2).toBeInstanceOf(BrokenPipeError);
        await stuck.stdout!.read();
        expect(await stuck.wait()).toBe(-9);
        // communicate() on a child that stops reading at once is no error either
        const early = await createSubprocessExec('/bin/true', [], { stdin: PIPE });
        await sleep(0.05);
        expect(await early.communicate(pattern(1 << 20))).toEqual([null, null]);
        expect(reports).toEqual([]);
      }));

    it('calls pipeConnectionLost for each pipe, then processExited, then connectionLost, once each', () =>
      withLoop(subject, async (loop) => {
        const [transport, protocol] = (await loop.subprocessExec(() => new Recording(loop), '/bin/sh', ['-c', 'read x; echo "got $x"; echo e >&2'])) as [SubprocessTransport, Recording];
        expect(transport.getPid()).toBeGreaterThan(0);
        const stdin = transport.getPipeTransport(0) as Transport;
        stdin.write(Buffer.from('ping\n'));
        stdin.close();
        await protocol.done;
        const ev = protocol.events;
        expect(ev[0]).toBe('made');
        const lost = ev.filter((e) => e.startsWith('lost'));
        expect(lost.sort()).toEqual(['lost0:ok', 'lost1:ok', 'lost2:ok']);
        const lastLost = Math.max(...lost.map((e) => ev.indexOf(e)));
        expect(ev.slice(lastLost + 1)).toEqual(['exited:0', 'connectionLost:null']);
        expect(Buffer.concat(protocol.out).toString()).toContain('got ping\n');
        expect(transport.getReturncode()).toBe(0);
      }));

    it('reports a protocol callback that throws; the calls after it still come', () =>
      withLoop(subject, async (loop, reports) => {
        class Throwing extends Recording {
          override processExited(): void {
            super.processExited();
            throw new Error('boom in processExited');
          }
        }
        const [, protocol] = (await loop.subprocessExec(() => new Throwing(loop), '/bin/echo', ['x'])) as [SubprocessTransport, Recording];
        await protocol.done;
        expect(protocol.events.slice(-2)).toEqual(['exited:0', 'connectionLost:null']);
        expect(reports.map((r) => String((r as { exception?: unknown }).exception))).toEqual(['Error: boom in processExited']);
      }));

    it('kills a running child on transport.close() and reaps it', rule('closing a subprocess transport kills a child still running, and the child is reaped', () =>
      withLoop(subject, async (loop) => {
        const [transport, protocol] = (await loop.subprocessExec(() => new Recording(loop), '/bin/sleep', ['30'], { stdin: DEVNULL })) as [SubprocessTransport, Recording];
        const pid = transport.getPid();
        transport.close();
        await protocol.done;
        expect(transport.getReturncode()).toBe(-9);
        expect(protocol.events.slice(-2)).toEqual(['exited:-9', 'connectionLost:null']);
        await eventually(() => !children().has(pid));
      })));

    it('kills and reaps a running child on loop.close()', async () => {
      const loop = subject.make();
      let pid = 0;
      const protocol = new Recording(loop);
      try {
        await loop.runUntilComplete(async () => {
          const [transport] = (await loop.subprocessExec(() => protocol, '/bin/sleep', ['30'])) as [SubprocessTransport, Recording];
          pid = transport.getPid();
        });
      } finally {
        loop.close();
      }
      expect(protocol.events.filter((e) => e.startsWith('lost')).sort()).toEqual(['lost0:ok', 'lost1:ok', 'lost2:ok']);
      expect(protocol.events.slice(-2)).toEqual(['exited:-9', 'connectionLost:null']);
      // the selector reaps it inside close(); node:child_process leaves that to libuv, soon after
      if (subject.caps.readiness) expect(children().has(pid)).toBe(false);
      const end = Date.now() + 5000;
      while (children().has(pid) && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      expect(children().has(pid)).toBe(false);
    });

    it('leaves the child running when wait() or communicate() is cancelled', () =>
      withLoop(subject, async () => {
        // communicate() closes its stdin at once: sleep ignores that and keeps stdout open
        const proc = await createSubprocessExec('/bin/sleep', ['30'], { stdin: PIPE, stdout: PIPE });
        await expect(waitFor(proc.wait(), 0.1)).rejects.toBeInstanceOf(TimeoutError);
        await expect(waitFor(proc.communicate(), 0.1)).rejects.toBeInstanceOf(TimeoutError);
        expect(proc.returncode).toBe(null);
        expect(children().has(proc.pid)).toBe(true);
        proc.kill();
        expect(await proc.wait()).toBe(-9);
      }));

    it('rejects a missing program with ENOENT and a non-executable one with EACCES', () =>
      withLoop(subject, async () => {
        await expect(createSubprocessExec('/nonexistent/program')).rejects.toMatchObject({ code: 'ENOENT' });
        await expect(createSubprocessExec('no-such-program-on-path')).rejects.toMatchObject({ code: 'ENOENT' });
        const file = path.join(tempDir('noexec'), 'script.sh');
        fs.writeFileSync(file, '#!/bin/sh\necho hi\n', { mode: 0o644 });
        await expect(createSubprocessExec(file)).rejects.toMatchObject({ code: 'EACCES' });
        await expect(createSubprocessExec('/bin/true', [], { cwd: '/nonexistent/dir' })).rejects.toMatchObject({ code: 'ENOENT' });
        expect(children().size).toBe(0);
      }));

    it('throws TypeError naming the option for bad options', () =>
      withLoop(subject, async (loop) => {
        const bad: Array<[unknown[], RegExp]> = [
          [['/bin/true', [], { stdin: 'pipe' }], /stdin/],
          [['/bin/true', [], { stdout: STDOUT }], /stdout/],
          [['/bin/true', [], { stdin: STDOUT }], /stdin/],
          [['/bin/true', [], { cwd: 5 }], /cwd/],
          [['/bin/true', [], { env: { A: 1 } }], /env\.A/],
          [['/bin/true', [], { env: 'A=1' }], /env/],
          [['/bin/true', [], { limit: 0 }], /limit/],
          [['/bin/true', [], { bogus: 1 }], /bogus/],
          [['/bin/true', 'not an array'], /args/],
          [['/bin/true', [1]], /args\[0\]/],
          [[42], /program/],
        ];
        for (const [args, message] of bad) {
          await expect((createSubprocessExec as (...a: unknown[]) => Promise<unknown>)(...args)).rejects.toThrow(TypeError);
          await expect((createSubprocessExec as (...a: unknown[]) => Promise<unknown>)(...args)).rejects.toThrow(message);
        }
        await expect(createSubprocessShell(7 as unknown as string)).rejects.toThrow(/cmd/);
        await expect(loop.subprocessExec(() => new Recording(loop), '/bin/true', [], { stderr: 'x' } as object)).rejects.toThrow(/stderr/);
        await expect(loop.subprocessExec(() => new Recording(loop), '/bin/true', [], { limit: 1 } as object)).rejects.toThrow(/limit/);
        // @ts-expect-error a pipe is a file descriptor or has fileno() (a type error too)
        await expect(loop.connectReadPipe(() => new Protocol(), 'x')).rejects.toThrow(/pipe/);
      }));

    it.skipIf(lacks(subject, 'readiness'))('learns of exits through SIGCHLD where there is no pidfd (LOOPKIT_CHILD_WATCHER=sigchld)', () =>
      withLoop(subject, async () => {
        const saved = process.env.LOOPKIT_CHILD_WATCHER;
        process.env.LOOPKIT_CHILD_WATCHER = 'sigchld';
        try {
          const fast = await createSubprocessExec('/bin/true'); // may exit before the listener: the first check sees it
          const slow = await createSubprocessExec('/bin/sh', ['-c', 'sleep 0.2; exit 4']);
          const killed = await createSubprocessExec('/bin/sleep', ['30']);
          killed.kill();
          expect(await gather(() => fast.wait(), () => slow.wait(), () => killed.wait())).toEqual([0, 4, -9]);
          expect(process.listenerCount('SIGCHLD')).toBe(0);
        } finally {
          if (saved === undefined) delete process.env.LOOPKIT_CHILD_WATCHER;
          else process.env.LOOPKIT_CHILD_WATCHER = saved;
        }
      }));

    it('connects protocols to both ends of a pipe (connectReadPipe / connectWritePipe)', () =>
      withLoop(subject, async (loop) => {
        const fifo = path.join(tempDir('fifo'), 'p');
        execFileSync('mkfifo', [fifo]);
        const readFd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
        const writeFd = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
        const lost = loop.createFuture<unknown>();
        const [, sink] = (await loop.connectReadPipe(() => new Sink(lost), readFd)) as [Transport, Sink];
        const [writer] = (await loop.connectWritePipe(() => new Protocol(), { fileno: () => writeFd })) as [Transport, Protocol];
        const data = pattern(1 << 20, 3);
        writer.write(data);
        writer.writeEof();
        expect(await lost).toBe(null);
        expect(Buffer.concat(sink.chunks).equals(data)).toBe(true);
        await eventually(() => writer.isClosing());
      }));
  });
}
