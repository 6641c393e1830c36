import { describe, expect, it, onTestFinished } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as loopkit from 'loopkit';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const run = promisify(execFile);

/** How long one CLI run may take: `examples` runs 17 example processes in a row (59 s seen at load 15 on 2 CPUs). */
const CLI_LIMIT_MS = 150_000;

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, timeout: CLI_LIMIT_MS });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('loopkit info', () => {
  it('reports the platform, the addon, the chosen backend with its reason, and every backend', async () => {
    const { code, stdout } = await cli(['info'], { LOOPKIT_BACKEND: '' });
    expect(code).toBe(0);
    expect(stdout).toContain(`platform        ${process.platform} ${process.arch}`);
    expect(stdout).toContain(`node            ${process.version}`);
    expect(stdout).toMatch(/native addon    (loaded|missing: )/);
    expect(stdout).toMatch(/async context   (AsyncContextFrame|async_hooks)\n/);
    expect(stdout).toContain(`WebSocket       ${typeof (globalThis as { WebSocket?: unknown }).WebSocket === 'function' ? 'global' : 'none'}`);
    expect(stdout).toMatch(/chosen backend  \w+ \(\w+EventLoop\): \S/);
    expect(stdout).toMatch(/\n  proactor +ProactorEventLoop +available/);
    expect(stdout).toMatch(/\n  selector +SelectorEventLoop +(available|unavailable: no selector: )/);
    if (loopkit.isAvailable() && process.platform === 'linux') {
      expect(stdout).toContain('chosen backend  selector (SelectorEventLoop): linux: readiness via epoll');
    }
  });

  it("detects AsyncContextFrame from the runtime's flags, not its version", async () => {
    const known = process.allowedNodeEnvironmentFlags;
    const off = known.has('--no-async-context-frame') ? '--no-async-context-frame' : null;
    const on = known.has('--experimental-async-context-frame') ? '--experimental-async-context-frame' : null;
    if (off !== null) {
      expect((await cli(['info'])).stdout).toContain('async context   AsyncContextFrame');
      expect((await cli(['info'], { NODE_OPTIONS: off })).stdout).toContain('async context   async_hooks');
    } else if (on !== null) {
      expect((await cli(['info'])).stdout).toContain('async context   async_hooks');
      expect((await cli(['info'], { NODE_OPTIONS: on })).stdout).toContain('async context   AsyncContextFrame');
    } else {
      expect((await cli(['info'])).stdout).toContain('async context   async_hooks');
    }
  });

  it('says how the running task is tracked, and why not in the continuation slot', async () => {
    const major = Number(process.versions.node.split('.')[0]);
    const { stdout } = await cli(['info']);
    if (major >= 24) expect(stdout).toMatch(/task tracking   (task-frame\n|async-local-storage \(the addon did not load: )/);
    else expect(stdout).toMatch(/task tracking   (continuation-slot\n|async-local-storage \(the addon did not load: )/);
    const forced = await cli(['info'], { LOOPKIT_TASK_TRACKING: 'async-local-storage' });
    expect(forced.stdout).toContain('task tracking   async-local-storage (LOOPKIT_TASK_TRACKING=async-local-storage)\n');
  });

  it('explains an unknown LOOPKIT_BACKEND instead of crashing', async () => {
    const { code, stdout } = await cli(['info'], { LOOPKIT_BACKEND: 'nope' });
    expect(code).toBe(0);
    expect(stdout).toMatch(/chosen backend  none: LOOPKIT_BACKEND=nope: no backend named "nope" is registered; available: .*proactor/);
  });
});

describe('loopkit examples', () => {
  it('runs every example on every loop it names, and they all pass', async () => {
    const { code, stdout } = await cli(['examples', '--scale=0.02']);
    expect(stdout).toContain('delays scaled x0.02');
    expect(stdout).toMatch(/examples: \d+ passed, 0 failed/);
    expect(code).toBe(0);
    // The seeds' own lines, in their order.
    expect(stdout).toMatch(/foo will await the future[\s\S]*bar resolving the future[\s\S]*foo finds the future resolved[\s\S]*main exiting/);
    expect(stdout).toMatch(/Program ran for 0\.\d\d seconds/);
    expect(stdout).toMatch(/Is event loop running in thread MainThread = false[\s\S]*Is event loop running in thread Thread-\d+ = true/);
    expect(stdout).toMatch(/Is loop running in thread MainThread = true[\s\S]*coro exiting/);
    expect(stdout).toContain("  -> [ 'slow', 'fast', 'middle' ]");
    expect(stdout).toMatch(/proactor: ProactorEventLoop echoed "hello from ProactorEventLoop"; addReader: no/);
    if (loopkit.isAvailable()) {
      expect(stdout).toContain('selector: SelectorEventLoop echoed "hello from SelectorEventLoop"; addReader: yes');
      expect(stdout).toContain('-- SelectorEventLoop, LOOPKIT_BACKEND=selector');
      expect(stdout).toMatch(/examples: 17 passed, 0 failed, 0 skipped/);
    }
    expect(stdout).toMatch(/MainThread got: 4\^2 = 16, computed in Thread-\d+/);
    expect(stdout).toContain('-- EmitterLoop, LOOPKIT_BACKEND=emitter');
    expect(stdout).toContain('the emitter loop received: alpha, beta, gamma');
    expect(stdout).toMatch(/Thread-\d+: pid (\d+) said "bonjour from pid \1" and exited with 3/);
  }, CLI_LIMIT_MS);

  it('runs one example by name, and rejects an unknown one', async () => {
    const one = await cli(['examples', 'gather-vs-wait', '--scale=0.02']);
    expect(one.code).toBe(0);
    expect(one.stdout).not.toContain('futures-and-tasks');
    const unknown = await cli(['examples', 'nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no example named "nope"; examples: futures-and-tasks, /);
  });

  it('rejects a bad scale and an unknown command', async () => {
    expect((await cli(['examples', '--scale=-1'])).stderr).toMatch(/--scale must be a positive number/);
    const unknown = await cli(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command "frobnicate"[\s\S]*usage: loopkit/);
  });
});

describe('loopkit bench', () => {
  it('runs the bench scripts present, with gc exposed to sched, and reports the missing and failing ones', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'loopkit-bench-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'sched.js'), "console.log('sched ran, gc:', typeof globalThis.gc);\n");
    const ok = await cli(['bench'], { LOOPKIT_BENCH_DIR: dir });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('== bench sched\nsched ran, gc: function');
    expect(ok.stdout).toContain(`bench echo: not present (${join(dir, 'echo.js')})`);
    writeFileSync(join(dir, 'echo.js'), 'process.exit(3);\n');
    const failing = await cli(['bench'], { LOOPKIT_BENCH_DIR: dir });
    expect(failing.code).toBe(1);
    expect(failing.stdout).toContain('bench echo: FAILED (exit code 3)');
    const none = await cli(['bench'], { LOOPKIT_BENCH_DIR: join(dir, 'missing') });
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no benchmarks found/);
  });
});

describe('the umbrella package', () => {
  it('exports the public names of every package', () => {
    const names = [
      // core
      'Future', 'Task', 'BaseEventLoop', 'sleep', 'gather', 'wait', 'waitFor', 'asCompleted', 'shield', 'timeout',
      'timeoutAt', 'TaskGroup', 'taskGroup', 'createTask', 'ensureFuture', 'currentTask', 'allTasks', 'getRunningLoop', 'wrapFuture',
      'isFuture', 'Lock', 'Event', 'Condition', 'Semaphore', 'BoundedSemaphore', 'Barrier', 'Queue', 'PriorityQueue',
      'LifoQueue', 'run', 'Runner', 'openConnection', 'startServer', 'StreamReader', 'StreamWriter', 'Protocol',
      'BufferedProtocol', 'DatagramProtocol', 'FIRST_COMPLETED', 'FIRST_EXCEPTION', 'ALL_COMPLETED', 'CancelledError',
      'InvalidStateError', 'TimeoutError', 'NotImplementedError', 'IncompleteReadError', 'LimitOverrunError',
      'QueueEmpty', 'QueueFull', 'QueueShutDown', 'BrokenBarrierError', 'ExceptionGroup', 'SendfileNotAvailableError',
      'ConnectionError', 'ConnectionResetError', 'BrokenPipeError', 'ConnectionRefusedError', 'ConnectionAbortedError',
      'runCoroutineThreadsafe', 'callSoonThreadsafe', 'threadsafeHandle',
      'KeyboardInterrupt', 'Held',
      // uv
      'socket', 'socketpair', 'isAvailable', 'SOL_SOCKET', 'SO_REUSEADDR', 'SO_REUSEPORT', 'TCP_NODELAY', 'IPPROTO_TCP', 'SHUT_WR',
      // selector
      'EVENT_READ', 'EVENT_WRITE', 'SelectorKey', 'BaseSelector', 'EpollSelector', 'KqueueSelector', 'PollSelector',
      'DefaultSelector', 'SelectorEventLoop',
      // proactor
      'NetProactor', 'ProactorEventLoop', 'Server',
      // policy
      'AbstractEventLoopPolicy', 'DefaultEventLoopPolicy', 'getEventLoopPolicy', 'setEventLoopPolicy', 'getEventLoop', 'setEventLoop',
      'newEventLoop', 'EventLoop', 'registerBackend', 'availableBackends', 'container', 'LOOP_FACTORY', 'SELECTOR', 'PROACTOR',
    ];
    const missing = names.filter((name) => !(name in loopkit));
    expect(missing).toEqual([]);
  });
});
