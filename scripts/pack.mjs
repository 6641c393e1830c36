// Packs every publishable package with `pnpm pack` (which turns workspace:* into versions,
// as a publish would) into one folder, and returns the tarballs in dependency order.
// Run directly: `node scripts/pack.mjs DEST` prints their paths.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Folders under packages/, each after what it depends on. */
export const PACKAGES = ['core', 'uv', 'selector', 'proactor', 'policy', 'loopkit', 'conformance'];

/** @returns {{ name: string, dir: string, tarball: string }[]} */
export function packAll(dest) {
  mkdirSync(dest, { recursive: true });
  return PACKAGES.map((name) => {
    const dir = resolve(ROOT, 'packages', name);
    const out = execFileSync('pnpm', ['pack', '--pack-destination', resolve(dest)], { cwd: dir, encoding: 'utf8' });
    const tarball = out.trim().split('\n').pop().trim();
    if (!tarball.endsWith('.tgz')) throw new Error(`pnpm pack in ${dir} printed no tarball path:\n${out}`);
    return { name, dir, tarball: resolve(dest, basename(tarball)) };
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dest = process.argv[2];
  if (!dest) {
    console.error('usage: node scripts/pack.mjs DEST');
    process.exit(2);
  }
  for (const { tarball } of packAll(dest)) console.log(tarball);
}
