import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';

/**
 * Small module programs, each run in a fresh process from a file in `dir` (a temporary folder
 * named with `prefix`, where a program may write too): `run` asserts the program wrote nothing
 * to stderr and returns the JSON it printed.
 */
export function jsonPrograms(prefix: string): {
  dir: string;
  run: (name: string, source: string, env?: Record<string, string>) => unknown;
} {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const run = (name: string, source: string, env: Record<string, string> = {}): unknown => {
    const file = join(dir, name);
    writeFileSync(file, source);
    const child = spawnSync(process.execPath, [file], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
    expect(child.stderr).toBe('');
    return JSON.parse(child.stdout);
  };
  return { dir, run };
}
