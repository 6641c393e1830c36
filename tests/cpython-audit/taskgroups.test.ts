/** Scenarios of CPython's test_asyncio/test_taskgroups.py, on the loops users get. */
import { inspect } from 'node:util';
import { expect, it } from 'vitest';
import { CancelledError, Event, ExceptionGroup, RuntimeError, TaskGroup, createTask, currentTask, sleep, taskGroup, type Task } from 'loopkit';
import { onEachLoop, rejection, runIn } from './loops.js';

class MyExc extends Error {}
const divide = (): never => {
  throw new RangeError('division by zero');
};
const errorTypes = (eg: unknown): Set<unknown> => new Set((eg as ExceptionGroup).exceptions.map((e) => (e as object).constructor));

onEachLoop('test_taskgroups', (make) => {
  it('test_taskgroup_01/02: waits for every task', () =>
    runIn(make, async () => {
      let t1!: Task<number>;
      let t2!: Task<number>;
      await taskGroup(async (g) => {
        t1 = g.createTask(async () => (await sleep(0.01), 42));
        await sleep(0.015);
        t2 = g.createTask(async () => (await sleep(0.02), 11));
      });
      expect([t1.result(), t2.result()]).toEqual([42, 11]);
    }));

  it('test_taskgroup_03: a child cancelled explicitly does not stop the group', () =>
    runIn(make, async () => {
      let t1!: Task<number>;
      let t2!: Task<number>;
      await taskGroup(async (g) => {
        t1 = g.createTask(async () => (await sleep(1), 42));
        await sleep(0.015);
        t1.cancel();
        t2 = g.createTask(async () => (await sleep(0.02), 11));
      });
      expect(t1.cancelled()).toBe(true);
      expect(t2.result()).toBe(11);
    }));

  it('test_taskgroup_04 / test_cancel_children_on_child_error', () =>
    runIn(make, async () => {
      let num = 0;
      let t2Cancel = false;
      let runnerCancel = false;
      const foo1 = async () => (await sleep(0.01), divide());
      const foo2 = async () => {
        try {
          await sleep(5);
        } catch (e) {
          t2Cancel = e instanceof CancelledError;
          throw e;
        }
        num += 1;
      };
      const runner = async () => {
        await taskGroup(async (g) => {
          g.createTask(foo1);
          g.createTask(foo1);
          g.createTask(foo1);
          g.createTask(foo2);
          try {
            await sleep(10);
          } catch (e) {
            runnerCancel = e instanceof CancelledError;
            throw e;
          }
        });
        num += 10;
      };
      const error = await rejection(createTask(runner));
      expect(error).toBeInstanceOf(ExceptionGroup);
      expect(errorTypes(error)).toEqual(new Set([RangeError]));
      expect(num).toBe(0);
      expect(t2Cancel).toBe(true);
      expect(runnerCancel).toBe(true);
    }));

  it('test_cancellation / test_taskgroup_07: the parent cancelled with a message', () =>
    runIn(make, async () => {
      let num = 0;
      const foo = async () => {
        try {
          await sleep(5);
        } catch (e) {
          num += 1;
          throw e;
        }
      };
      const r = createTask(() =>
        taskGroup(async (g) => {
          for (let i = 0; i < 5; i++) g.createTask(foo);
          try {
            await sleep(10);
          } catch (e) {
            num += 10;
            throw e;
          }
        }),
      );
      await sleep(0.01);
      expect(r.done()).toBe(false);
      r.cancel('test');
      const error = await rejection(r);
      expect(error).toBeInstanceOf(CancelledError);
      expect((error as Error).message).toBe('test');
      expect(num).toBe(15);
    }));

  it('test_taskgroup_08: children failing in finally when the parent is cancelled', () =>
    runIn(make, async () => {
      const foo = async () => {
        try {
          await sleep(10);
        } finally {
          divide();
        }
      };
      const r = createTask(() =>
        taskGroup(async (g) => {
          for (let i = 0; i < 5; i++) g.createTask(foo);
          await sleep(10);
        }),
      );
      await sleep(0.01);
      expect(r.done()).toBe(false);
      r.cancel();
      const error = await rejection(r);
      expect(error).toBeInstanceOf(ExceptionGroup);
      expect(errorTypes(error)).toEqual(new Set([RangeError]));
    }));

  it('test_taskgroup_09/10: the body fails, the children are cancelled', () =>
    runIn(make, async () => {
      for (const napFirst of [true, false]) {
        let t1!: Task<number>;
        let t2!: Task<number>;
        const error = await rejection(
          taskGroup(async (g) => {
            t1 = g.createTask(async () => (await sleep(1), 42));
            t2 = g.createTask(async () => (await sleep(2), 11));
            if (napFirst) await sleep(0.01);
            divide();
          }),
        );
        expect(errorTypes(error)).toEqual(new Set([RangeError]));
        expect(t1.cancelled()).toBe(true);
        expect(t2.cancelled()).toBe(true);
      }
    }));

  it('test_taskgroup_11/12: nested groups, the parent cancelled from outside, children fail in finally', () =>
    runIn(make, async () => {
      const foo = async () => {
        try {
          await sleep(10);
        } finally {
          divide();
        }
      };
      for (const outerChild of [false, true]) {
        const r = createTask(() =>
          taskGroup(async (g1) => {
            if (outerChild) g1.createTask(() => sleep(10));
            await taskGroup(async (g2) => {
              for (let i = 0; i < 5; i++) g2.createTask(foo);
              await sleep(10);
            });
          }),
        );
        await sleep(0.01);
        expect(r.done()).toBe(false);
        r.cancel();
        const error = await rejection(r);
        expect(errorTypes(error)).toEqual(new Set([ExceptionGroup]));
        expect(errorTypes((error as ExceptionGroup).exceptions[0])).toEqual(new Set([RangeError]));
      }
    }));

  it('test_taskgroup_13/14: nested groups, an error in either', () =>
    runIn(make, async () => {
      const crashAfter = (t: number) => async () => {
        await sleep(t);
        throw new TypeError(String(t));
      };
      const e13 = await rejection(
        createTask(() => taskGroup(async (g1) => (g1.createTask(crashAfter(0.01)), await taskGroup(async (g2) => void g2.createTask(crashAfter(10)))))),
      );
      expect(errorTypes(e13)).toEqual(new Set([TypeError]));
      const e14 = await rejection(
        createTask(() => taskGroup(async (g1) => (g1.createTask(crashAfter(10)), await taskGroup(async (g2) => void g2.createTask(crashAfter(0.01)))))),
      );
      expect(errorTypes(e14)).toEqual(new Set([ExceptionGroup]));
      expect(errorTypes((e14 as ExceptionGroup).exceptions[0])).toEqual(new Set([TypeError]));
    }));

  it('test_taskgroup_15/16: a body that sleeps in its cancellation handler while a child fails', () =>
    runIn(make, async () => {
      const crashSoon = async () => (await sleep(0.03), divide());
      const nestedRunner = () =>
        taskGroup(async (g1) => {
          g1.createTask(crashSoon);
          try {
            await sleep(10);
          } catch (e) {
            await sleep(0.05);
            throw e;
          }
        });
      for (const runner of [nestedRunner, async () => await createTask(nestedRunner)]) {
        const r = createTask(runner);
        await sleep(0.01);
        expect(r.done()).toBe(false);
        r.cancel();
        const error = await rejection(r);
        expect(error).toBeInstanceOf(ExceptionGroup);
        expect(errorTypes(error)).toEqual(new Set([RangeError]));
      }
    }));

  it('test_taskgroup_17/18: an empty group cancelled; a body that answers with another error', () =>
    runIn(make, async () => {
      let num = 0;
      const r17 = createTask(() =>
        taskGroup(async () => {
          try {
            await sleep(10);
          } catch (e) {
            num += 10;
            throw e;
          }
        }),
      );
      await sleep(0.01);
      r17.cancel();
      expect(await rejection(r17)).toBeInstanceOf(CancelledError);
      expect(num).toBe(10);

      const r18 = createTask(() =>
        taskGroup(async () => {
          try {
            await sleep(10);
          } catch {
            num += 10;
            throw new MyExc();
          }
        }),
      );
      await sleep(0.01);
      r18.cancel();
      const error = await rejection(r18);
      expect(error).toBeInstanceOf(ExceptionGroup);
      expect(errorTypes(error)).toEqual(new Set([MyExc]));
      expect(num).toBe(20);
    }));

  it('test_taskgroup_19: the body raises from finally while a child fails', () =>
    runIn(make, async () => {
      const r = createTask(() =>
        taskGroup(async (g) => {
          g.createTask(async () => (await sleep(0.01), divide()));
          try {
            await sleep(10);
          } finally {
            // eslint-disable-next-line no-unsafe-finally
            throw new MyExc();
          }
        }),
      );
      const error = await rejection(r);
      expect(errorTypes(error)).toEqual(new Set([MyExc, RangeError]));
    }));

  it('test_taskgroup_22: cancel the runner while the children sleep', () =>
    runIn(make, async () => {
      const r = createTask(() =>
        taskGroup(async (g) => {
          g.createTask(async () => (await sleep(1), 42));
          g.createTask(async () => (await sleep(2), 11));
        }),
      );
      await sleep(0.005);
      r.cancel();
      expect(await rejection(r)).toBeInstanceOf(CancelledError);
    }));

  it('test_taskgroup_24/25: children create tasks in the group; hydras until hercules fails', () =>
    runIn(make, async () => {
      await taskGroup(async (g) => {
        g.createTask(async () => {
          await sleep(0.01);
          g.createTask(() => sleep(0.01));
          g.createTask(() => sleep(0.02));
        });
      });
      let nhydras = 0;
      const hydra = (g: TaskGroup) => async (): Promise<void> => {
        nhydras += 1;
        await sleep(0.001);
        g.createTask(hydra(g));
        g.createTask(hydra(g));
      };
      const error = await rejection(
        taskGroup(async (g) => {
          g.createTask(hydra(g));
          g.createTask(async () => {
            while (nhydras < 10) await sleep(0.0015);
            divide();
          });
        }),
      );
      expect(errorTypes(error)).toEqual(new Set([RangeError]));
      expect(nhydras).toBeGreaterThanOrEqual(10);
    }));

  it('test_taskgroup_task_name / test_name', () =>
    runIn(make, async () => {
      let name: string | null = null;
      await taskGroup(async (g) => {
        const t = g.createTask(async () => void (name = currentTask()!.getName()), { name: 'yolo' });
        expect(t.getName()).toBe('yolo');
      });
      expect(name).toBe('yolo');
    }));

  it('test_taskgroup_without_parent_task / test_coro_closed_when_tg_closed', () =>
    runIn(make, async (loop) => {
      const outside = await new Promise<TaskGroup>((resolve) => loop.callSoon(() => resolve(new TaskGroup())));
      expect(() => outside.createTask(() => sleep(0))).toThrow(/has not been entered/);
      const tg = await taskGroup(async (g) => g);
      let ran = false;
      expect(() => tg.createTask(async () => void (ran = true))).toThrow(RuntimeError);
      expect(() => tg.createTask(async () => void (ran = true))).toThrow(/is finished/);
      await sleep(0);
      expect(ran).toBe(false);
    }));

  it('test_cancelling_level_preserved', () =>
    runIn(make, async () => {
      const error = await rejection(
        taskGroup(async (tg) => {
          tg.createTask(async () => {
            await sleep(0);
            throw new RuntimeError();
          });
        }),
      );
      expect(errorTypes(error)).toEqual(new Set([RuntimeError]));
      expect(currentTask()!.cancelling()).toBe(0);
    }));

  it('test_nested_groups_both_cancelled', () =>
    runIn(make, async () => {
      const raiseAfter = (t: number, E: new () => Error) => async () => {
        await sleep(t);
        throw new E();
      };
      const error = await rejection(
        taskGroup(async (outer) => {
          const inner = await rejection(
            taskGroup(async (innerTg) => {
              innerTg.createTask(raiseAfter(0, RuntimeError));
              outer.createTask(raiseAfter(0, TypeError));
            }),
          );
          expect(errorTypes(inner)).toEqual(new Set([RuntimeError]));
          expect(currentTask()!.cancelling()).toBe(1);
        }),
      );
      expect(errorTypes(error)).toEqual(new Set([TypeError]));
      expect(currentTask()!.cancelling()).toBe(0);
    }));

  it('test_error_and_cancel', () =>
    runIn(make, async () => {
      const event = new Event();
      const inner = async () => {
        const error = await rejection(
          taskGroup(async (tg) => {
            tg.createTask(async () => {
              event.set();
              await sleep(0);
              throw new RuntimeError();
            });
            await sleep(1);
            throw new Error('Sleep in group should have been cancelled');
          }),
        );
        expect(errorTypes(error)).toEqual(new Set([RuntimeError]));
        expect(currentTask()!.cancelling()).toBe(1);
        await sleep(1);
        throw new Error('Sleep after group should have been cancelled');
      };
      const t = createTask(inner);
      await event.wait();
      expect(t.cancelling()).toBe(0);
      t.cancel();
      expect(t.cancelling()).toBe(1);
      expect(await rejection(t)).toBeInstanceOf(CancelledError);
      expect(t.cancelled()).toBe(true);
    }));

  it('test_taskgroup_no_create_task_after_failure', () =>
    runIn(make, async () => {
      let refused: unknown = null;
      const coro1 = async () => (await sleep(0.001), divide());
      const error = await rejection(
        taskGroup(async (g) => {
          g.createTask(coro1);
          g.createTask(async () => {
            try {
              await sleep(1);
            } catch {
              try {
                g.createTask(coro1);
              } catch (e) {
                refused = e;
              }
            }
          });
        }),
      );
      expect(refused).toBeInstanceOf(RuntimeError);
      expect(errorTypes(error)).toEqual(new Set([RangeError]));
    }));

  it('test_taskgroup_context_manager_exit_raises: a cleanup that raises inside the group', () =>
    runIn(make, async () => {
      class CustomException extends Error {}
      await createTask(async () => {
        const task = currentTask()!;
        const error = await rejection(
          taskGroup(async (tg) => {
            try {
              tg.createTask(async () => {
                throw new CustomException();
              });
              await sleep(1);
            } finally {
              // eslint-disable-next-line no-unsafe-finally
              throw new CustomException();
            }
          }),
        );
        expect(task.cancelling()).toBe(0);
        expect((error as ExceptionGroup).exceptions).toHaveLength(2);
        expect(errorTypes(error)).toEqual(new Set([CustomException]));
      });
    }));

  it('test_cancels_task_if_created_during_creation', () =>
    runIn(make, async () => {
      class MyError extends Error {}
      let ran = false;
      const error = await rejection(
        taskGroup(async (tg) => {
          tg.createTask(async () => {
            tg.createTask(async () => {
              throw new MyError('third task failed');
            });
            const cancelled = await rejection((async () => (await sleep(0), await sleep(0)))());
            expect(cancelled).toBeInstanceOf(CancelledError);
            ran = true;
          });
        }),
      );
      expect(ran).toBe(true);
      expect((error as ExceptionGroup).exceptions[0]).toBeInstanceOf(MyError);
    }));

  it('test_cancellation_does_not_leak_out_of_tg', () =>
    runIn(make, async () => {
      const error = await rejection(
        taskGroup(async (tg) => {
          tg.createTask(async () => {
            throw new TypeError();
          });
        }),
      );
      expect(errorTypes(error)).toEqual(new Set([TypeError]));
      await sleep(0);
      expect(currentTask()!.cancelling()).toBe(0);
    }));

  it("a TaskGroup's ExceptionGroup reads as Python's str(eg) in String(), stack and Node's report; message stays eg.message", () =>
    runIn(make, async () => {
      const eg = (await rejection(
        taskGroup(async (g) => {
          g.createTask(async () => divide());
          g.createTask(async () => {
            throw new MyExc('second');
          });
        }),
      )) as ExceptionGroup;
      expect(eg.message).toBe('unhandled errors in a TaskGroup');
      expect(String(eg)).toBe('ExceptionGroup: unhandled errors in a TaskGroup (2 sub-exceptions)');
      expect(eg.stack!.split('\n')[0]).toBe(String(eg));
      expect(String(new ExceptionGroup('one', [new Error('x')]))).toBe('ExceptionGroup: one (1 sub-exception)');
      // Node's report of an uncaught error (util.inspect) lists the sub-exceptions once, with their stacks.
      const report = inspect(eg);
      expect(report.match(/division by zero/g)).toHaveLength(1);
      expect(report).toContain('[errors]');
      expect(eg.exceptions).toBe(eg.errors);
    }));

  it('ExceptionGroup checks its arguments as Python does: a string message, a non-empty iterable', () => {
    expect(() => new ExceptionGroup(1 as unknown as string, [new Error('x')])).toThrow(/message must be a string/);
    expect(() => new ExceptionGroup('m', null as unknown as Error[])).toThrow(TypeError);
    expect(() => new ExceptionGroup('m', [])).toThrow(RangeError);
  });

  it.skip('test_taskgroup_20/20a/21/21a: KeyboardInterrupt and BaseException subclasses have no JavaScript counterpart', () => {});
  it.skip('test_exception_refcycles_*: Python reference cycles (gc.get_referrers)', () => {});
});
