/**
 * What `then()` on a pending Future (or on `sleep(0)`) returns.
 *
 * `await fut` calls `then` and ignores what it returns, yet a native promise there would
 * cost, on every await, a promise, two resolving functions and (with AsyncLocalStorage's
 * hooks on, as loopkit needs them) its async ids. So a Chain makes its promise only when
 * somebody chains on it (then/catch/finally), or when it is rejected while unobserved: that
 * promise is rejected at once, so Node reports the rejection as unhandled, exactly as it
 * would have for a native promise nobody handled.
 */

type Fulfilled<T, R> = ((value: T) => R | PromiseLike<R>) | null | undefined;
type Rejected<R> = ((reason: any) => R | PromiseLike<R>) | null | undefined;

/** A PromiseLike with catch and finally: what Future.then returns. */
export interface Chainable<T> extends PromiseLike<T> {
  catch<R = never>(onRejected?: Rejected<R>): Promise<T | R>;
  finally(onFinally?: (() => void) | null): Promise<T>;
}

const PENDING = 0;
const FULFILLED = 1;

export class Chain<T> implements Chainable<T> {
  private state = PENDING;
  private value: unknown = undefined;
  private promise: Promise<T> | null = null;
  private resolvePromise: ((value: unknown) => void) | null = null;
  private rejectPromise: ((error: unknown) => void) | null = null;

  /** The source succeeded: settle with what `onFulfilled` gives (Promise semantics). */
  fulfilled<V>(value: V, onFulfilled: Fulfilled<V, unknown>): void {
    if (typeof onFulfilled !== 'function') this.resolve(value);
    else this.settleWith(onFulfilled, value);
  }

  /** The source failed: settle with what `onRejected` gives, else reject. */
  rejected(error: unknown, onRejected: Rejected<unknown>): void {
    if (typeof onRejected !== 'function') this.reject(error);
    else this.settleWith(onRejected, error);
  }

  then<R1 = T, R2 = never>(onFulfilled?: Fulfilled<T, R1>, onRejected?: Rejected<R2>): Promise<R1 | R2> {
    return this.materialize().then(onFulfilled, onRejected);
  }

  catch<R = never>(onRejected?: Rejected<R>): Promise<T | R> {
    return this.materialize().catch(onRejected);
  }

  finally(onFinally?: (() => void) | null): Promise<T> {
    return this.materialize().finally(onFinally);
  }

  private settleWith<V>(reaction: (value: V) => unknown, value: V): void {
    try {
      this.resolve(reaction(value));
    } catch (error) {
      this.reject(error);
    }
  }

  private resolve(value: unknown): void {
    if (this.promise === null && isThenable(value)) this.materialize(); // let the promise adopt it
    if (this.resolvePromise !== null) this.resolvePromise(value);
    else if (this.promise === null) {
      this.state = FULFILLED;
      this.value = value;
    }
  }

  private reject(error: unknown): void {
    if (this.rejectPromise !== null) this.rejectPromise(error);
    else if (this.promise === null) this.promise = Promise.reject(error);
  }

  private materialize(): Promise<T> {
    if (this.promise === null) {
      if (this.state === FULFILLED) this.promise = Promise.resolve(this.value as T);
      else {
        this.promise = new Promise<T>((resolve, reject) => {
          this.resolvePromise = resolve as (value: unknown) => void;
          this.rejectPromise = reject;
        });
      }
    }
    return this.promise;
  }
}

function isThenable(value: unknown): boolean {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as PromiseLike<unknown>).then === 'function';
}
