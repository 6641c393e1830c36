import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isAvailable } from '@loopkit/uv';

const distNative = fileURLToPath(new URL('../dist/native.js', import.meta.url));
const addonPath = fileURLToPath(new URL('../build/Release/loopkit_native.node', import.meta.url));

/**
 * In a fresh process with V8's natives syntax: whether native()'s object and the addon's own
 * exports object have fast properties, and whether native() offers the same properties (same
 * values, same attributes).
 */
function inspectNative(): { moduleFast: boolean; exportsFast: boolean; sameProperties: boolean; count: number } {
  const script = `
    import { createRequire } from 'node:module';
    const { native } = await import(${JSON.stringify(distNative)});
    const exports = createRequire(import.meta.url)(${JSON.stringify(addonPath)});
    const mod = native();
    const names = Object.getOwnPropertyNames(exports);
    const same = names.length === Object.getOwnPropertyNames(mod).length && names.every((name) => {
      const a = Object.getOwnPropertyDescriptor(exports, name);
      const b = Object.getOwnPropertyDescriptor(mod, name);
      return b !== undefined && a.value === b.value && a.writable === b.writable && a.enumerable === b.enumerable && a.configurable === b.configurable;
    });
    console.log(JSON.stringify({ moduleFast: %HasFastProperties(mod), exportsFast: %HasFastProperties(exports), sameProperties: same, count: names.length }));
  `;
  const result = spawnSync(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
  if (result.status !== 0) throw new Error(`child failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as { moduleFast: boolean; exportsFast: boolean; sameProperties: boolean; count: number };
}

describe.runIf(isAvailable())('the native module object', () => {
  it('has fast properties where the addon exports object has none, and the same properties', () => {
    const seen = inspectNative();
    // The exports object N-API fills is in dictionary mode: every property load from it in
    // optimized code is a generic IC call (a hash lookup), on every recv and send.
    expect(seen.exportsFast).toBe(false);
    expect(seen.moduleFast).toBe(true);
    expect(seen.sameProperties).toBe(true);
    expect(seen.count).toBeGreaterThan(30);
  });
});
