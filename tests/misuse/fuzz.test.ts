/**
 * Issue 16's property: random calls of public functions with random arguments (wrong types,
 * NaN, negative, huge, strings for numbers, misspelt option keys) never hang the program,
 * never exit the process, never leave an unhandled rejection, and either work or fail with
 * an Error naming the argument. The calls run in a child (fuzz-child.mjs) under a time limit,
 * since a hang or an exit can only be seen from outside. The seed is random and printed.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { NET_LOOPS, title } from '../faults/helpers.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const RUNS = 600;
const LIMIT_MS = 60_000;

interface Outcome {
  exitCode: number | null;
  timedOut: boolean;
  lastCase: string | null;
  summary: { failures: Array<{ case: string; args: string[]; problem: string }>; unhandled: string[] } | null;
  stderr: string;
}

function fuzz(loop: string, seed: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(HERE, 'fuzz-child.mjs'), loop, String(seed), String(RUNS)]);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, LIMIT_MS);
    child.on('exit', (exitCode) => {
      clearTimeout(timer);
      const lines = stdout.trim().split('\n').filter(Boolean);
      const last = lines.at(-1) ?? null;
      const done = last !== null && last.startsWith('{"done"');
      resolve({
        exitCode,
        timedOut,
        lastCase: done ? (lines.at(-2) ?? null) : last,
        summary: done ? JSON.parse(last) : null,
        stderr: stderr.slice(-2000),
      });
    });
  });
}

describe.each(NET_LOOPS)('misuse property: $name', (subject) => {
  const it_ = subject.make === null ? it.skip : it;
  it_(title(subject, `${RUNS} random calls with wrong arguments: no hang, no exit, no unhandled rejection, errors name the argument`), async () => {
    const seed = Math.floor(Math.random() * 2 ** 31);
    const out = await fuzz(subject.name, seed);
    const where = `seed ${seed}; last case ${out.lastCase}; stderr: ${out.stderr}`;
    expect(out.timedOut, `hung (${where})`).toBe(false);
    expect(out.exitCode, `exited with ${out.exitCode} (${where})`).toBe(0);
    expect(out.summary, `no summary (${where})`).not.toBeNull();
    expect(out.summary!.unhandled, `seed ${seed}`).toEqual([]);
    expect(out.summary!.failures, `seed ${seed}`).toEqual([]);
  }, LIMIT_MS + 10_000);
});
