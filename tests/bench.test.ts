/**
 * The issue-13 benches measure what they say: the loopkit side runs on the loop the policy's
 * newEventLoop() gives (LOOPKIT_BACKEND names another), the Node baseline's process loads
 * nothing of loopkit, every case prints its figures, and an echo server answers while its
 * loop runs a callSoon chain that never ends. Tiny sizes: no speed is asserted.
 */
import { describe, expect, it } from 'vitest';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { UringProactor } from '@loopkit/proactor';

const bench = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'bench');
const run = promisify(execFile);
const CASES = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'];
// Ten Node processes each: on a shared 2-CPU machine that takes tens of seconds.
const SLOW = 120_000;

/** Whether the benches' Python (PYTHON, else /usr/bin/python3) has `module`. */
function pythonHas(module: string): boolean {
  return spawnSync(process.env.PYTHON ?? '/usr/bin/python3', ['-c', `import ${module}`], { stdio: 'ignore' }).status === 0;
}

/** The JSON lines a bench child printed. */
async function figures(file: string, args: string[], env: Record<string, string | undefined> = {}) {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, BENCH_SCALE: '0.001', ...env };
  for (const [name, value] of Object.entries(env)) if (value === undefined) delete childEnv[name];
  const { stdout } = await run(process.execPath, ['--expose-gc', path.join(bench, file), ...args], { env: childEnv, timeout: 60_000 });
  return stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
}

function expectFigures(result: Record<string, unknown>) {
  if ('rss' in result) expect(result.rss).toBeGreaterThan(0);
  else {
    expect(result.ops).toBeGreaterThan(0);
    expect(result.cpu).toBeGreaterThanOrEqual(0);
    expect(result.wall).toBeGreaterThan(0);
  }
}

describe('bench/sched.js children', () => {
  it('the loopkit side runs every case on the loop newEventLoop() gives, and on BaseEventLoop', async () => {
    const policy = await Promise.all(CASES.map((c) => figures('sched-loopkit.js', [c, 'policy'], { LOOPKIT_BACKEND: undefined })));
    for (const [probe, result] of policy) {
      expect(probe).toEqual({ loop: 'SelectorEventLoop' });
      expectFigures(result!);
    }
    const [probe, result] = await figures('sched-loopkit.js', ['c', 'base']);
    expect(probe).toEqual({ loop: 'BaseEventLoop' });
    expectFigures(result!);
  }, SLOW);

  it('LOOPKIT_BACKEND picks the loop of the loopkit side', async () => {
    const backends: [string, string][] = [['proactor', 'ProactorEventLoop']];
    if (UringProactor.problem() === null) backends.push(['uring', 'UringEventLoop']);
    for (const [backend, loopClass] of backends) {
      const [probe, result] = await figures('sched-loopkit.js', ['c', 'policy'], { LOOPKIT_BACKEND: backend });
      expect(probe).toEqual({ loop: loopClass });
      expectFigures(result!);
    }
  }, SLOW);

  it('the Node baseline runs every case and imports nothing of loopkit', async () => {
    const results = await Promise.all(CASES.map((c) => figures('sched-node.js', [c])));
    for (const [result] of results) expectFigures(result!);
    // Its own imports and theirs, within bench/: only node: built-ins and relative files.
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const [, specifier] of readFileSync(file, 'utf8').matchAll(/\bfrom '([^']+)'|import\('([^']+)'\)/g)) {
        if (specifier === undefined) continue;
        expect(specifier).toMatch(/^(node:|\.\/)/);
        if (specifier.startsWith('./')) visit(path.join(bench, specifier));
      }
    };
    visit(path.join(bench, 'sched-node.js'));
    expect(seen.size).toBeGreaterThan(1);
  }, SLOW);

  it.skipIf(!existsSync('/usr/bin/python3'))('the Python side prints its figures', async () => {
    for (const kase of ['a', 'c', 'd', 'i', 'j']) {
      const { stdout } = await run('/usr/bin/python3', [path.join(bench, 'sched_bench.py'), 'asyncio', kase, '100'], { timeout: 60_000 });
      expectFigures(JSON.parse(stdout.trim()) as Record<string, unknown>);
    }
  }, SLOW);
});

describe('bench/sched-heap.js', () => {
  it("prints bytes a task in flight for both sides, and the suspended moment's objects by kind", async () => {
    const { stdout } = await run(process.execPath, [path.join(bench, 'sched-heap.js'), '--kinds'], { env: { ...process.env, BENCH_SCALE: '0.01' }, timeout: 60_000 });
    const rows = new Map(
      [...stdout.matchAll(/^\| (loopkit|node) +\| (-?\d+) +\| (-?\d+) +\|$/gm)].map(([, side, suspended, gathered]) => [side, [Number(suspended), Number(gathered)]]),
    );
    // A thousand suspended tasks each hold at least their async function's frame.
    expect(rows.get('loopkit')![0]).toBeGreaterThan(100);
    expect(rows.get('node')![0]).toBeGreaterThan(100);
    // Each side's kinds are its own process's: one Task a task on loopkit's, one Immediate on Node's.
    const [loopkitKinds, nodeKinds] = stdout.split(/^node, suspended, by kind:$/m);
    expect(loopkitKinds).toMatch(/^\| object Task +\| 1\.00 +\|/m);
    expect(nodeKinds).toMatch(/^\| object Immediate +\| 1\.00 +\|/m);
    expect(nodeKinds).not.toMatch(/object Task /);
  }, SLOW);
});

describe('bench/echo-server.js', () => {
  /** Start a server kind, echo one message through it, stop it. */
  async function echoOnce(kind: string): Promise<string> {
    const child = spawn(process.execPath, [path.join(bench, 'echo-server.js'), kind], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let text = '';
        child.stdout.on('data', (chunk: Buffer) => {
          text += chunk.toString();
          const match = /PORT (\d+)/.exec(text);
          if (match) resolve(Number(match[1]));
        });
        child.once('exit', (code) => reject(new Error(`echo server exited with ${code}`)));
      });
      return await new Promise<string>((resolve, reject) => {
        const socket = net.connect({ port, host: '127.0.0.1' }, () => socket.write('ping'));
        socket.once('data', (data) => {
          socket.destroy();
          resolve(data.toString());
        });
        socket.once('error', reject);
      });
    } finally {
      const exited = new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
      child.kill('SIGTERM');
      // A server that ignored SIGTERM would spin forever: its stop is part of what is tested.
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      const [code, signal] = await exited.then(() => [child.exitCode, child.signalCode]);
      clearTimeout(timer);
      expect({ code, signal }).toEqual({ code: 0, signal: null });
    }
  }

  it('the default loop echoes, and still does while a callSoon chain that never ends runs on it', async () => {
    expect(await echoOnce('default')).toBe('ping');
    expect(await echoOnce('storm')).toBe('ping');
  }, SLOW);

  it('the BufferedProtocol echo gives back every byte while the kernel queues its writes (its one buffer reused)', async () => {
    expect(await echoOnce('buffered')).toBe('ping');
    const child = spawn(process.execPath, [path.join(bench, 'echo-server.js'), 'buffered'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const port = await new Promise<number>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          const match = /PORT (\d+)/.exec(chunk.toString());
          if (match) resolve(Number(match[1]));
        });
        child.once('exit', (code) => reject(new Error(`echo server exited with ${code}`)));
      });
      // 16 MiB, every 4-byte word its own index: far more than the socket buffers hold, so while
      // this client does not read, the server's writes are only partly taken, and it reads again
      // into the buffer whose bytes the transport still has to send.
      const sent = Buffer.alloc(16 * 1024 * 1024);
      for (let i = 0; i < sent.length / 4; i++) sent.writeUInt32LE(i, 4 * i);
      const socket = net.connect({ port, host: '127.0.0.1' });
      await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
      socket.pause();
      socket.write(sent);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const chunks: Buffer[] = [];
      let received = 0;
      await new Promise<void>((resolve, reject) => {
        socket.on('data', (data: Buffer) => {
          chunks.push(data);
          received += data.length;
          if (received >= sent.length) resolve();
        });
        socket.once('error', reject);
        socket.resume();
      });
      socket.destroy();
      const echoed = Buffer.concat(chunks);
      expect(echoed.length).toBe(sent.length);
      expect(echoed.equals(sent)).toBe(true);
    } finally {
      child.kill('SIGTERM');
      if (child.exitCode === null) await new Promise((resolve) => child.once('exit', resolve));
    }
  }, SLOW);
});

describe('bench/echo-pair.js', () => {
  const hasCc = existsSync('/usr/bin/cc') || existsSync('/usr/local/bin/cc');
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

  /**
   * The per-round ratio echo-pair printed for `second`/`first` is their printed CPU figures'
   * (each within its rounding to 0.1 µs). Not "greater than 0": CPU time comes from /proc in
   * 10 ms ticks, and a 0.3 s round under load 14-17 once got no tick at all (0.0 µs/request,
   * so a ratio of 0, Infinity or NaN), which is the bench's resolution, not a fault.
   */
  function expectRatios(stdout: string, first: string, second: string): void {
    const cpuOf = (kind: string) => {
      const line = new RegExp(`^${escape(kind)}: CPU µs/request ([\\d. ]+) \\(median `, 'm').exec(stdout);
      expect(line, `${kind}'s CPU line`).not.toBeNull();
      return line![1]!.trim().split(' ').map(Number);
    };
    const [a, b] = [cpuOf(first), cpuOf(second)];
    const line = new RegExp(`^${escape(second)}/${escape(first)} CPU per round: (.+); median (\\S+)x$`, 'm').exec(stdout);
    expect(line, 'the ratio line').not.toBeNull();
    const ratios = line![1]!.split(' ').map(Number);
    expect(ratios).toHaveLength(a.length);
    ratios.forEach((ratio, round) => {
      const [lowA, highA, lowB, highB] = [a[round]! - 0.05, a[round]! + 0.05, Math.max(b[round]! - 0.05, 0), b[round]! + 0.05];
      if (lowA <= 0 || Number.isNaN(ratio)) {
        // a round with no tick: only a zero figure can give this
        expect(a[round] === 0 || b[round] === 0, `round ${round}: ${ratio} from ${a[round]} and ${b[round]}`).toBe(true);
        return;
      }
      expect(ratio).toBeGreaterThanOrEqual(Number((lowB / highA).toFixed(2)) - 0.01);
      expect(ratio).toBeLessThanOrEqual(Number((highB / lowA).toFixed(2)) + 0.01);
    });
  }

  it.skipIf(!hasCc)('runs both kinds in every round and prints their per-round ratios', async () => {
    const env = { ...process.env, BENCH_ROUNDS: '2', BENCH_SECONDS: '0.3', BENCH_WARMUP: '0.1' };
    const { stdout } = await run(process.execPath, [path.join(bench, 'echo-pair.js'), 'net', 'default'], { env, timeout: 60_000 });
    expect(stdout).toMatch(/^net: CPU µs\/request \S+ \S+ \(median /m);
    expect(stdout).toMatch(/^default: CPU µs\/request \S+ \S+ \(median /m);
    expectRatios(stdout, 'net', 'default');
    // Each run's rate, and its CPU seconds per second: its printed CPU per request times its rate.
    for (const kind of ['net', 'default']) {
      const cpu = new RegExp(`^${kind}: CPU µs/request ([\\d. ]+) \\(median `, 'm').exec(stdout)![1]!.trim().split(' ').map(Number);
      const line = new RegExp(`^${kind}: req/s ([\\d ]+); CPU busy \\(s/s\\) ([\\d. ]+) \\(median \\S+\\)$`, 'm').exec(stdout);
      expect(line, `${kind}'s rate line`).not.toBeNull();
      const rates = line![1]!.trim().split(' ').map(Number);
      const busy = line![2]!.trim().split(' ').map(Number);
      expect(rates).toHaveLength(2);
      busy.forEach((b, round) => expect(Math.abs(b - (cpu[round]! * rates[round]!) / 1e6)).toBeLessThanOrEqual((0.05 * rates[round]!) / 1e6 + 0.005));
    }
    expect(stdout).toMatch(/^default\/net req\/s per round: \S+ \S+; median \S+x$/m);
  }, SLOW);

  it.skipIf(!hasCc)('pairs a kind served by a named tree against the C server', async () => {
    const env = { ...process.env, BENCH_ROUNDS: '1', BENCH_SECONDS: '0.3', BENCH_WARMUP: '0.1' };
    const tree = path.dirname(bench);
    const { stdout } = await run(process.execPath, [path.join(bench, 'echo-pair.js'), 'c', `default@${tree}`], { env, timeout: 60_000 });
    expect(stdout).toMatch(/^c: CPU µs\/request \S+ \(median /m);
    expectRatios(stdout, 'c', `default@${tree}`);
  }, SLOW);

  it('refuses a kind echo-server.js does not serve, and one kind twice', async () => {
    for (const kinds of [['net', 'nginx'], ['default', 'default'], ['c', 'nginx@/tmp']]) {
      const failed = await run(process.execPath, [path.join(bench, 'echo-pair.js'), ...kinds]).catch((error: { code: number; stderr: string }) => error);
      expect(failed).toMatchObject({ code: 2 });
      expect((failed as { stderr: string }).stderr).toMatch(/kinds: c, c-idle-poll, net, default/);
    }
  });

  it.skipIf(!hasCc)('pairs the C server against itself polling as libuv with idle-time metrics', async () => {
    const env = { ...process.env, BENCH_ROUNDS: '1', BENCH_SECONDS: '0.3', BENCH_WARMUP: '0.1' };
    const { stdout } = await run(process.execPath, [path.join(bench, 'echo-pair.js'), 'c', 'c-idle-poll'], { env, timeout: 60_000 });
    expect(stdout).toMatch(/^c-idle-poll: CPU µs\/request \S+ \(median /m);
    // Both served requests: a server that failed to start or echo would leave no rate.
    for (const kind of ['c', 'c-idle-poll']) {
      const rate = new RegExp(`^${kind}: .*req/s median (\\d+)$`, 'm').exec(stdout);
      expect(Number(rate?.[1])).toBeGreaterThan(0);
    }
    expectRatios(stdout, 'c', 'c-idle-poll');
  }, SLOW);

  it.skipIf(!hasCc)('a kind@dir runs that tree\'s echo-server.js, paired with this tree\'s', async () => {
    const env = { ...process.env, BENCH_ROUNDS: '1', BENCH_SECONDS: '0.3', BENCH_WARMUP: '0.1' };
    const tree = path.dirname(bench);
    const { stdout } = await run(process.execPath, [path.join(bench, 'echo-pair.js'), `net@${tree}`, 'net'], { env, timeout: 60_000 });
    expect(stdout).toMatch(new RegExp(`^net@${tree}: CPU µs/request \\S+ \\(median `, 'm'));
    expect(stdout).toMatch(/^net: CPU µs\/request \S+ \(median /m);
  }, SLOW);

  it('refuses a kind@dir whose tree has no bench/echo-server.js', async () => {
    const failed = await run(process.execPath, [path.join(bench, 'echo-pair.js'), 'net@/nonexistent-tree', 'net']).catch((error: { code: number; stderr: string }) => error);
    expect(failed).toMatchObject({ code: 2 });
  });

  it.skipIf(!hasCc || !pythonHas('uvloop'))('pairs uvloop (bench/echo_server.py) against the C server', async () => {
    const env = { ...process.env, BENCH_ROUNDS: '1', BENCH_SECONDS: '0.3', BENCH_WARMUP: '0.1' };
    const { stdout } = await run(process.execPath, [path.join(bench, 'echo-pair.js'), 'c', 'uvloop'], { env, timeout: 60_000 });
    for (const kind of ['c', 'uvloop']) {
      const rate = new RegExp(`^${kind}: .*req/s median (\\d+)$`, 'm').exec(stdout);
      expect(Number(rate?.[1]), `${kind}'s rate`).toBeGreaterThan(0);
    }
    expectRatios(stdout, 'c', 'uvloop');
  }, SLOW);
});

describe('bench/echo-profile.js', () => {
  const hasPerf = spawnSync('perf', ['--version'], { stdio: 'ignore' }).status === 0;
  const hasCc = existsSync('/usr/bin/cc') || existsSync('/usr/local/bin/cc');

  it.skipIf(!hasPerf || !hasCc)('profiles the C server beside the default loop, each per request', async () => {
    const env = { ...process.env, BENCH_ROUNDS: '1', BENCH_SECONDS: '1', BENCH_WARMUP: '0.3', BENCH_TOP: '5' };
    const { stdout } = await run(process.execPath, [path.join(bench, 'echo-profile.js'), 'c', 'default'], { env, timeout: 60_000 });
    // The C server was served and sampled (the default loop's share is left to the load: a
    // starved server may give no sample in a second).
    const total = /^ns per request: c (\d+), default (\d+) /m.exec(stdout);
    expect(total, 'the totals line').not.toBeNull();
    expect(Number(total![1])).toBeGreaterThan(0);
    expect(stdout).toMatch(/^ +\d+ +\d+ +[-+]\d+ +\[kernel\.kallsyms\]$/m);
  }, SLOW);
});

describe('bench/echo-phases.js', () => {
  const hasPerf = spawnSync('perf', ['--version'], { stdio: 'ignore' }).status === 0;
  const hasCc = existsSync('/usr/bin/cc') || existsSync('/usr/local/bin/cc');

  it('refuses a kind it cannot serve', async () => {
    const failed = await run(process.execPath, [path.join(bench, 'echo-phases.js'), 'c', 'nginx']).catch((error: { code: number; stderr: string }) => error);
    expect(failed).toMatchObject({ code: 2 });
  });

  it.skipIf(!hasPerf || !hasCc || process.arch !== 'x64')('splits the C server\'s and the default loop\'s round trips per request, by syscall timestamps', async () => {
    const env = { ...process.env, BENCH_ROUNDS: '1', BENCH_SECONDS: '0.5', BENCH_WARMUP: '0.3' };
    const { stdout } = await run(process.execPath, [path.join(bench, 'echo-phases.js'), 'c', 'default'], { env, timeout: 60_000 });
    // Each kind's run: its phases, its hold split by the sleep before, its waits per request.
    expect(stdout).toMatch(/^c:\n  req\/s \d+: wake->read [-\d/]+, read [-\d/]+, read->send [-\d/]+, send [-\d/]+, send->poll [-\d/]+; hold \d+\/\d+ \(short sleep [-\d/]+ x\d+, long [-\d/]+ x\d+\); per request: epoll waits \d+\.\d\d, sleeps \d+\.\d\d \(\d+ requests\)$/m);
    expect(stdout).toMatch(/^default:\n  req\/s \d+: wake->read /m);
    expect(stdout).toMatch(/^default\/c hold by mean per round: \d+\.\d\d; median \d+\.\d\dx$/m);
  }, SLOW);
});

describe('bench/echo-instructions.js', () => {
  const hasCallgrind = existsSync('/usr/bin/callgrind_control') || existsSync('/usr/local/bin/callgrind_control');

  it('refuses a kind echo-server.js does not serve', async () => {
    const failed = await run(process.execPath, [path.join(bench, 'echo-instructions.js'), 'nginx']).catch((error: { code: number; stderr: string }) => error);
    expect(failed).toMatchObject({ code: 2 });
    expect((failed as { stderr: string }).stderr).toMatch(/kinds: net, default/);
  });

  it('refuses a number of connections that is not a positive integer', async () => {
    for (const conns of ['0', '1.5', 'x']) {
      const env = { ...process.env, BENCH_CONNS: conns };
      const failed = await run(process.execPath, [path.join(bench, 'echo-instructions.js'), 'net'], { env }).catch((error: { code: number; stderr: string }) => error);
      expect(failed).toMatchObject({ code: 2 });
      expect((failed as { stderr: string }).stderr).toMatch(/BENCH_CONNS must be a positive integer/);
    }
  });

  it.skipIf(!hasCallgrind)('counts the server\'s instructions per round trip under callgrind, over several connections', async () => {
    // 21 counted round trips over 2 connections: one connection makes one more than the other.
    const env = { ...process.env, BENCH_WARM: '20', BENCH_REQUESTS: '21', BENCH_CONNS: '2' };
    const { stdout } = await run(process.execPath, [path.join(bench, 'echo-instructions.js'), 'net'], { env, timeout: 240_000 });
    expect(stdout).toMatch(/^echo-instructions: 1024 B x 2, 20 round trips then 21 counted/m);
    const counted = /^net: (\d+) instructions per round trip on the main thread, (\d+) on every thread$/m.exec(stdout);
    expect(counted).not.toBeNull();
    // A round trip runs at least Node's read callback and a write: thousands of instructions.
    expect(Number(counted![1])).toBeGreaterThan(1000);
    expect(Number(counted![2])).toBeGreaterThanOrEqual(Number(counted![1]));
  }, 300_000);
});
