/**
 * ExceptionGroup's `subgroup`, `split` and `derive` (test_exception_group.py's scenarios), each
 * row of TABLE checked against Python 3.13.0 on the same groups: the outcome column is what
 * 3.13 printed (a group written as `Name('message', [...])`, None as null, its error's class).
 * ports of `except*` lean on them.
 */
import { describe, expect, it } from 'vitest';
import { ExceptionGroup } from 'loopkit';

class ValueError extends Error {}
class KeyError extends Error {}

/** A group or error as the table writes it (Python's repr, trimmed). */
function show(x: unknown): string {
  if (x === null) return 'None';
  if (x instanceof ExceptionGroup) return `${x.constructor.name}('${x.message}', [${x.exceptions.map(show).join(', ')}])`;
  return `${(x as Error).constructor.name}('${(x as Error).message}')`;
}

function outcome(run: () => unknown): unknown {
  try {
    const r = run();
    return Array.isArray(r) ? r.map(show) : typeof r === 'boolean' ? r : show(r);
  } catch (error) {
    return `raises ${(error as Error).constructor.name}`;
  }
}

const v1 = new ValueError('v1');
const inner = new ExceptionGroup('inner', [new ValueError('v2'), new TypeError('t2')]);
const eg = new ExceptionGroup('outer', [v1, new TypeError('t1'), inner]);
const OUTER_V = "ExceptionGroup('outer', [ValueError('v1'), ExceptionGroup('inner', [ValueError('v2')])])";
const OUTER_T = "ExceptionGroup('outer', [TypeError('t1'), ExceptionGroup('inner', [TypeError('t2')])])";

// [case, what loopkit runs, what Python 3.13.0 gave for the same case (TypeError: Python's TypeError, ValueError: RangeError here)]
const TABLE: Array<[string, () => unknown, unknown]> = [
  ['subgroup(ValueError)', () => eg.subgroup(ValueError), OUTER_V],
  ['subgroup(TypeError)', () => eg.subgroup(TypeError), OUTER_T],
  ['subgroup((ValueError, TypeError))', () => eg.subgroup([ValueError, TypeError]), "ExceptionGroup('outer', [ValueError('v1'), TypeError('t1'), ExceptionGroup('inner', [ValueError('v2'), TypeError('t2')])])"],
  ['subgroup(KeyError)', () => eg.subgroup(KeyError), 'None'],
  ['subgroup(()) (no class)', () => eg.subgroup([]), 'None'],
  ['subgroup(Exception) is eg', () => eg.subgroup(Error) === eg, true],
  ['subgroup(ExceptionGroup) is eg', () => eg.subgroup(ExceptionGroup) === eg, true],
  ['subgroup(lambda e: str(e).startswith("v"))', () => eg.subgroup((e) => (e as Error).message.startsWith('v')), OUTER_V],
  ['subgroup(a predicate matching the inner group)', () => eg.subgroup((e) => e instanceof ExceptionGroup && e.message === 'inner'), "ExceptionGroup('outer', [ExceptionGroup('inner', [ValueError('v2'), TypeError('t2')])])"],
  ['subgroup(lambda e: 1) (truthy)', () => new ExceptionGroup('o', [new ValueError('a')]).subgroup(() => 1), "ExceptionGroup('o', [ValueError('a')])"],
  ['split(ValueError)', () => eg.split(ValueError), [OUTER_V, OUTER_T]],
  ['split(KeyError)', () => eg.split(KeyError), ['None', "ExceptionGroup('outer', [ValueError('v1'), TypeError('t1'), ExceptionGroup('inner', [ValueError('v2'), TypeError('t2')])])"]],
  ['split(KeyError)[1] is eg', () => eg.split(KeyError)[1] === eg, false],
  ['split(Exception)[0] is eg', () => eg.split(Error)[0] === eg, true],
  ['split(Exception)[1]', () => eg.split(Error)[1], 'None'],
  ['subgroup(ValueError).exceptions[0] is v1', () => eg.subgroup(ValueError)!.exceptions[0] === v1, true],
  ['a nested group all of whose leaves match is derived anew', () => eg.subgroup([ValueError, TypeError])!.exceptions[2] === inner, false],
  ['a group all of whose leaves match is derived anew', () => {
    const one = new ExceptionGroup('o', [new ValueError('a')]);
    return one.subgroup(ValueError) === one;
  }, false],
  ['subgroup(42)', () => eg.subgroup(42 as never), 'raises TypeError'],
  ['subgroup(int) (a class that is not an exception)', () => eg.subgroup(Number as never), 'raises TypeError'],
  ['subgroup(class syntax, not an Error)', () => eg.subgroup(class Plain {} as never), 'raises TypeError'],
  ['subgroup((ValueError, 42))', () => eg.subgroup([ValueError, 42] as never), 'raises TypeError'],
  ['split(None)', () => eg.split(null as never), 'raises TypeError'],
  ['derive([KeyError("k")])', () => eg.derive([new KeyError('k')]), "ExceptionGroup('outer', [KeyError('k')])"],
  ['derive([])', () => eg.derive([]), 'raises RangeError'],
];

describe('ExceptionGroup subgroup/split/derive, as Python 3.13', () => {
  for (const [name, run, python] of TABLE) {
    it(name, () => {
      expect(outcome(run)).toEqual(python);
    });
  }

  it('the condition is tried on the group, then each nested group, then the leaves, in order (as 3.13)', () => {
    const calls: string[] = [];
    const o = new ExceptionGroup('o', [new ExceptionGroup('i', [new ValueError('a')]), new TypeError('b')]);
    expect(o.subgroup((e) => void calls.push(e instanceof ExceptionGroup ? String(e) : (e as Error).message))).toBe(null);
    expect(calls).toEqual(['ExceptionGroup: o (2 sub-exceptions)', 'ExceptionGroup: i (1 sub-exception)', 'a', 'b']);
  });

  it('a predicate that throws: the error reaches the caller', () => {
    const boom = new Error('boom');
    expect(() =>
      eg.split(() => {
        throw boom;
      }),
    ).toThrow(boom);
  });

  it("the bad condition's TypeError says what is expected and what was given", () => {
    expect(() => eg.subgroup('ValueError' as never)).toThrow(/condition must be an Error class, an array of Error classes, or a predicate function.*got string/);
    expect(() => eg.split([ValueError, 'x'] as never)).toThrow(/an array holding string/);
    expect(() => eg.subgroup(Map as never)).toThrow(/got class Map/);
  });

  it("the parts keep the original's cause and stack frames (Python's __cause__ and __traceback__); derive alone does not", () => {
    const cause = new Error('cause');
    const original = new ExceptionGroup('c', [new ValueError('a'), new TypeError('b')]);
    Object.defineProperty(original, 'cause', { value: cause, configurable: true, writable: true });
    const [match, rest] = original.split(ValueError);
    for (const part of [match!, rest!]) {
      expect(part.cause).toBe(cause);
      expect(part.stack!.split('\n')[0]).toBe('ExceptionGroup: c (1 sub-exception)');
      expect(part.stack!.split('\n').slice(1)).toEqual(original.stack!.split('\n').slice(1));
    }
    expect('cause' in original.derive([new ValueError('z')])).toBe(false);
  });

  it('a subclass: derive and the parts are plain ExceptionGroups (as 3.13) unless it overrides derive', () => {
    class MyGroup extends ExceptionGroup {}
    const mine = new MyGroup('mine', [new ValueError('a'), new TypeError('b')]);
    expect(mine.derive([new ValueError('x')]).constructor).toBe(ExceptionGroup);
    expect(mine.subgroup(ValueError)!.constructor).toBe(ExceptionGroup);
    class Keeping extends ExceptionGroup {
      override derive(excs: Iterable<unknown>): ExceptionGroup {
        return new Keeping(this.message, excs);
      }
    }
    const kept = new Keeping('kept', [new ValueError('a'), new TypeError('b')]).split(ValueError);
    expect(kept.map((p) => p instanceof Keeping)).toEqual([true, true]);
    class Broken extends ExceptionGroup {
      override derive(): ExceptionGroup {
        return new Error('not a group') as unknown as ExceptionGroup;
      }
    }
    expect(() => new Broken('b', [new ValueError('a'), new TypeError('b')]).subgroup(ValueError)).toThrow(/derive must return an instance of ExceptionGroup/);
  });

  it('an except* port: handle the ValueErrors, rethrow the rest', () => {
    const handled: string[] = [];
    function exceptStar(group: ExceptionGroup): void {
      const [values, rest] = group.split(ValueError);
      if (values !== null) handled.push(...values.exceptions.map((e) => (e instanceof ExceptionGroup ? e.message : (e as Error).message)));
      if (rest !== null) throw rest;
    }
    expect(() => exceptStar(eg)).toThrow(ExceptionGroup);
    expect(handled).toEqual(['v1', 'inner']);
    expect(() => exceptStar(new ExceptionGroup('only values', [new ValueError('x')]))).not.toThrow();
  });
});
