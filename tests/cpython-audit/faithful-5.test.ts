/**
 * Session 25: more of test_tasks.py (reprs, cancellation, shield, gather, wait, as_completed,
 * run_until_complete stopped early) and test_futures2.py, and what session 24 left (a sleeping
 * task's wait_for, the main task's callback, containers in reprs, startTls on a server side
 * with serverHostname), each run beside Python 3.13.0: the outcome each test asserts is what
 * Python printed for the same scenario, on every loop.
 */
import * as tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import {
  CancelledError,
  FIRST_EXCEPTION,
  PriorityQueue,
  Queue,
  RuntimeError,
  TimeoutError,
  asCompleted,
  createTask,
  currentTask,
  ensureFuture,
  gather,
  getTLSProvider,
  openConnection,
  shield,
  sleep,
  startServer,
  wait,
  type Task,
} from 'loopkit';
import { hasOpenssl, testCerts } from '@loopkit/conformance/support';
import { onEachLoop, portOf, rejection, runIn } from './loops.js';

onEachLoop('reprs and error texts as asyncio 3.13 prints them', (make) => {
  it('test_task_repr_wait_for: a task awaiting a future, or sleeping, shows wait_for=<Future pending cb=[Task.task_wakeup()]>', () =>
    runIn(make, async (loop) => {
      const fut = loop.createFuture<void>();
      const waiting = createTask(async () => await fut, { name: 'W' });
      const sleeping = createTask(() => sleep(10), { name: 'S' });
      await sleep(0);
      expect(String(waiting)).toBe(`<Task pending name='W' coro=<anonymous>() wait_for=${String(fut)}>`);
      expect(String(fut)).toBe('<Future pending cb=[Task.task_wakeup()]>');
      // Python 3.13.0: `<Task pending name='T' coro=<...sleeper() running at ...> wait_for=<Future pending cb=[Task.task_wakeup()]>>`.
      expect(String(sleeping)).toBe("<Task pending name='S' coro=<anonymous>() wait_for=<Future pending cb=[Task.task_wakeup()]>>");
      fut.setResult();
      sleeping.cancel();
      await wait([waiting, sleeping]);
    }));

  it("the main task of runUntilComplete shows asyncio's callback: cb=[_run_until_complete_cb()]", () =>
    runIn(make, async () => {
      // Python 3.13.0: `<Task pending name='Task-1' coro=<main() running at ...> cb=[_run_until_complete_cb() at .../base_events.py:182]>`.
      expect(String(currentTask())).toMatch(/^<Task pending name='Task-\d+' coro=.* cb=\[_run_until_complete_cb\(\)\]>$/);
    }));

  it("test_future_repr's reprlib: a result that is an array, object, Set or Map in Python's spelling, shortened as reprlib shortens", () =>
    runIn(make, async (loop) => {
      const repr = (value: unknown): string => {
        const fut = loop.createFuture<unknown>();
        fut.setResult(value);
        return String(fut);
      };
      // Each line as Python 3.13.0 printed the same value (a tuple is an array here, a dict a plain object or a Map).
      expect(repr([1, 'two', [3, 4], { a: 1 }, [1, 2]])).toBe("<Future finished result=[1, 'two', [3, 4], {'a': 1}, [1, 2]]>");
      expect(repr([...Array(10).keys()])).toBe('<Future finished result=[0, 1, 2, 3, 4, 5, ...]>');
      expect(repr({ x: 1, y: [1, 2] })).toBe("<Future finished result={'x': 1, 'y': [1, 2]}>");
      expect(repr({ y: 1, x: 2, a: [1, 2, 3, 4, 5, 6, 7], b: 4, c: 5 })).toBe("<Future finished result={'a': [1, 2, 3, 4, 5, 6, ...], 'b': 4, 'c': 5, 'x': 2, ...}>");
      expect(repr(new Set([3, 1, 2]))).toBe('<Future finished result={1, 2, 3}>');
      expect(repr(new Set())).toBe('<Future finished result=set()>');
      expect(repr(new Map<unknown, unknown>([[1, 'a'], ['b', 2]]))).toBe("<Future finished result={1: 'a', 'b': 2}>");
      expect(repr([])).toBe('<Future finished result=[]>');
      expect(repr({})).toBe('<Future finished result={}>');
      expect(repr([[[[[[[[1]]]]]]]])).toBe('<Future finished result=[[[[[[[...]]]]]]]>');
      expect(repr(['x'.repeat(40)])).toBe("<Future finished result=['xxxxxxxxxxxx...xxxxxxxxxxxxx']>");
      expect(repr(2n ** 200n)).toBe('<Future finished result=160693804425899027...2993782792835301376>');
      // A getter that throws does not break the repr (Node's inspect, which reads no getter, shows it instead).
      expect(repr({ get bad(): never { throw new Error('no'); } })).toBe('<Future finished result={ bad: [Getter] }>');
    }));

  it("test_future_repr in debug mode: a handle's container arguments in Python's spelling", () =>
    runIn(make, async (loop) => {
      loop.setDebug(true);
      const handle = loop.callSoon(function cb(..._args: unknown[]) {}, [1, 2], { a: 1 });
      // Python 3.13.0: `<Handle cb([1, 2], {'a': 1}) at ... created at ...>`.
      expect(String(handle)).toMatch(/^<Handle cb\(\[1, 2\], \{'a': 1\}\)/);
      handle.cancel();
    }));

  it("test_recursive_repr_for_pending_tasks (test_futures2): a future inside its own result is '...' (reprlib.recursive_repr)", () =>
    runIn(make, async (loop) => {
      const fut = loop.createFuture<unknown>();
      fut.setResult([fut]);
      expect(String(fut)).toBe('<Future finished result=[...]>');
      const task: Task<unknown> = createTask(async () => ({ me: task }), { name: 'R' });
      await task;
      expect(String(task)).toBe("<Task finished name='R' coro=<anonymous>() result={'me': ...}>");
    }));

  it("test_repr (test_queues): queued containers in Python's spelling, whole", () =>
    runIn(make, async () => {
      const q = new Queue<unknown>();
      q.putNowait([1, 'two']);
      q.putNowait({ k: [1, 2, 3, 4, 5, 6, 7, 8] });
      // Python 3.13.0: `<Queue maxsize=0 _queue=[[1, 'two'], {'k': [1, 2, 3, 4, 5, 6, 7, 8]}] tasks=2>` (Queue._format: repr, not reprlib).
      expect(String(q)).toBe("<Queue maxsize=0 _queue=[[1, 'two'], {'k': [1, 2, 3, 4, 5, 6, 7, 8]}] tasks=2>");
      const pq = new PriorityQueue<[number, string]>();
      pq.putNowait([2, 'b']);
      pq.putNowait([1, 'a']);
      expect(String(pq)).toBe("<PriorityQueue maxsize=0 _queue=[[1, 'a'], [2, 'b']] tasks=2>");
    }));
  it("test_ensure_future_neither: a TypeError in asyncio 3.13's words (`An asyncio.Future, a coroutine or an awaitable is required`)", () =>
    runIn(make, async () => {
      for (const bad of [1, 'ok', null]) {
        expect(() => ensureFuture(bad as never)).toThrow(TypeError);
        expect(() => ensureFuture(bad as never)).toThrow(/^An asyncio\.Future, a coroutine or an awaitable is required \(aw: .*\), got /);
      }
    }));
});

const noTls = getTLSProvider() === null ? 'no TLS provider is registered' : !hasOpenssl() ? 'no openssl command' : null;

onEachLoop('startTls on a server side with serverHostname', (make) => {
  it.skipIf(noTls !== null)('is taken and left unused, as asyncio 3.13 (StreamWriter.start_tls and loop.start_tls)', () =>
    runIn(make, async (loop) => {
      const certs = testCerts();
      const server = await startServer(async (reader, writer) => {
        // Python 3.13.0: `await w.start_tls(server_ctx, server_hostname='ignored.example')` handshakes.
        await writer.startTls({ key: certs.serverKey, cert: certs.serverCert }, { serverHostname: 'ignored.example' });
        writer.write(await reader.readline());
        await writer.drain();
        writer.close();
      }, '127.0.0.1', 0);
      const [reader, writer] = await openConnection('127.0.0.1', portOf(server));
      await writer.startTls({ ca: certs.ca }, { serverHostname: 'localhost' });
      writer.write(Buffer.from('hi\n'));
      expect((await reader.readline()).toString()).toBe('hi\n');
      writer.close();
      await writer.waitClosed();
      server.close();
      await server.waitClosed();
      // Its type is still checked.
      const [, raw] = await openConnection('127.0.0.1', portOf(await startServer(() => {}, '127.0.0.1', 0)));
      const wrong = await rejection(
        loop.startTls(raw.transport, raw.transport.getProtocol()!, { secureContext: tls.createSecureContext({ key: certs.serverKey, cert: certs.serverCert }) }, { serverSide: true, serverHostname: 5 as never }),
      );
      expect(wrong).toBeInstanceOf(TypeError);
      expect((wrong as Error).message).toMatch(/serverHostname must be a string, got 5/);
      raw.close();
    }));
});

onEachLoop('test_tasks.py scenarios that matched 3.13.0 already (ported, no change)', (make) => {
  it('test_cancel_with_message_before_starting_task, test_cancel_with_message_then_future_exception', () =>
    runIn(make, async () => {
      const unstarted = createTask(async () => 1);
      unstarted.cancel('my message');
      const error = await rejection(unstarted);
      expect(error).toBeInstanceOf(CancelledError);
      expect((error as Error).message).toBe('my message');
      // Python 3.13.0: args (), (), ('m',) for cancel(), cancel(None), cancel('m').
      const seen: string[] = [];
      for (const args of [[], [undefined], ['m']] as Array<[string?]>) {
        const t = createTask(() => sleep(10));
        await sleep(0);
        t.cancel(...args);
        await wait([t]);
        try {
          t.exception();
        } catch (e) {
          seen.push((e as Error).message);
        }
      }
      expect(seen).toEqual(['', '', 'm']);
    }));

  it('test_cancelling, test_uncancel_basic: the count of pending cancel requests', () =>
    runIn(make, async () => {
      const t = createTask(() => sleep(10));
      await sleep(0);
      // Python 3.13.0: 0 True 1 True 2 1 1, then 1 True once done.
      expect([t.cancelling(), t.cancel(), t.cancelling(), t.cancel(), t.cancelling(), t.uncancel(), t.cancelling()]).toEqual([0, true, 1, true, 2, 1, 1]);
      await wait([t]);
      expect([t.cancelling(), t.cancelled()]).toEqual([1, true]);
    }));

  it('test_shield_effect, test_shield_exception, test_shield_shortcut, test_shield_cancel_inner/outer', () =>
    runIn(make, async (loop, reports) => {
      let inner = loop.createFuture<number>();
      let outer = shield(inner);
      outer.cancel();
      await sleep(0);
      expect([inner.cancelled(), outer.cancelled()]).toEqual([false, true]);
      inner.setException(new RangeError('late'));
      inner = loop.createFuture<number>();
      outer = shield(inner);
      inner.cancel();
      await sleep(0);
      expect([inner.cancelled(), outer.cancelled()]).toEqual([true, true]);
      inner = loop.createFuture<number>();
      outer = shield(inner);
      inner.setException(new RangeError('v'));
      await sleep(0);
      expect(outer.exception()).toBe(inner.exception());
      const done = loop.createFuture<number>();
      done.setResult(42);
      expect(shield(done)).toBe(done);
      // An inner future failing after its shield was cancelled is marked retrieved, not reported (3.13.0: nothing logged).
      await sleep(0);
      await sleep(0);
      expect(reports).toEqual([]);
    }));

  it('test_constructor_empty_sequence, test_duplicate_coroutines (gather): done at once with []; one task twice gives its result twice', () =>
    runIn(make, async () => {
      const empty = gather();
      expect([empty.done(), empty.result()]).toEqual([true, []]);
      const t = createTask(async () => 1);
      expect(await gather(t, t)).toEqual([1, 1]);
    }));

  it('test_wait_first_exception_in_wait, test_wait_generator', () =>
    runIn(make, async () => {
      const a = createTask(() => sleep(10));
      const b = createTask(async () => {
        await sleep(0.01);
        throw new RangeError('z');
      });
      const [done, pending] = await wait([a, b], { returnWhen: FIRST_EXCEPTION });
      expect([done.size, done.has(b), pending.size, pending.has(a)]).toEqual([1, true, 1, true]);
      expect(b.exception()).toBeInstanceOf(RangeError);
      a.cancel();
      const fs = [createTask(async () => 1), createTask(async () => 2)];
      const [all, none] = await wait((function* () {
        yield* fs;
      })());
      expect([all.size, none.size]).toEqual([2, 0]);
    }));

  it('test_as_completed_same_tasks_in_as_out, test_as_completed_resume_iterator, test_as_completed_with_timeout', () =>
    runIn(make, async () => {
      const after = (i: number) => async () => {
        await sleep(0.02 * i);
        return i;
      };
      const tasks = [3, 1, 2].map((i) => createTask(after(i)));
      const out: unknown[] = [];
      for await (const f of asCompleted(tasks)) out.push(f);
      expect(out.map((f) => tasks.indexOf(f as Task<number>))).toEqual([1, 2, 0]);
      const it = asCompleted([3, 1, 2].map((i) => createTask(after(i))));
      const collected: number[] = [];
      for (const f of it) {
        collected.push(await f);
        if (collected.length === 2) break;
      }
      for (const f of it) collected.push(await f);
      expect(collected).toEqual([1, 2, 3]);
      const timed: number[] = [];
      const error = await rejection((async () => {
        for await (const f of asCompleted([5, 1, 4].map((i) => createTask(after(i))), { timeout: 0.05 })) timed.push(await f);
      })());
      expect(error).toBeInstanceOf(TimeoutError);
      expect(timed).toEqual([1]);
    }));

  it('test_task_cancel_waiter_future, test_yield_wait_does_not_shield_cancel', () =>
    runIn(make, async (loop) => {
      const fut = loop.createFuture<void>();
      const t = createTask(async () => await fut);
      await sleep(0);
      t.cancel();
      await sleep(0);
      expect([fut.cancelled(), t.cancelled()]).toEqual([true, true]);
      let proof = 0;
      const waiter = loop.createFuture<null>();
      const outer = ensureFuture(async () => {
        await wait([createTask(async () => {
          await waiter;
          proof += 1;
        })]);
        proof += 100;
      });
      await sleep(0);
      outer.cancel();
      expect(await rejection(outer)).toBeInstanceOf(CancelledError);
      waiter.setResult(null);
      await sleep(0);
      expect(proof).toBe(1);
    }));
});

describe('test_stop_while_run_in_complete', () => {
  it("loop.stop() inside the task: RuntimeError 'Event loop stopped before Future completed.', the task still pending", async () => {
    const { newEventLoop } = await import('loopkit');
    const loop = newEventLoop();
    let x = 0;
    const t = loop.createTask(async () => {
      while (x < 10) {
        await sleep(0.01);
        x += 1;
        if (x === 2) loop.stop();
      }
    });
    const error = await rejection(loop.runUntilComplete(t));
    expect(error).toBeInstanceOf(RuntimeError);
    expect((error as Error).message).toBe('Event loop stopped before Future completed.');
    expect([t.done(), x]).toEqual([false, 2]);
    t.cancel();
    expect(await rejection(loop.runUntilComplete(t))).toBeInstanceOf(CancelledError);
    loop.close();
  });
});


onEachLoop('test_futures.py and test_events.py scenarios that matched 3.13.0 already (ported, no change)', (make) => {
  it('test_remove_done_callback, test_callbacks_remove_*_callback, test_schedule_callbacks_list_mutation_1, test_callbacks_invoked_on_set_exception', () =>
    runIn(make, async (loop) => {
      const seen: unknown[] = [];
      const c1 = (): number => seen.push(1);
      const c2 = (): number => seen.push(2);
      const c3 = (): number => seen.push(3);
      const fut = loop.createFuture<number>();
      for (const c of [c1, c2, c1, c3]) fut.addDoneCallback(c);
      // Python 3.13.0: 2, `<Future pending cb=[c2() at ..., c3() at ...]>`, then [2, 3] and 0.
      expect(fut.removeDoneCallback(c1)).toBe(2);
      expect(String(fut)).toBe('<Future pending cb=[c2(), c3()]>');
      fut.setResult(0);
      await sleep(0);
      expect([seen, fut.removeDoneCallback(c2)]).toEqual([[2, 3], 0]);
      // A callback removing a later one while they run: both still run (3.13.0: ['m1', 'm2']).
      const order: string[] = [];
      const m2 = (): number => order.push('m2');
      const m1 = (f: unknown): void => {
        order.push('m1');
        (f as typeof mutated).removeDoneCallback(m2);
      };
      const mutated = loop.createFuture<number>();
      mutated.addDoneCallback(m1);
      mutated.addDoneCallback(m2);
      mutated.setResult(1);
      await sleep(0);
      expect(order).toEqual(['m1', 'm2']);
      const failed = loop.createFuture<number>();
      const names: string[] = [];
      failed.addDoneCallback((f) => names.push((f.exception() as Error).constructor.name));
      failed.setException(new RangeError());
      await sleep(0);
      expect(names).toEqual(['RangeError']);
    }));

  it('test_handle_repr, test_timer_repr (cancelled forms), test_close_running_event_loop, test_callback_with_exception, test_set_exc_handler_broken', () =>
    runIn(make, async (loop, reports) => {
      function cb(): void {}
      const timer = loop.callLater(10, cb);
      const when = String(timer.when());
      expect(String(timer)).toBe(`<TimerHandle when=${when} cb()>`);
      timer.cancel();
      expect(String(timer)).toBe(`<TimerHandle cancelled when=${when}>`);
      const handle = loop.callSoon(cb);
      expect(String(handle)).toBe('<Handle cb()>');
      handle.cancel();
      expect(String(handle)).toBe('<Handle cancelled>');
      expect(() => loop.close()).toThrow('Cannot close a running event loop');
      function bad(): void {
        throw new RangeError('x');
      }
      loop.callSoon(bad);
      await sleep(0);
      // Python 3.13.0: ('Exception in callback bad() at ...', ['exception', 'handle', 'message']).
      expect(reports.map((r) => [r.message, Object.keys(r).sort()])).toEqual([['Exception in callback bad()', ['exception', 'handle', 'message']]]);
      // A handler that throws is logged ("Unhandled error in exception handler") and the loop goes on.
      loop.setExceptionHandler(() => {
        throw new TypeError('broken');
      });
      loop.callSoon(bad);
      await sleep(0);
      loop.setExceptionHandler(null);
    }));

  it('test_run_forever_pre_stopped: stop() before runForever() runs one iteration, its callbacks included', async () => {
    const loop = make();
    const ran: string[] = [];
    loop.stop();
    loop.callSoon(() => ran.push('ran'));
    await loop.runForever();
    loop.close();
    expect(ran).toEqual(['ran']);
  });
});
