/**
 * Scenarios of CPython's test_asyncio/test_pep492.py (3.13): `async with` on the locks (here
 * `await using _ = await lock.hold()`), `async for` over a StreamReader, coroutines awaiting
 * coroutines, a coroutine awaited twice.
 */
import { expect, it } from 'vitest';
import { BoundedSemaphore, Condition, Lock, Semaphore, StreamReader, createTask, sleep } from 'loopkit';
import { onEachLoop, rejection, runIn } from './loops.js';

onEachLoop('test_pep492', (make) => {
  it('test_context_manager_async_with: each primitive is held inside the scope, released after', () =>
    runIn(make, async () => {
      for (const primitive of [new Lock(), new Condition(), new Semaphore(), new BoundedSemaphore()]) {
        await sleep(0.001);
        expect(primitive.locked()).toBe(false);
        {
          await using held = await primitive.hold();
          expect(held.held()).toBe(true);
          expect(primitive.locked()).toBe(true);
          await sleep(0.001);
          expect(primitive.locked()).toBe(true);
        }
        expect(primitive.locked()).toBe(false);
      }
    }));

  it('async with releases on an error thrown in the scope', () =>
    runIn(make, async () => {
      const lock = new Lock();
      const failing = async () => {
        await using _held = await lock.hold();
        throw new RangeError('inside');
      };
      expect(await rejection(failing())).toBeInstanceOf(RangeError);
      expect(lock.locked()).toBe(false);
    }));

  it('test_context_manager_with_await: awaiting a primitive itself is not acquiring it', () =>
    runIn(make, async () => {
      for (const primitive of [new Lock(), new Condition(), new Semaphore(), new BoundedSemaphore()]) {
        // asyncio: TypeError "can't be used in 'await' expression". Here a primitive is not a thenable, so `await` yields it unchanged.
        expect('then' in primitive).toBe(false);
        expect(await primitive).toBe(primitive);
        expect(primitive.locked()).toBe(false);
      }
    }));

  it('test_readline (async for): lines of a StreamReader, the last one without a newline', () =>
    runIn(make, async () => {
      const stream = new StreamReader();
      stream.feedData(Buffer.from('line1\nline2\nline3'));
      stream.feedEof();
      const lines: string[] = [];
      for await (const line of stream) lines.push(Buffer.from(line).toString());
      expect(lines).toEqual(['line1\n', 'line2\n', 'line3']);
    }));

  it('test_async_def_coroutines: in production and debug mode', () =>
    runIn(make, async (loop) => {
      const bar = async () => 'spam';
      const foo = async () => await bar();
      expect(await createTask(foo)).toBe('spam');
      loop.setDebug(true);
      expect(await createTask(foo)).toBe('spam');
      loop.setDebug(false);
    }));

  it('test_types_coroutine: a generator coroutine delegating with yield*', () =>
    runIn(make, async () => {
      function* gen(): Generator<never, string, unknown> {
        yield* [];
        return 'spam';
      }
      function* coro(): Generator<unknown, string, unknown> {
        return yield* gen();
      }
      expect(await createTask(coro)).toBe('spam');
    }));

  it.skip('test_task_print_stack: Task.get_stack is not in API.md (captureCallGraph gives the call stack)', () => {});
  it.skip('test_iscoroutine / test_iscoroutinefunction / origin tracking: Python introspection of coroutine objects', () => {});
  it.skip('test_double_await: a coroutine object awaited by a task and again; createTask takes a function, a started coroutine is not shared', () => {});
});
