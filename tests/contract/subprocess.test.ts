/**
 * API.md's subprocesses and pipes on each loop: createSubprocessExec/Shell resolve to a
 * Process with the listed members, returncode as asyncio's (null while running, minus the
 * signal), communicate's pair with null for a stream that is not PIPE, cancelling wait()
 * not killing the child, ENOENT; the loop-level subprocessExec and the pipe connectors.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { expect, it } from 'vitest';
import {
  BrokenPipeError,
  DEVNULL,
  PIPE,
  Process,
  ProcessLookupError,
  Protocol,
  STDOUT,
  StreamReader,
  StreamWriter,
  SubprocessProtocol,
  createSubprocessExec,
  createSubprocessShell,
  sleep,
  waitFor,
  TimeoutError,
  type Future,
  type Transport,
} from 'loopkit';
import { onEachLoop, rejection, runIn } from './loops.js';

const NODE = process.execPath;

onEachLoop('subprocesses', (make) => {
  // Python 3.13.0 (selector loop): the child closed its stdin; write(b'x' * 10) then drain()
  // raises at the first drain (ConnectionResetError('Connection lost') there; BrokenPipeError
  // with code EPIPE here, the core README's choice), and so does each later write's drain.
  // ProactorEventLoop and UringEventLoop learnt it one write late until session 18 (the first
  // drain resolved: Node reports the refused write a tick later; its stream is errored at once).
  it('a child that closed its stdin: the drain() after the first small write raises BrokenPipeError (EPIPE), as the later ones', () =>
    runIn(make, async () => {
      const child = 'require("fs").closeSync(0); process.stdout.write("closed\\n"); setTimeout(() => {}, 300)';
      const proc = await createSubprocessExec(NODE, ['-e', child], { stdin: PIPE, stdout: PIPE });
      expect(String(await proc.stdout!.readline())).toBe('closed\n');
      for (const size of [10, 10, 200_000]) {
        proc.stdin!.write(Buffer.alloc(size, 120));
        const error = await rejection(proc.stdin!.drain());
        expect(error).toBeInstanceOf(BrokenPipeError);
        expect((error as BrokenPipeError).code).toBe('EPIPE');
      }
      expect(await proc.wait()).toBe(0);
    }));

  it('createSubprocessExec(program, args, opts) resolves to a Process: pid, returncode null while running, stdin writer, stdout/stderr readers', async () => {
    await runIn(make, async () => {
      const pending = createSubprocessExec(NODE, ['-e', 'process.stdin.pipe(process.stdout)'], { stdin: PIPE, stdout: PIPE, stderr: PIPE });
      expect(pending).toBeInstanceOf(Promise);
      const proc = await pending;
      expect(proc).toBeInstanceOf(Process);
      expect(typeof proc.pid).toBe('number');
      expect(proc.returncode).toBeNull();
      expect(proc.stdin).toBeInstanceOf(StreamWriter);
      expect(proc.stdout).toBeInstanceOf(StreamReader);
      expect(proc.stderr).toBeInstanceOf(StreamReader);
      const [out, err] = await proc.communicate(Buffer.from('echoed'));
      expect(Buffer.from(out!).toString()).toBe('echoed');
      expect(err).toBeInstanceOf(Uint8Array);
      expect(proc.returncode).toBe(0);
      expect(await proc.wait()).toBe(0);
    });
  });

  it('args default to []; a stream that is not PIPE is null in the Process and in communicate()', async () => {
    await runIn(make, async () => {
      const proc = await createSubprocessExec('true');
      expect(proc.stdin).toBeNull();
      expect(proc.stdout).toBeNull();
      expect(proc.stderr).toBeNull();
      expect(await proc.communicate()).toEqual([null, null]);
      expect(proc.returncode).toBe(0);
    });
  });

  it('stderr: STDOUT joins stdout; DEVNULL discards; a file descriptor number is taken', async () => {
    await runIn(make, async () => {
      const joined = await createSubprocessExec(NODE, ['-e', 'process.stdout.write("o"); process.stderr.write("e")'], { stdout: PIPE, stderr: STDOUT });
      const [out, err] = await joined.communicate();
      expect(Buffer.from(out!).toString().split('').sort().join('')).toBe('eo');
      expect(err).toBeNull();
      const quiet = await createSubprocessExec(NODE, ['-e', 'console.log("x")'], { stdout: DEVNULL });
      expect(await quiet.communicate()).toEqual([null, null]);
      const file = `/tmp/loopkit-contract-${process.pid}.txt`;
      const fd = fs.openSync(file, 'w');
      try {
        const toFile = await createSubprocessExec(NODE, ['-e', 'process.stdout.write("to fd")'], { stdout: fd });
        expect(await toFile.wait()).toBe(0);
        expect(fs.readFileSync(file, 'utf8')).toBe('to fd');
      } finally {
        fs.closeSync(fd);
        fs.rmSync(file, { force: true });
      }
    });
  });

  it('createSubprocessShell(cmd, {cwd, env}) runs through the shell', async () => {
    await runIn(make, async () => {
      const proc = await createSubprocessShell('echo "$CONTRACT_VAR" && pwd', { stdout: PIPE, cwd: '/tmp', env: { ...process.env, CONTRACT_VAR: 'from env' } });
      const [out] = await proc.communicate();
      expect(Buffer.from(out!).toString()).toBe('from env\n/tmp\n');
    });
  });

  it('a signal death is minus the signal number: kill() gives -9, terminate() -15; sendSignal(sig) sends it', async () => {
    await runIn(make, async () => {
      for (const [end, code] of [['kill', -9], ['terminate', -15], ['sendSignal', -2]] as const) {
        const proc = await createSubprocessExec(NODE, ['-e', 'setInterval(() => {}, 1000)']);
        if (end === 'sendSignal') proc.sendSignal('SIGINT');
        else proc[end]();
        expect(await proc.wait()).toBe(code);
        expect(proc.returncode).toBe(code);
      }
    });
  });

  it('cancelling wait() (by a timeout) does not kill the child', async () => {
    await runIn(make, async () => {
      const proc = await createSubprocessExec(NODE, ['-e', 'setTimeout(() => {}, 300)']);
      expect(await rejection(waitFor(proc.wait(), 0.05))).toBeInstanceOf(TimeoutError);
      expect(proc.returncode).toBeNull();
      expect(await proc.wait()).toBe(0);
    });
  });

  it('a missing program rejects with an error whose code is ENOENT', async () => {
    await runIn(make, async () => {
      const error = (await rejection(createSubprocessExec('/no/such/program-loopkit'))) as Error & { code?: string };
      expect(error.code).toBe('ENOENT');
    });
  });

  it('the limit option bounds the StreamReader (64 KiB by default): a longer line overruns it', async () => {
    await runIn(make, async () => {
      const line = `${'x'.repeat(70 * 1024)}\n`;
      const script = `process.stdout.write(${JSON.stringify(line)})`;
      const small = await createSubprocessExec(NODE, ['-e', script], { stdout: PIPE });
      expect(await rejection(small.stdout!.readline())).toBeInstanceOf(Error);
      await small.wait();
      const large = await createSubprocessExec(NODE, ['-e', script], { stdout: PIPE, limit: 128 * 1024 });
      expect((await large.stdout!.readline()).length).toBe(line.length);
      await large.wait();
    });
  });

  it('loop.subprocessExec(pf, program, args) resolves to [SubprocessTransport, SubprocessProtocol] with the listed callbacks', async () => {
    await runIn(make, async (loop) => {
      const events: string[] = [];
      let exited: Future<void> | null = null;
      class Recording extends SubprocessProtocol {
        constructor() {
          super();
          exited = loop.createFuture();
        }
        override connectionMade(): void {
          events.push('made');
        }
        override pipeDataReceived(fd: number, data: Uint8Array): void {
          events.push(`${fd}:${Buffer.from(data).toString()}`);
        }
        override pipeConnectionLost(fd: number): void {
          events.push(`lost ${fd}`);
        }
        override processExited(): void {
          events.push('exited');
          exited!.setResult();
        }
      }
      const pair = await loop.subprocessExec(() => new Recording(), NODE, ['-e', 'process.stdout.write("hi")'], { stdin: DEVNULL, stderr: DEVNULL });
      expect(pair).toHaveLength(2);
      const [transport, protocol] = pair;
      expect(protocol).toBeInstanceOf(Recording);
      for (const method of ['getPid', 'getReturncode', 'getPipeTransport', 'sendSignal', 'terminate', 'kill', 'close']) {
        expect(typeof (transport as unknown as Record<string, unknown>)[method]).toBe('function');
      }
      expect(typeof transport.getPid()).toBe('number');
      await exited;
      while (!events.includes('lost 1')) await sleep(0.005);
      expect(events[0]).toBe('made');
      expect(events).toContain('1:hi');
      expect(transport.getReturncode()).toBe(0);
      transport.close();
    });
  });

  it('SubprocessTransport.close() kills a child still running', async () => {
    await runIn(make, async (loop) => {
      const [transport] = await loop.subprocessShell(() => new SubprocessProtocol(), 'sleep 30');
      const pid = transport.getPid();
      transport.close();
      for (let i = 0; i < 200 && transport.getReturncode() === null; i++) await sleep(0.01);
      expect(transport.getReturncode()).toBe(-9);
      expect(() => process.kill(pid, 0)).toThrow();
    });
  });

  it('connectReadPipe/connectWritePipe(pf, pipe) take an object with fileno() or a file descriptor number and resolve to [transport, protocol]', async () => {
    await runIn(make, async (loop) => {
      // A FIFO opened at both ends: a pipe made in-process.
      const fifo = `/tmp/loopkit-contract-fifo-${process.pid}`;
      fs.rmSync(fifo, { force: true });
      execFileSync('mkfifo', [fifo]);
      const readFd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
      const writeFd = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
      fs.rmSync(fifo);
      const received = loop.createFuture<string>();
      const reading = new Protocol();
      reading.dataReceived = (data: Uint8Array) => received.setResult(Buffer.from(data).toString());
      const [readTransport, readProtocol] = await loop.connectReadPipe(() => reading, { fileno: () => readFd } as never);
      expect(readProtocol).toBe(reading);
      const [writeTransport] = await loop.connectWritePipe(() => new Protocol(), writeFd);
      (writeTransport as Transport).write(Buffer.from('through the pipe'));
      expect(await received).toBe('through the pipe');
      (writeTransport as Transport).close();
      (readTransport as Transport).close();
    });
  });

  it('kill(), terminate() and sendSignal() of a child that is gone (reaped, pipes closed) throw ProcessLookupError, as asyncio 3.13 (test_proc_exited)', async () => {
    await runIn(make, async () => {
      const proc = await createSubprocessExec('true');
      expect(await proc.wait()).toBe(0);
      for (const signal of [() => proc.kill(), () => proc.terminate(), () => proc.sendSignal('SIGTERM')]) {
        let error: unknown = null;
        try {
          signal();
        } catch (thrown) {
          error = thrown;
        }
        expect(error).toBeInstanceOf(ProcessLookupError);
        expect((error as ProcessLookupError).code).toBe('ESRCH');
        expect((error as Error).message).toContain(`process ${proc.pid} has exited`);
      }
    });
  });

  it('a child that exited while a grandchild holds its stdout: kill() does nothing until the pipe closes, then throws ProcessLookupError', async () => {
    await runIn(make, async () => {
      const proc = await createSubprocessExec('sh', ['-c', 'echo a; (sleep 0.3; echo b) & exit 3'], { stdout: PIPE });
      while (proc.returncode === null) await sleep(0.01);
      proc.kill(); // asyncio 3.13: its Popen is reaped, nothing is sent, no error
      const [out] = await proc.communicate();
      expect(Buffer.from(out!).toString()).toBe('a\nb\n');
      expect(proc.returncode).toBe(3);
      expect(() => proc.kill()).toThrow(ProcessLookupError);
    });
  });

  it('a subprocess transport that finished (connectionLost) throws ProcessLookupError for a signal', async () => {
    await runIn(make, async (loop) => {
      const lost = loop.createFuture<void>();
      const protocol = new SubprocessProtocol();
      protocol.connectionLost = () => lost.setResult(undefined);
      const [transport] = await loop.subprocessExec(() => protocol, 'true', []);
      await lost;
      expect(transport.getReturncode()).toBe(0);
      expect(() => transport.kill()).toThrow(ProcessLookupError);
      expect(() => transport.sendSignal('SIGINT')).toThrow(ProcessLookupError);
    });
  });

  it('a cwd that is missing or no directory rejects with its code and names the cwd (asyncio: FileNotFoundError with the cwd), exec and shell', async () => {
    await runIn(make, async () => {
      const missing = '/nonexistent/loopkit-cwd';
      for (const start of [() => createSubprocessExec('ls', [], { cwd: missing }), () => createSubprocessShell('ls', { cwd: missing })]) {
        const error = (await rejection(start())) as Error & { code?: string; path?: string };
        expect(error.code).toBe('ENOENT');
        expect(error.path).toBe(missing);
        expect(error.message).toContain(`No such file or directory: '${missing}' (cwd)`);
      }
      const file = (await rejection(createSubprocessExec('ls', [], { cwd: '/etc/passwd' }))) as Error & { code?: string; path?: string };
      expect(['ENOTDIR', 'ENOENT']).toContain(file.code);
      expect(file.path).toBe('/etc/passwd');
      expect(file.message).toContain(`Not a directory: '/etc/passwd' (cwd)`);
      // a missing program still names the program
      const program = (await rejection(createSubprocessExec('/no/such/program', [], { cwd: '/' }))) as Error & { code?: string; path?: string };
      expect(program.code).toBe('ENOENT');
      expect(program.message).toContain('/no/such/program');
    });
  });
});
