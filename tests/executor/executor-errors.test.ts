// What the default executor says when work cannot run in a worker thread (issue 16 item 6),
// and toThread (issue 17), on the selector and the proactor loop.
import { describe, expect, it } from 'vitest';
import { RuntimeError, getRunningLoop, run, toThread as coreToThread } from '@loopkit/core';
import { toThread } from 'loopkit';
import { SelectorEventLoop } from '@loopkit/selector';
import { ProactorEventLoop } from '@loopkit/proactor';

const loops = { selector: () => new SelectorEventLoop(), proactor: () => new ProactorEventLoop() };
const WORKER_RULE = /worker thread.*self-contained.*\{module, name\}/;

/** The error `fn(...args)` on the default executor rejects with (fails if it resolves). */
async function failure(loopFactory: () => SelectorEventLoop | ProactorEventLoop, fn: unknown, ...args: unknown[]): Promise<any> {
  return run(async () => {
    try {
      await getRunningLoop().runInExecutor(null, fn as never, ...args);
    } catch (error) {
      return error;
    }
    throw new Error('expected the job to fail');
  }, { loopFactory });
}

const k = 3;
// vitest rewrites `import(...)` in this file's functions into a helper the worker lacks, so the
// functions that import are written as strings (which it leaves alone).
const source = (text: string) => (0, eval)(`(${text})`) as (...args: unknown[]) => unknown;
const shorthand = { method(x: number) { return x; } };
class WithMethod {
  m() {
    return 1;
  }
}

describe.each(Object.entries(loops))('default executor errors on the %s loop', (_, loopFactory) => {
  it('a name from the closure: ReferenceError saying fn runs in a worker thread', async () => {
    const error = await failure(loopFactory, () => k * 2);
    expect(error).toBeInstanceOf(ReferenceError);
    expect(error.message).toMatch(/^k is not defined in the worker thread: k is probably a name from fn's closure/);
    expect(error.message).toMatch(WORKER_RULE);
    expect(error.cause).toBeInstanceOf(ReferenceError);
    expect(error.cause.message).toBe('k is not defined');
  });

  it('require: says to use await import', async () => {
    const error = await failure(loopFactory, () => require('node:fs'));
    expect(error).toBeInstanceOf(ReferenceError);
    expect(error.message).toMatch(/^require is not defined in the worker thread: .*`await import\(\.\.\.\)`/);
  });

  it('a native or bound function: TypeError before sending, not a SyntaxError about its source', async () => {
    for (const fn of [Math.max, ((a: number) => a).bind(null)]) {
      const error = await failure(loopFactory, fn, 1, 2);
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toMatch(/is a native or bound function, which has no source text to send/);
      expect(error.message).toMatch(WORKER_RULE);
    }
  });

  it('a method shorthand (object or class) and a class: TypeError naming the form', async () => {
    for (const fn of [shorthand.method, WithMethod.prototype.m]) {
      const error = await failure(loopFactory, fn, 1);
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toMatch(/is a method written in shorthand/);
      expect(error.message).toMatch(WORKER_RULE);
      expect(error.cause).toBeInstanceOf(SyntaxError);
    }
    expect((await failure(loopFactory, WithMethod)).message).toMatch(/^fn \(function WithMethod\) is a class/);
  });

  it('a result that cannot be sent back: an Error naming the result, DataCloneError as cause', async () => {
    const error = await failure(loopFactory, () => ({ callback: () => 1 }));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toMatch(/^the result of fn \(an object \(Object\)\) cannot be sent back from the worker thread: .*structured clone/);
    expect(error.cause).toMatchObject({ name: 'DataCloneError', message: '() => 1 could not be cloned.' });
  });

  it("fn's own errors keep their class, name, code and cause; a thrown value comes back as it is", async () => {
    const missing = await failure(loopFactory, source(`async () => (await import('node:fs/promises')).readFile('/nonexistent/loopkit')`));
    expect(missing).toMatchObject({ code: 'ENOENT', syscall: 'open', path: '/nonexistent/loopkit' });
    const custom = await failure(loopFactory, () => {
      class ParseError extends Error {
        name = 'ParseError';
      }
      throw new ParseError('bad input', { cause: new RangeError('at 3') });
    });
    expect(custom).toBeInstanceOf(Error);
    expect(custom.name).toBe('ParseError');
    expect(custom.message).toBe('bad input');
    expect(custom.cause).toBeInstanceOf(RangeError);
    expect(await failure(loopFactory, () => {
      throw 42;
    })).toBe(42);
  });

  it('a relative {module, name}: TypeError saying to pass a URL', async () => {
    const error = await failure(loopFactory, { module: './work.mjs', name: 'fib' });
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toMatch(/module "\.\/work\.mjs" is relative.*new URL\("\.\/work\.mjs", import\.meta\.url\)\.href/);
  });

  it('toThread runs fn with its arguments on the default executor, exported by core and loopkit', async () => {
    expect(toThread).toBe(coreToThread);
    const [product, thread] = await run(
      async () => Promise.all([toThread((a: number, b: number) => a * b, 6, 7), toThread(source(`async () => (await import('node:worker_threads')).threadId`))]),
      { loopFactory },
    );
    expect(product).toBe(42);
    expect(thread).not.toBe(0);
    await expect(run(async () => toThread(() => k), { loopFactory })).rejects.toThrow(/^k is not defined in the worker thread/);
  });
});

it('toThread outside a running loop is a RuntimeError', () => {
  expect(() => toThread(() => 1)).toThrow(RuntimeError);
});
