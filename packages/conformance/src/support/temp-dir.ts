/**
 * Scratch directories for the suites' tests (Unix socket paths, fifos, scripts): the kit
 * removes those a test made once it ends (kit.ts), since the suites run in users' CI too and
 * a folder left in /tmp per test fills it over time.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const made: string[] = [];

/** A new empty directory `<tmpdir>/loopkit-<prefix>-XXXXXX`, removed with its contents when the test ends. */
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `loopkit-${prefix}-`));
  made.push(dir);
  return dir;
}

/** Removes every directory tempDir() made so far. */
export function removeTempDirs(): void {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}
