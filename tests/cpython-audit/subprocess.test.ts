/** Scenarios of CPython's test_asyncio/test_subprocess.py (3.13), on the loops users get. */
import { expect, it } from 'vitest';
import { CancelledError, DEVNULL, PIPE, STDOUT, TimeoutError, createSubprocessExec, createSubprocessShell, createTask, currentTask, gather, sleep, waitFor } from 'loopkit';
import { onEachLoop, rejection, runIn } from './loops.js';

const PY = process.execPath; // the child is a Node script: no Python needed on the machine
const node = (code: string): [string, string[]] => [PY, ['-e', code]];

onEachLoop('test_subprocess', (make) => {
  it('test_stdin_stdout: write, drain, close stdin, read stdout, wait', () =>
    runIn(make, async () => {
      const [cmd, args] = node('process.stdin.pipe(process.stdout)');
      const proc = await createSubprocessExec(cmd, args, { stdin: PIPE, stdout: PIPE });
      proc.stdin!.write(Buffer.from('Python The Winner'));
      await proc.stdin!.drain();
      proc.stdin!.close();
      const data = await proc.stdout!.read();
      expect(data.toString()).toBe('Python The Winner');
      expect(await proc.wait()).toBe(0);
      expect(proc.returncode).toBe(0);
    }));

  it('test_communicate / test_empty_input / test_devnull_*', () =>
    runIn(make, async () => {
      const [cmd, args] = node('process.stdin.pipe(process.stdout)');
      const proc = await createSubprocessExec(cmd, args, { stdin: PIPE, stdout: PIPE });
      const [out, err] = await proc.communicate(Buffer.from('Python The Winner'));
      expect(Buffer.from(out!).toString()).toBe('Python The Winner');
      expect(err).toBeNull();
      expect(proc.returncode).toBe(0);

      const empty = await createSubprocessExec(cmd, args, { stdin: PIPE, stdout: PIPE });
      const [eo] = await empty.communicate(Buffer.alloc(0));
      expect(Buffer.from(eo!).length).toBe(0);

      const devnull = await createSubprocessExec(cmd, args, { stdin: DEVNULL, stdout: PIPE });
      const [dout] = await devnull.communicate();
      expect(Buffer.from(dout!).length).toBe(0);
      expect(devnull.returncode).toBe(0);
    }));

  it('test_shell / stderr to STDOUT / env', () =>
    runIn(make, async () => {
      const proc = await createSubprocessShell('exit 7');
      expect(await proc.wait()).toBe(7);
      const both = await createSubprocessShell('echo out; echo err 1>&2', { stdout: PIPE, stderr: STDOUT });
      const [out] = await both.communicate();
      expect(Buffer.from(out!).toString()).toBe('out\nerr\n');
      const env = await createSubprocessShell('echo $AUDIT_VAR', { stdout: PIPE, env: { ...process.env, AUDIT_VAR: 'yes' } });
      expect(Buffer.from((await env.communicate())[0]!).toString()).toBe('yes\n');
    }));

  it('test_kill / test_terminate / test_send_signal: returncode is minus the signal', () =>
    runIn(make, async () => {
      const [cmd, args] = node('setInterval(() => {}, 1000); process.stdout.write("ready\\n")');
      const k = await createSubprocessExec(cmd, args, { stdout: PIPE });
      await k.stdout!.readline();
      k.kill();
      expect(await k.wait()).toBe(-9);
      const t = await createSubprocessExec(cmd, args, { stdout: PIPE });
      await t.stdout!.readline();
      t.terminate();
      expect(await t.wait()).toBe(-15);
      const s = await createSubprocessExec(cmd, args, { stdout: PIPE });
      await s.stdout!.readline();
      s.sendSignal('SIGHUP');
      expect(await s.wait()).toBe(-1);
    }));

  it('test_cancel_process_wait: cancelling wait() leaves the child running', () =>
    runIn(make, async () => {
      const [cmd, args] = node('setTimeout(() => {}, 200)');
      const proc = await createSubprocessExec(cmd, args);
      const waiter = createTask(() => proc.wait());
      await sleep(0.01);
      waiter.cancel();
      expect(await rejection(waiter)).toBeInstanceOf(CancelledError);
      expect(proc.returncode).toBeNull();
      expect(await proc.wait()).toBe(0);
    }));

  it('test_stdin_broken_pipe: writing to a child that exited fails with a ConnectionError, or communicate ignores it', () =>
    runIn(make, async () => {
      const [cmd, args] = node('process.exit(0)');
      const proc = await createSubprocessExec(cmd, args, { stdin: PIPE });
      await proc.wait();
      const [out, err] = await proc.communicate(Buffer.alloc(1 << 20, 1));
      expect(out).toBeNull();
      expect(err).toBeNull();
    }));

  it('test_read_stdout_after_process_exit / concurrent waits', () =>
    runIn(make, async () => {
      const [cmd, args] = node('process.stdout.write("x".repeat(100000))');
      const proc = await createSubprocessExec(cmd, args, { stdout: PIPE });
      const [a, b] = await gather(() => proc.wait(), () => proc.wait());
      expect([a, b]).toEqual([0, 0]);
      expect((await proc.stdout!.read()).length).toBe(100000);
    }));

  it('test_create_subprocess_exec with a missing program rejects with ENOENT', () =>
    runIn(make, async () => {
      const error = await rejection(createSubprocessExec('/no/such/program-xyz', []));
      expect((error as { code?: string }).code).toBe('ENOENT');
    }));

  it('test_communicate with a timeout: waitFor kills nothing, the child finishes', () =>
    runIn(make, async () => {
      const [cmd, args] = node('setTimeout(() => process.stdout.write("late"), 100)');
      const proc = await createSubprocessExec(cmd, args, { stdout: PIPE });
      expect(await rejection(waitFor(proc.communicate(), 0.01))).toBeInstanceOf(Error);
      expect(await proc.wait()).toBe(0);
    }));
  it('communicate() under a timed-out waitFor is cancelled, as asyncio cancels the coroutine: stdout is the caller\'s again', () =>
    runIn(make, async () => {
      const [cmd, args] = node('setTimeout(() => process.stdout.write("late"), 150)');
      const proc = await createSubprocessExec(cmd, args, { stdout: PIPE });
      expect(await rejection(waitFor(proc.communicate(), 0.02))).toBeInstanceOf(TimeoutError);
      expect(proc.returncode).toBeNull(); // the child was not killed
      // a communicate() left reading would hold stdout: this read would fail or find it drained
      expect((await proc.stdout!.read()).toString()).toBe('late');
      expect(await proc.wait()).toBe(0);
    }));

  it('stdin.drain() under a timed-out waitFor is cancelled: no drain left behind takes a later cancel() of the caller', () =>
    runIn(make, async () => {
      // reads its stdin only after 100 ms: until then writing to it is paused
      const [cmd, args] = node('setTimeout(() => process.stdin.resume(), 100); process.stdin.on("end", () => process.exit(0))');
      const proc = await createSubprocessExec(cmd, args, { stdin: PIPE });
      proc.stdin!.write(Buffer.alloc(4 * 1024 * 1024));
      expect(await rejection(waitFor(proc.stdin!.drain(), 0.02))).toBeInstanceOf(TimeoutError);
      currentTask()!.cancel('later');
      // the child drains the pipe: a drain left behind would resume now, in the caller's name
      while (proc.stdin!.transport.getWriteBufferSize() > 0) await new Promise((resolve) => setTimeout(resolve, 5));
      await new Promise((resolve) => setTimeout(resolve, 5)); // not a Future: the cancel stays pending
      const error = await rejection(sleep(0.001));
      expect((error as Error).message).toBe('later');
      currentTask()!.uncancel();
      proc.stdin!.close();
      expect(await proc.wait()).toBe(0);
    }));

  it('wait() under a timed-out waitFor leaves the child running, and a later wait() gets its exit', () =>
    runIn(make, async () => {
      const [cmd, args] = node('setTimeout(() => {}, 100)');
      const proc = await createSubprocessExec(cmd, args);
      expect(await rejection(waitFor(proc.wait(), 0.01))).toBeInstanceOf(TimeoutError);
      expect(proc.returncode).toBeNull();
      expect(await proc.wait()).toBe(0);
    }));
});
