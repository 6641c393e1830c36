import { describe, expect, it } from 'vitest';
import { NotImplementedError } from '@loopkit/core';
import { NetProactor, Proactor } from '@loopkit/proactor';

describe('the Proactor contract at run time', () => {
  it('NetProactor is a Proactor', () => {
    expect(new NetProactor()).toBeInstanceOf(Proactor);
  });

  it('an operation a subclass does not provide throws NotImplementedError', () => {
    class Partial extends Proactor {}
    expect(() => (new Partial() as unknown as { recv(): void }).recv()).toThrow(NotImplementedError);
    expect(() => (new Partial() as unknown as { select(): void }).select()).toThrow('Partial does not implement select()');
  });
});
