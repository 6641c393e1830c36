/**
 * Rules: the asyncio behaviour a test checks, in one sentence, so a backend author whose
 * loop breaks it reads which rule and why before any assertion diff:
 *
 *   asyncio rule: callbacks ready when an iteration starts must run in that iteration, in
 *   callSoon order, before any added during it
 *   why it failed: expected [ 'a', 'c', 'b' ] to equal [ 'a', 'b' ]
 *
 * `rule(text, fn)` wraps a test body; whatever the body throws (a failed expect, or an error
 * from the loop itself) fails the test as a RuleViolation that keeps the original as its
 * `cause` and its actual/expected, so runners still show the diff.
 */

export class RuleViolation extends Error {
  override name = 'RuleViolation';
  readonly actual?: unknown;
  readonly expected?: unknown;
  readonly showDiff?: boolean;

  constructor(
    readonly rule: string,
    cause: unknown,
  ) {
    const why = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    super(`asyncio rule: ${rule}\nwhy it failed: ${why}`, { cause });
    if (cause instanceof Error && 'expected' in cause && 'actual' in cause) {
      this.actual = cause.actual;
      this.expected = cause.expected;
      this.showDiff = true;
    }
    // The place it failed is the original's: keep its frames under the new message.
    if (cause instanceof Error && cause.stack !== undefined) {
      const frames = cause.stack.split('\n').filter((line) => /^\s+at /.test(line));
      this.stack = `${this.name}: ${this.message}\n${frames.join('\n')}`;
    }
  }
}

/** The test body `fn`, failing with `text` as the rule it checks. */
export function rule(text: string, fn: () => unknown): () => Promise<void> {
  return async () => {
    try {
      await fn();
    } catch (error) {
      throw new RuleViolation(text, error);
    }
  };
}
