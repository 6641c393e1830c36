import { describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';

describe('without the native build', () => {
  it('the package still imports; isAvailable() is false and loadError() says why', async () => {
    // A copy of the package with dist/ but no build/: what a failed install leaves.
    const dir = mkdtempSync(join(tmpdir(), 'loopkit-uv-nobuild-'));
    try {
      cpSync(fileURLToPath(new URL('../dist', import.meta.url)), join(dir, 'dist'), { recursive: true });
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
      const uv = await import(pathToFileURL(join(dir, 'dist', 'index.js')).href);
      expect(uv.isAvailable()).toBe(false);
      expect(uv.loadError()).toMatch(/native addon did not load .*loopkit_native\.node/);
      expect(uv.Epoll.isSupported).toBe(false);
      expect(uv.PollSet.isSupported).toBe(false);
      expect(uv.SOL_SOCKET).toBe(-1);
      expect(() => uv.socket()).toThrow(expect.objectContaining({ code: 'ERR_LOOPKIT_NATIVE_UNAVAILABLE' }));
      expect(() => new uv.Epoll()).toThrow(expect.objectContaining({ code: 'ERR_LOOPKIT_NATIVE_UNAVAILABLE' }));
      expect(() => new uv.WakeupFd()).toThrow(/native addon did not load/);
      expect(uv.errnoName(-111)).toBe('ECONNREFUSED'); // pure-JS helpers still work
      expect(uv.tlsProvider).toBeNull(); // no engine: core's TLS layer says TLS is unavailable
      expect(uv.tlsStats()).toEqual({ engines: 0, contexts: 0 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
