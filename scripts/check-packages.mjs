// `pnpm check:packages`: packs every package and lints what a stranger would download.
// publint (strict: its suggestions fail too) and @arethetypeswrong/cli must report nothing.
// attw runs with the esm-only profile: the packages are ESM only, by design (a CommonJS
// consumer uses import(), or require() of ESM where Node has it), so "CJS resolves to ESM"
// is the one finding it is told to skip.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { packAll } from './pack.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const dest = mkdtempSync(join(tmpdir(), 'loopkit-packs-'));
let problems = 0;
try {
  for (const { name, tarball } of packAll(dest)) {
    const bytes = readFileSync(tarball);
    const { messages, pkg } = await publint({ pack: { tarball: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) }, strict: true });
    for (const m of messages) {
      console.log(`publint ${name}: ${m.type}: ${formatMessage(m, pkg) ?? m.code}`);
      problems += 1;
    }
    try {
      execFileSync(join(ROOT, 'node_modules/.bin/attw'), [tarball, '--profile', 'esm-only', '--format', 'ascii'], { encoding: 'utf8' });
      console.log(`${name}: publint ${messages.length === 0 ? 'clean' : 'FAILED'}, attw clean`);
    } catch (error) {
      console.log(`attw ${name}:\n${error.stdout}${error.stderr}`);
      problems += 1;
    }
  }
} finally {
  rmSync(dest, { recursive: true, force: true });
}
console.log(problems === 0 ? 'packages: every package clean' : `packages: ${problems} problem(s)`);
process.exitCode = problems === 0 ? 0 : 1;
