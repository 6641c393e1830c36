/**
 * `loopkit examples [name]`: run each example (a TypeScript twin of a seed snippet) in its
 * own process, once per loop, choosing the loop with LOOPKIT_BACKEND. Delays are scaled
 * (LOOPKIT_EXAMPLE_SCALE, default 0.1 here) so the seed's 10 s sleep takes 1 s.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { availableBackends } from '@loopkit/policy';
import { examplesDir } from './paths.js';

interface ExampleEntry {
  name: string;
  title: string;
  backends?: string[];
  platforms?: string[];
}

const DEFAULT_BACKENDS = ['selector', 'proactor'];
export const DEFAULT_SCALE = '0.1';

/** Runs the examples; resolves to the number that failed. */
export async function runExamples(only: string | undefined, scale: string): Promise<number> {
  const dir = examplesDir();
  const manifest = join(dir, 'manifest.js');
  if (!existsSync(manifest)) {
    console.error(`loopkit: no built examples in ${dir} (run \`pnpm exec tsc -b\` in the loopkit repository, or set LOOPKIT_EXAMPLES_DIR)`);
    return 1;
  }
  const { examples } = (await import(pathToFileURL(manifest).href)) as { examples: ExampleEntry[] };
  const chosen = only === undefined ? examples : examples.filter((e) => e.name === only);
  if (chosen.length === 0) {
    console.error(`loopkit: no example named "${only}"; examples: ${examples.map((e) => e.name).join(', ')}`);
    return 1;
  }
  console.log(`delays scaled x${scale} (LOOPKIT_EXAMPLE_SCALE; 1 = the seed's own timing)`);
  const known = new Map(availableBackends().map((b) => [b.name, b]));
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  for (const example of chosen) {
    if (example.platforms !== undefined && !example.platforms.includes(process.platform)) {
      console.log(`\n== ${example.name}: ${example.title}\n   skipped: runs on ${example.platforms.join(', ')}, not ${process.platform}`);
      skipped += 1;
      continue;
    }
    for (const backend of example.backends ?? DEFAULT_BACKENDS) {
      console.log(`\n== ${example.name} on ${backend}: ${example.title}`);
      const info = known.get(backend);
      // A backend the example registers itself is unknown here: the example decides.
      const why = info === undefined ? (DEFAULT_BACKENDS.includes(backend) ? 'not registered' : null) : info.available ? null : info.reason;
      if (why !== null) {
        console.log(`   skipped: ${backend} is unavailable (${why})`);
        skipped += 1;
        continue;
      }
      const code = await runOne(join(dir, `${example.name}.js`), backend, scale);
      if (code === 0) passed += 1;
      else {
        console.log(`   FAILED (exit code ${code})`);
        failed += 1;
      }
    }
  }
  console.log(`\nexamples: ${passed} passed, ${failed} failed, ${skipped} skipped`);
  return failed;
}

function runOne(file: string, backend: string, scale: string): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file], {
      stdio: 'inherit',
      env: { ...process.env, LOOPKIT_BACKEND: backend, LOOPKIT_EXAMPLE_SCALE: scale },
    });
    child.on('error', () => resolve(127));
    child.on('exit', (code, signal) => resolve(code ?? (signal === null ? 1 : 128)));
  });
}
