// The V8 maps of the timer, callback and Future path outlive the objects of a run
// (shape-keepers.ts): a full GC after a burst would otherwise collect them, and the optimized
// code of callLater, the timer heap, the ready queue and a done Future's await with them.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const CORE = new URL('../packages/core/dist/index.js', import.meta.url).href;
const KEEPERS = new URL('../packages/core/dist/shape-keepers.js', import.meta.url).href;

describe("the timer and Future path's V8 maps outlive the objects of a run (shape-keepers.ts)", () => {
  it('keeps one object in the map each of their classes reaches, through bursts and a full GC', () => {
    const program = `
import { BaseEventLoop } from '${CORE}';
import { _shapeKeepers } from '${KEEPERS}';
const seen = {};
async function burst(n) {
  const loop = new BaseEventLoop();
  await loop.runUntilComplete(async () => {
    const timers = [];
    for (let i = 0; i < n; i++) {
      const timer = loop.callLater((i % 5) / 1000, () => undefined);
      if (i % 2 === 1) timer.cancel();
      timers.push(timer);
    }
    for (let i = 0; i < n; i++) {
      const future = loop.createFuture();
      future.setResult(i);
      await future;
    }
    const waited = loop.createFuture();
    waited.addDoneCallback(() => undefined); // a CallbackEntry once done
    Object.assign(seen, { TimerHandle: timers[0], Handle: loop.callSoon(() => undefined), TimerHeap: loop.timers, ReadyQueue: loop.ready, Future: waited });
    waited.setResult(0);
    seen.CallbackEntry = loop.ready.at(loop.ready.length - 1);
    await new Promise((resolve) => loop.callLater(0.01, resolve));
  });
  loop.close();
}
const sameMaps = () => {
  const names = Object.keys(seen).filter((name) => %HaveSameMap(seen[name], _shapeKeepers[name]));
  for (const key of Object.keys(seen)) delete seen[key];
  return JSON.stringify(names.sort());
};
await burst(10);
console.log('=== before', sameMaps());
for (let i = 0; i < 3; i++) await burst(20000);
for (const key of Object.keys(seen)) delete seen[key];
globalThis.gc();
await burst(10);
console.log('=== after a full GC', sameMaps());
`;
    const dir = mkdtempSync(join(tmpdir(), 'loopkit-timer-shapes-'));
    const file = join(dir, 'shapes.mjs');
    writeFileSync(file, program);
    const flags = ['--allow-natives-syntax', '--expose-gc', '--single-threaded'];
    const run = spawnSync(process.execPath, [...flags, file], { encoding: 'utf8', timeout: 60_000, maxBuffer: 1 << 28 });
    expect(run.stderr).toBe('');
    const all = '["CallbackEntry","Future","Handle","ReadyQueue","TimerHandle","TimerHeap"]';
    expect(run.stdout).toContain(`=== before ${all}`);
    expect(run.stdout).toContain(`=== after a full GC ${all}`);
  });
});
