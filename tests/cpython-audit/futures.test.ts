/** Scenarios of CPython's test_asyncio/test_futures.py (3.13), on the loops users get. */
import { expect, it } from 'vitest';
import { CancelledError, Future, InvalidStateError, createTask, sleep } from 'loopkit';
import { onEachLoop, rejection, runIn } from './loops.js';

onEachLoop('test_futures', (make) => {
  it('test_initial_state / test_cancel', () =>
    runIn(make, async (loop) => {
      const f = loop.createFuture<number>();
      expect(f.cancelled()).toBe(false);
      expect(f.done()).toBe(false);
      expect(f.cancel()).toBe(true);
      expect(f.cancelled()).toBe(true);
      expect(f.done()).toBe(true);
      expect(() => f.result()).toThrow(CancelledError);
      expect(() => f.exception()).toThrow(CancelledError);
      expect(() => f.setResult(null as never)).toThrow(InvalidStateError);
      expect(() => f.setException(new Error())).toThrow(InvalidStateError);
      expect(f.cancel()).toBe(false);
    }));

  it('test_result / test_exception', () =>
    runIn(make, async (loop) => {
      const f = loop.createFuture<number>();
      expect(() => f.result()).toThrow(InvalidStateError);
      expect(() => f.exception()).toThrow(InvalidStateError);
      f.setResult(42);
      expect(f.cancelled()).toBe(false);
      expect(f.result()).toBe(42);
      expect(f.exception()).toBeNull();
      expect(() => f.setResult(0)).toThrow(InvalidStateError);
      expect(() => f.setException(new Error())).toThrow(InvalidStateError);
      expect(f.cancel()).toBe(false);

      const exc = new TypeError();
      const g = loop.createFuture<number>();
      g.setException(exc);
      expect(() => g.result()).toThrow(exc);
      expect(g.exception()).toBe(exc);
      expect(() => g.setResult(0)).toThrow(InvalidStateError);
      expect(g.cancel()).toBe(false);
    }));

  it('test_constructor_use_running_loop / test_constructor_without_loop', () =>
    runIn(make, async (loop) => {
      const f = new Future();
      expect(f.getLoop()).toBe(loop);
      f.cancel();
    }));

  it('test_future_cancel_message: cancel(msg) reaches result() and await', () =>
    runIn(make, async (loop) => {
      const f = loop.createFuture();
      f.cancel('my message');
      expect(() => f.result()).toThrow('my message');
      const error = await rejection(f);
      expect(error).toBeInstanceOf(CancelledError);
      expect((error as Error).message).toBe('my message');
    }));

  it('test_future_repr: pending, with callbacks, cancelled, finished', () =>
    runIn(make, async (loop) => {
      const f = loop.createFuture<boolean>();
      expect(String(f)).toBe('<Future pending>');
      function first_cb(): void {}
      function last_cb(): void {}
      f.addDoneCallback(first_cb);
      expect(String(f)).toBe('<Future pending cb=[first_cb()]>');
      f.addDoneCallback(last_cb);
      expect(String(f)).toBe('<Future pending cb=[first_cb(), last_cb()]>');
      for (let i = 0; i < 8; i++) f.addDoneCallback(first_cb);
      f.addDoneCallback(last_cb);
      expect(String(f)).toBe('<Future pending cb=[first_cb(), <9 more>, last_cb()]>');
      f.setResult(true);
      expect(String(f)).toBe('<Future finished result=true>');

      const c = loop.createFuture();
      c.cancel();
      expect(String(c)).toBe('<Future cancelled>');
      const s = loop.createFuture<string>();
      s.setResult('abc');
      expect(String(s)).toBe("<Future finished result='abc'>");
      const e = loop.createFuture();
      e.setException(new RangeError('boom'));
      expect(String(e)).toMatch(/^<Future finished exception=.*RangeError.*boom.*>$/);
      e.exception();
    }));

  it('test_task_repr: a task awaiting a future shows wait_for=, an awaited one cb=', () =>
    runIn(make, async (loop) => {
      const fut = loop.createFuture();
      const t = createTask(async function waiter() {
        await fut;
      }, { name: 'W' });
      await sleep(0);
      expect(String(t)).toBe("<Task pending name='W' coro=waiter() wait_for=<Future pending cb=[Task.task_wakeup()]>>");
      const outer = createTask(async () => await t);
      await sleep(0);
      expect(String(t)).toMatch(/ cb=\[Task\.task_wakeup\(\)\]>$/);
      fut.setResult(null);
      await outer;
      expect(String(t)).toBe("<Task finished name='W' coro=waiter() result=undefined>");
    }));

  it('test_handle_repr / test_timer_handle_repr: callback after the deadline; cancelled drops it', () =>
    runIn(make, async (loop) => {
      function noop(): void {}
      const h = loop.callSoon(noop);
      expect(String(h)).toBe('<Handle noop()>');
      h.cancel();
      expect(String(h)).toBe('<Handle cancelled>');
      const th = loop.callAt(123, noop);
      expect(String(th)).toBe('<TimerHandle when=123 noop()>');
      th.cancel();
      expect(String(th)).toBe('<TimerHandle cancelled when=123>');
    }));

  it('test_callbacks_invoked_on_set_result / exception, in order, with the future', () =>
    runIn(make, async (loop) => {
      const calls: unknown[] = [];
      const f = loop.createFuture<number>();
      f.addDoneCallback((x) => calls.push(['a', x]));
      f.addDoneCallback((x) => calls.push(['b', x]));
      f.setResult(10);
      expect(calls).toEqual([]);
      await sleep(0);
      expect(calls.length).toBe(2);
      expect((calls[0] as unknown[])[0]).toBe('a');
      expect((calls[0] as unknown[])[1]).toBe(f);
      expect((calls[1] as unknown[])[0]).toBe('b');
    }));

  it('test_callbacks_remove_first / third / first_and_second / test_remove_done_callback_delete_all', () =>
    runIn(make, async (loop) => {
      const bag: number[] = [];
      const cb = (n: number) => () => bag.push(n);
      const [cb1, cb2, cb3] = [cb(1), cb(2), cb(3)];
      const f = loop.createFuture();
      f.addDoneCallback(cb1);
      f.addDoneCallback(cb2);
      f.addDoneCallback(cb3);
      expect(f.removeDoneCallback(cb1)).toBe(1);
      expect(f.removeDoneCallback(cb1)).toBe(0);
      f.setResult('foo');
      await sleep(0);
      expect(bag).toEqual([2, 3]);

      const g = loop.createFuture();
      for (let i = 0; i < 5; i++) g.addDoneCallback(cb1);
      g.addDoneCallback(cb2);
      expect(g.removeDoneCallback(cb1)).toBe(5);
      g.setResult(null);
      bag.length = 0;
      await sleep(0);
      expect(bag).toEqual([2]);

      const h = loop.createFuture();
      h.setResult(1);
      h.addDoneCallback(cb3);
      bag.length = 0;
      expect(bag).toEqual([]);
      await sleep(0);
      expect(bag).toEqual([3]);
    }));

  it('test_tb_logger_abandoned / result_unretrieved: a retrieved or successful future is not reported', () =>
    runIn(make, async (loop, reports) => {
      const ok = loop.createFuture();
      ok.setResult(1);
      const retrieved = loop.createFuture();
      retrieved.setException(new Error('seen'));
      retrieved.exception();
      await sleep(0);
      expect(reports).toEqual([]);
    }));

  it.skip('test_future_source_traceback / test_future_del_*: Python frames and __del__', () => {});
  it.skip('test_exception_class: asyncio instantiates an exception class given to set_exception; JavaScript errors are instances', () => {});
});
