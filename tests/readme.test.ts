/**
 * The READMEs' complete examples run as written and print what their comments say: the top
 * README's, and each package README block listed below (the others are fragments that name
 * the reader's own values). A `console.log(...) // text` comment is the line printed; a
 * trailing " (...)" in it is an explanation, not output.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The `index`th ```ts block of `file` (from the workspace root). */
function codeBlock(file: string, index: number): string {
  const blocks = [...fs.readFileSync(path.join(root, file), 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
  expect(blocks.length).toBeGreaterThan(index);
  return blocks[index]!;
}

/** The lines the block's `console.log(...) // text` comments promise, in order. */
function promisedOutput(source: string): string[] {
  return [...source.matchAll(/console\.log\([\s\S]*?\)\)?;? *\/\/ (.*)/g)].map((m) => m[1]!.replace(/ \(.*\)$/, ''));
}

/** Runs the block as an ES module inside the workspace, so that `import ... from 'loopkit'` resolves as in an application. */
function runBlock(source: string): { stdout: string; stderr: string; status: number | null } {
  const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  const file = path.join(root, `.readme-example-${process.pid}.mjs`);
  fs.writeFileSync(file, js);
  try {
    return spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 20_000 });
  } finally {
    fs.rmSync(file, { force: true });
  }
}

describe('README', () => {
  it('the example runs and prints the result shown in its comment', () => {
    const source = codeBlock('README.md', 0);
    const expected = /console\.log\(result\); \/\/ (.*)/.exec(source)![1]!;
    const run = runBlock(source);
    expect(run.stderr).toBe('');
    expect(run.stdout.trim()).toBe(expected);
  });
});

describe('package READMEs', () => {
  const complete: Array<[file: string, index: number, what: string]> = [
    ['packages/loopkit/README.md', 0, 'run() and gather()'],
    ['packages/core/README.md', 0, 'a BaseEventLoop, a named task, currentTask()'],
    ['packages/core/README.md', 1, 'createSubprocessExec with communicate(), createSubprocessShell with env and cwd'],
    ['packages/uv/README.md', 0, 'the import list (every name exists)'],
  ];
  it.each(complete)('%s block %i (%s) runs as written and prints what its comments say', (file, index) => {
    const source = codeBlock(file, index);
    const run = runBlock(source);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const printed = run.stdout.split('\n').filter((line) => line !== '');
    expect(printed).toEqual(promisedOutput(source));
  });
});
