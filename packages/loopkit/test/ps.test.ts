/**
 * `loopkit ps` / `loopkit pstree` on live processes: a loopkit program with a known await tree
 * (test/fixtures/ps-target.mjs: a TaskGroup of gathers, a shield, a worker thread's loop, and
 * with --cycle two tasks awaiting each other), read from outside; the target runs on after,
 * with no inspector listening. Linux: the checks read /proc, as the command does.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const FIXTURE = fileURLToPath(new URL('./fixtures/ps-target.mjs', import.meta.url));

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], options: { uid?: number; gid?: number } = {}): Promise<Result> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 30_000, ...options }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : Number((error as { code?: unknown }).code ?? 1), stdout, stderr });
    });
  });
}

interface Target {
  child: ChildProcess;
  pid: number;
  lines: string[];
}

const started: ChildProcess[] = [];
afterEach(() => {
  for (const child of started.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

/** Start `node nodeArgs...`, wait for its 'ready' line. */
async function startNode(nodeArgs: string[]): Promise<Target> {
  const child = spawn(process.execPath, nodeArgs, { stdio: ['pipe', 'pipe', 'pipe'] });
  started.push(child);
  const lines: string[] = [];
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d));
  await new Promise<void>((resolve, reject) => {
    let buffered = '';
    child.stdout!.on('data', (d: Buffer) => {
      buffered += d;
      const parts = buffered.split('\n');
      buffered = parts.pop()!;
      lines.push(...parts);
      if (parts.includes('ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`target exited (${code}) before it was ready: ${stderr}`)));
  });
  return { child, pid: child.pid!, lines };
}

/** Whether the target still runs its loop: it answers a line on stdin; else why not. */
async function stillRuns(target: Target): Promise<true | string> {
  const before = target.lines.length;
  target.child.stdin!.write('ping\n');
  for (let i = 0; i < 300; i++) {
    if (target.lines.slice(before).includes('pong')) return true;
    if (target.child.exitCode !== null || target.child.signalCode !== null) {
      return `exited: ${target.child.exitCode ?? target.child.signalCode}`;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return 'no answer within 15 s';
}

/** The TCP ports `pid` listens on, from /proc (its sockets' inodes against the LISTEN rows). */
function listening(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  const ports: number[] = [];
  for (const table of ['tcp', 'tcp6']) {
    for (const line of readFileSync(`/proc/${pid}/net/${table}`, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[3] === '0A' && inodes.has(cols[9]!)) ports.push(parseInt(cols[1]!.split(':')[1]!, 16));
    }
  }
  return ports;
}

/** The rows of a `loopkit ps` table, cut at the header's column starts. */
function parseTable(stdout: string): Record<string, string>[] {
  const [header, , ...rows] = stdout.trimEnd().split('\n');
  const names = header!.split(/ {2,}/);
  const starts = names.map((name) => header!.indexOf(name));
  return rows.map((row) =>
    Object.fromEntries(names.map((name, i) => [name, row.slice(starts[i], starts[i + 1]).trim()])),
  );
}

// The loop's class depends on the backend chosen on this machine.
const normalizeLoops = (text: string): string => text.replace(/\w+EventLoop#\d+/g, 'LOOP');

// Each attach takes a second or two (the CLI's start, the inspector's); the shared machine is slow.
describe.skipIf(process.platform !== 'linux')('loopkit ps / pstree on a live process', { timeout: 90_000 }, () => {
  it('pstree prints the await tree of every thread; ps the same tasks as a table; the target runs on, inspector closed', async () => {
    const target = await startNode(['--inspect-port=0', FIXTURE]);
    const tree = await cli(['pstree', String(target.pid)]);
    expect(tree.stderr).toBe('');
    expect(tree.code).toBe(0);
    expect(normalizeLoops(tree.stdout)).toBe(
      [
        'thread 0 (main), loop LOOP',
        '└── (T) main',
        '    ├── (T) g1',
        '    │   ├── (T) a1',
        '    │   └── (T) a2',
        '    ├── (T) g2',
        '    │   └── (T) b1',
        '    └── (T) sh',
        '        └── (T) shielded',
        'thread 1, loop LOOP',
        '└── (T) Task-1',
        '    ├── (T) w1',
        '    └── (T) w2',
        '',
      ].join('\n'),
    );
    expect(await stillRuns(target)).toBe(true);
    expect(listening(target.pid)).toEqual([]);

    // A second attach works the same, and ids stay what they were.
    const ps = await cli(['ps', String(target.pid)]);
    expect(ps.code).toBe(0);
    const rows = parseTable(ps.stdout).map((r) => [
      r['thread'],
      normalizeLoops(r['loop']!),
      r['task id'],
      r['task name'],
      r['state'],
      r['awaiting']!.replace(/ 0x[0-9a-f]+$/, ''), // a sleep's future: its id is of no interest
      r['awaited by'],
    ]);
    expect(rows).toEqual([
      ['0', 'LOOP', '0x1', 'main', 'pending', 'Future', ''],
      ['0', 'LOOP', '0x4', 'g1', 'pending', 'GatheringFuture', 'main (0x1)'],
      ['0', 'LOOP', '0x6', 'g2', 'pending', 'GatheringFuture', 'main (0x1)'],
      ['0', 'LOOP', '0x8', 'sh', 'pending', 'Future', 'main (0x1)'],
      ['0', 'LOOP', '0xa', 'a1', 'pending', 'SleepFuture', 'g1 (0x4)'],
      ['0', 'LOOP', '0xc', 'a2', 'pending', 'SleepFuture', 'g1 (0x4)'],
      ['0', 'LOOP', '0xe', 'b1', 'pending', 'SleepFuture', 'g2 (0x6)'],
      ['0', 'LOOP', '0x10', 'shielded', 'pending', 'SleepFuture', 'sh (0x8)'],
      ['1', 'LOOP', '0x1', 'Task-1', 'pending', 'GatheringFuture', ''],
      ['1', 'LOOP', '0x4', 'w1', 'pending', 'SleepFuture', 'Task-1 (0x1)'],
      ['1', 'LOOP', '0x6', 'w2', 'pending', 'SleepFuture', 'Task-1 (0x1)'],
    ]);
    expect(await stillRuns(target)).toBe(true);
    expect(listening(target.pid)).toEqual([]);
  });

  it('pstree exits 1 naming an await cycle; ps still lists both tasks', async () => {
    const target = await startNode(['--inspect-port=0', FIXTURE, '--cycle']);
    const tree = await cli(['pstree', String(target.pid)]);
    expect(tree.code).toBe(1);
    expect(tree.stdout).toBe('');
    expect(tree.stderr).toBe('ERROR: await-graph contains cycles - cannot print a tree!\n\ncycle: c1 → c2 → c1\n');
    const psRun = await cli(['ps', String(target.pid)]);
    expect(psRun.stderr).toBe('');
    const ps = parseTable(psRun.stdout);
    const c1 = ps.find((r) => r['task name'] === 'c1')!;
    const c2 = ps.find((r) => r['task name'] === 'c2')!;
    expect(c1['awaiting']).toBe(`c2 (${c2['task id']})`);
    expect(c2['awaited by']).toBe(`main (0x1), c1 (${c1['task id']})`);
    expect(await stillRuns(target)).toBe(true);
    expect(listening(target.pid)).toEqual([]);
  });

  it('clear errors: no such process, not a Node process, not a process id', async () => {
    const gone = spawn(process.execPath, ['-e', '0']);
    await new Promise((r) => gone.once('exit', r));
    expect(await cli(['ps', String(gone.pid)])).toMatchObject({ code: 1, stderr: `loopkit ps: no such process: ${gone.pid}\n` });

    const sleeper = spawn('sleep', ['30']);
    started.push(sleeper);
    const notNode = await cli(['ps', String(sleeper.pid)]);
    expect(notNode.code).toBe(1);
    expect(notNode.stderr).toMatch(new RegExp(`^loopkit ps: not a Node process: ${sleeper.pid} runs \\S*sleep\\n$`));
    expect(sleeper.exitCode).toBe(null); // not signalled
    expect(await cli(['ps', 'abc'])).toMatchObject({ code: 2, stderr: 'loopkit ps: expected a process id, got "abc"\n' });
  });

  it('clear errors: no loopkit loaded, a busy inspector port; the target runs on', async () => {
    const PLAIN = "process.stdin.on('data', () => console.log('pong')); console.log('ready')";
    const plain = await startNode(['--inspect-port=0', '-e', PLAIN]);
    const none = await cli(['pstree', String(plain.pid)]);
    expect(none).toMatchObject({ code: 1, stderr: `loopkit pstree: no loopkit loaded in process ${plain.pid}: no thread of it has loaded @loopkit/core (or one from before introspection)\n` });
    expect(await stillRuns(plain)).toBe(true);
    expect(listening(plain.pid)).toEqual([]);

    const holder: Server = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const port = (holder.address() as { port: number }).port;
    try {
      const blocked = await startNode([`--inspect-port=${port}`, '-e', PLAIN]);
      const busy = await cli(['ps', String(blocked.pid)]);
      expect(busy.code).toBe(1);
      expect(busy.stderr).toContain(`loopkit ps: inspector port busy: process ${blocked.pid} could not open its inspector on port ${port}`);
      expect(await stillRuns(blocked)).toBe(true);
    } finally {
      holder.close();
    }
  });

  it.skipIf(process.getuid?.() !== 0)('permission denied: a process of another user', async () => {
    const target = await startNode(['--inspect-port=0', '-e', "process.stdin.on('data', () => console.log('pong')); console.log('ready')"]);
    const denied = await cli(['ps', String(target.pid)], { uid: 65534, gid: 65534 });
    expect(denied.code).toBe(1);
    expect(denied.stderr).toBe(
      `loopkit ps: permission denied: process ${target.pid} belongs to another user (run loopkit ps as that user or as root)\n`,
    );
    expect(await stillRuns(target)).toBe(true);
  });
});
