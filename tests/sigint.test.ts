/**
 * Ctrl-C in run(), as asyncio.Runner: real SIGINTs sent to a child process
 * (support/sigint-child.mjs), which prints what it saw.
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const child = fileURLToPath(new URL('./support/sigint-child.mjs', import.meta.url));

interface Outcome {
  lines: string[];
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Run the child in `mode`; send SIGINT each time it prints one of `triggers`. */
function interrupt(mode: string, triggers: string[]): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [child, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    let stderr = '';
    let pending = '';
    const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
    proc.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      let at: number;
      while ((at = pending.indexOf('\n')) !== -1) {
        const line = pending.slice(0, at);
        pending = pending.slice(at + 1);
        lines.push(line);
        if (triggers.includes(line)) proc.kill('SIGINT');
      }
    });
    proc.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    proc.on('error', reject);
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ lines, stderr, code, signal });
    });
  });
}

describe('Ctrl-C in run() (asyncio.Runner)', () => {
  it('the first SIGINT cancels the main task, which may clean up and return', async () => {
    const out = await interrupt('catch', ['ready']);
    expect(out.lines).toEqual(['ready', 'cleaning', 'run returned cleaned up', 'SIGINT listeners after run: 0']);
    expect(out.code).toBe(0);
  });

  it('a main task that lets the CancelledError out makes run() reject with KeyboardInterrupt', async () => {
    const out = await interrupt('propagate', ['ready']);
    expect(out.lines).toEqual([
      'ready',
      'cleaning',
      'run rejected KeyboardInterrupt true cause=CancelledError',
      'SIGINT listeners after run: 0',
    ]);
    expect(out.code).toBe(0);
  });

  it('a second SIGINT does not wait for a hanging cleanup: run() rejects with KeyboardInterrupt', async () => {
    const out = await interrupt('twice', ['ready', 'cleaning']);
    expect(out.lines).toEqual([
      'ready',
      'cleaning',
      'run rejected KeyboardInterrupt true cause=null',
      'SIGINT listeners after run: 0',
    ]);
    expect(out.code).toBe(0);
  });

  it('an uncaught KeyboardInterrupt ends the process as Node ends on Ctrl-C: killed by SIGINT', async () => {
    const out = await interrupt('uncaught', ['ready']);
    expect(out.lines).toEqual(['ready', 'cleaning']);
    expect(out.signal).toBe('SIGINT');
    expect(out.stderr).toMatch(/^KeyboardInterrupt: interrupted by SIGINT \(Ctrl-C\)/);
  });

  it("a program's own SIGINT listener is left alone: the main task is not cancelled", async () => {
    const out = await interrupt('listener', ['ready']);
    expect(out.lines).toEqual(['ready', 'own listener', 'run returned main ran on']);
    expect(out.code).toBe(0);
  });
});
