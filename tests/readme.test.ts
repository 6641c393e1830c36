/** The README's example runs as written and prints what the README says it prints. */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

describe('README', () => {
  it('the example runs and prints the result shown in its comment', () => {
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    const source = /```ts\n([\s\S]*?)```/.exec(readme)![1]!;
    const expected = /console\.log\(result\); \/\/ (.*)/.exec(source)![1]!;
    const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
    // Inside the workspace, so that `import ... from 'loopkit'` resolves as in an application.
    const file = path.join(root, `.readme-example-${process.pid}.mjs`);
    fs.writeFileSync(file, js);
    try {
      const run = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 20_000 });
      expect(run.stderr).toBe('');
      expect(run.stdout.trim()).toBe(expected);
    } finally {
      fs.rmSync(file, { force: true });
    }
  });
});
