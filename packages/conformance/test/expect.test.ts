/** The kit's own expect: it must fail where vitest's would, or a broken loop would pass the kit. */
import { AssertionError } from 'node:assert';
import { describe, expect, it } from 'vitest';
import { expect as kit } from '../src/expect.js';

class Point {
  constructor(
    readonly x: number,
    readonly y?: number,
  ) {}
}

const fails = (fn: () => void): AssertionError => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(AssertionError);
    return e as AssertionError;
  }
  throw new Error('the kit expect passed');
};

describe("the kit's expect", () => {
  it('toEqual compares structure as vitest does: classes and undefined properties ignored, order kept', () => {
    kit(new Point(1)).toEqual({ x: 1 });
    kit([1, 'a', [2]]).toEqual([1, 'a', [2]]);
    kit(new Set(['a', 'f'])).toEqual(new Set(['f', 'a']));
    kit(Buffer.from('ab')).toEqual(new Uint8Array([97, 98]));
    kit([new Error('x')]).toEqual([kit.any(Error)]);
    fails(() => kit(['b', 'a']).toEqual(['a', 'b']));
    fails(() => kit({ x: 1, y: 2 }).toEqual({ x: 1 }));
    fails(() => kit(new Set([1])).toEqual(new Set([2])));
    fails(() => kit(1).toEqual('1'));
  });

  it('toBe is Object.is; comparisons, lengths, patterns and subsets fail when they should', () => {
    fails(() => kit({}).toBe({}));
    fails(() => kit(0.3).toBeLessThan(0.3));
    fails(() => kit(2).toBeGreaterThanOrEqual(2.5));
    fails(() => kit(0.031).toBeCloseTo(0.03, 9));
    kit(0.1 + 0.2).toBeCloseTo(0.3, 9);
    fails(() => kit([1]).toHaveLength(2));
    fails(() => kit('took 0.2 seconds').toMatch(/took 0\.0\d/));
    kit({ code: 'ECONNRESET', errno: -104 }).toMatchObject({ code: 'ECONNRESET' });
    fails(() => kit({ code: 'EPIPE' }).toMatchObject({ code: 'ECONNRESET' }));
  });

  it('toThrow checks the class, the pattern or the substring; a "why" prefixes the failure', () => {
    const boom = (): never => {
      throw new TypeError('delay must be a number');
    };
    kit(boom).toThrow(TypeError);
    kit(boom).toThrow(/delay/);
    kit(boom).toThrow('must be');
    fails(() => kit(boom).toThrow(RangeError));
    fails(() => kit(() => 1).toThrow());
    expect(fails(() => kit(1, 'the rule').toBe(2)).message).toBe('the rule\nexpected 1 to be 2');
  });

  it('rejects applies the matcher to the rejection, and fails on a fulfilment', async () => {
    await kit(Promise.reject(new RangeError('late'))).rejects.toBeInstanceOf(RangeError);
    await kit(Promise.reject(new RangeError('late'))).rejects.toThrow('late');
    await expect(kit(Promise.resolve(5)).rejects.toThrow()).rejects.toThrow('expected a rejection, but it resolved to 5');
    await expect(kit(Promise.reject(new Error('a'))).rejects.toThrow('b')).rejects.toBeInstanceOf(AssertionError);
  });
});
