/**
 * Guest mode and the process: a running loop keeps Node alive, as a blocked asyncio
 * program would; a stopped or closed loop holds nothing that keeps it alive.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const core = fileURLToPath(new URL('../packages/core/dist/index.js', import.meta.url));

function runScript(body: string): { stdout: string; status: number | null; signal: string | null } {
  const source = `import { BaseEventLoop, sleep } from ${JSON.stringify(core)};\n${body}`;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', source], { encoding: 'utf8', timeout: 15_000 });
  return { stdout: result.stdout.trim(), status: result.status, signal: result.signal };
}

describe('guest mode and process lifetime', () => {
  it('a running loop with nothing scheduled keeps the process alive', () => {
    const result = runScript(`
      const loop = new BaseEventLoop();
      loop.runForever();
      // An unref'd timer keeps nothing alive by itself: it fires only if the loop does.
      setTimeout(() => { console.log('still alive'); process.exit(0); }, 300).unref();
    `);
    expect(result.stdout).toBe('still alive');
  });

  it('a stopped loop holds nothing: the process exits with a far timer still scheduled', () => {
    const result = runScript(`
      const loop = new BaseEventLoop();
      await loop.runUntilComplete(async () => { await sleep(0.01); loop.callLater(3600, () => {}); });
      console.log('stopped');
    `);
    expect(result.signal).toBeNull();
    expect(result.status).toBe(0);
    expect(result.stdout).toBe('stopped');
  });

  it('a closed loop holds nothing either', () => {
    const result = runScript(`
      const loop = new BaseEventLoop();
      loop.callLater(3600, () => {});
      loop.callSoon(() => loop.stop());
      await loop.runForever();
      loop.close();
      console.log('closed');
    `);
    expect(result.signal).toBeNull();
    expect(result.status).toBe(0);
    expect(result.stdout).toBe('closed');
  });

  it('a stopped loop holds nothing for a child still running (the default node:child_process transport)', () => {
    const result = runScript(`
      import { createSubprocessExec, PIPE } from ${JSON.stringify(core)};
      const loop = new BaseEventLoop();
      const pid = await loop.runUntilComplete(async () => {
        const proc = await createSubprocessExec('/bin/sleep', ['30'], { stdin: PIPE, stdout: PIPE });
        return proc.pid;
      });
      console.log('stopped');
      process.on('exit', () => process.kill(pid, 'SIGKILL'));
    `);
    expect(result.signal).toBeNull();
    expect(result.status).toBe(0);
    expect(result.stdout).toBe('stopped');
  });

  it('a rejection from fut.then() that nobody handles is reported by Node, as a promise would be', () => {
    const result = runScript(`
      process.on('unhandledRejection', (reason) => { console.log('unhandled: ' + reason.message); process.exit(0); });
      const loop = new BaseEventLoop();
      await loop.runUntilComplete(async () => {
        const fut = loop.createFuture();
        fut.then(() => { throw new Error('nobody caught me'); });
        loop.callSoon(() => fut.setResult(1));
        await sleep(0.01);
      });
    `);
    expect(result.stdout).toBe('unhandled: nobody caught me');
  });

  it("Node's timers, I/O and promises work inside tasks", () => {
    const result = runScript(`
      import { readFile } from 'node:fs/promises';
      const loop = new BaseEventLoop();
      const out = await loop.runUntilComplete(async () => {
        await new Promise((r) => setTimeout(r, 5));
        const text = await readFile(${JSON.stringify(core)}, 'utf8');
        await sleep(0.001);
        return text.length > 0 ? 'io ok' : 'empty';
      });
      loop.close();
      console.log(out);
    `);
    expect(result.stdout).toBe('io ok');
  });
});
