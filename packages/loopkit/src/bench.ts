/**
 * `loopkit bench`: the scheduling and echo benchmarks of the repository's bench/ folder,
 * one after the other. Each prints a progress line per case and its ratio table (loopkit
 * vs a raw Node baseline) at the end.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { benchDir } from './paths.js';

const SCRIPTS = [
  { name: 'sched', file: 'sched.js', args: ['--expose-gc'] },
  { name: 'echo', file: 'echo.js', args: [] },
];

/** Runs the benchmarks present; resolves to the number that failed. */
export async function runBench(): Promise<number> {
  const dir = benchDir();
  let failed = 0;
  let ran = 0;
  for (const script of SCRIPTS) {
    const file = join(dir, script.file);
    if (!existsSync(file)) {
      console.log(`bench ${script.name}: not present (${file})`);
      continue;
    }
    console.log(`\n== bench ${script.name}`);
    ran += 1;
    const code = await new Promise<number>((resolve) => {
      const child = spawn(process.execPath, [...script.args, file], { stdio: 'inherit' });
      child.on('error', () => resolve(127));
      child.on('exit', (status) => resolve(status ?? 1));
    });
    if (code !== 0) {
      console.log(`bench ${script.name}: FAILED (exit code ${code})`);
      failed += 1;
    }
  }
  if (ran === 0) {
    console.error(`loopkit: no benchmarks found in ${dir} (set LOOPKIT_BENCH_DIR)`);
    return 1;
  }
  return failed;
}
