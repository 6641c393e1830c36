/**
 * API.md: "While runForever runs, the loop keeps the process alive (as a blocked asyncio
 * program does); a stopped or closed loop holds nothing that keeps it alive." Checked in a
 * child process, which must print "stopped" and then exit by itself promptly.
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'alive-child.mjs');

function runChild(args: string[]): Promise<{ code: number | null; stdout: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [CHILD, ...args], { timeout: 15000 }, (error, stdout) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stdout, ms: Date.now() - started });
    });
  });
}

describe('a running loop keeps the process alive; a stopped or closed one does not', () => {
  for (const backend of ['selector', 'proactor']) {
    for (const end of ['close', 'stop only']) {
      it(`${backend}: runForever holds the process until stop(), which then exits by itself (${end})`, async () => {
        const result = await runChild([backend, end === 'close' ? 'close' : 'keep']);
        expect(result.stdout).toBe('stopped\n');
        expect(result.code).toBe(0);
      });
    }
  }
});
