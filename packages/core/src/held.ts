/**
 * `await using _ = await lock.hold()`: loopkit's `async with lock:`. JavaScript's disposal
 * has no enter hook, so entering is the `await` of hold() (it acquires) and the scope's
 * end releases through the object it returns. Lock, Semaphore, BoundedSemaphore and
 * Condition offer hold().
 */

/** What hold() needs of a primitive. */
export interface Releasable {
  release(): void;
}

/** A primitive held by the code of one scope; releases it once, however often it is disposed. */
export class Held implements AsyncDisposable, Disposable {
  private primitive: Releasable | null;

  constructor(primitive: Releasable) {
    this.primitive = primitive;
  }

  /** Whether release() is still to come. */
  held(): boolean {
    return this.primitive !== null;
  }

  /** Release the primitive; later calls (the scope's end after an early release) do nothing. */
  release(): void {
    const primitive = this.primitive;
    if (primitive === null) return;
    this.primitive = null;
    primitive.release();
  }

  /** `using` (release is synchronous, so a plain `using` works too). */
  [Symbol.dispose](): void {
    this.release();
  }

  /** `await using`, as asyncio's `async with`. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.release();
  }

  toString(): string {
    return `<Held ${this.primitive === null ? 'released' : String(this.primitive)}>`;
  }
}
