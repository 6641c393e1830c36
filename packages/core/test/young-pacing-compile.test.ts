/**
 * paceReceived's pacing array must not be built inline by V8's Maglev compiler: with a
 * constant length it emits one store per slot (8,192) into every read path it is inlined
 * into, a compile of 14-16 ms and ~600 page faults on Node 24, paid at each (re)compile.
 * A child process compiles paceReceived itself with Maglev (natives syntax, every call making
 * an array) and reports the page faults that compile took.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const pacing = new URL('../dist/young-pacing.js', import.meta.url).href;
const CHILD = `
const { paceReceived } = await import(${JSON.stringify(pacing)});
for (let i = 0; i < 10; i++) paceReceived(256 * 1024);
%PrepareFunctionForOptimization(paceReceived);
paceReceived(256 * 1024);
const before = process.resourceUsage().minorPageFault;
%OptimizeMaglevOnNextCall(paceReceived);
paceReceived(256 * 1024);
console.log(process.resourceUsage().minorPageFault - before);
`;

/** Maglev is V8's mid tier from V8 12 (Node 22) on; Node 20's V8 11 has none to test. */
const hasMaglev = Number(process.versions.v8.split('.')[0]) >= 12;

describe.skipIf(!hasMaglev)('young-generation pacing under V8\'s Maglev', () => {
  it('compiling paceReceived takes few page faults (the array is not built inline)', () => {
    const faults = Number(execFileSync(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', CHILD], { encoding: 'utf8' }).trim());
    // ~600 with the array built inline, ~70 without.
    expect(faults).toBeLessThan(300);
  });
});
