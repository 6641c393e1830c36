/**
 * @loopkit/uv, when installed and built: the suites use its raw non-blocking sockets for the
 * loop's sock* methods and to make loopback states node:net cannot (a full accept queue).
 * It is an optional peer dependency, so a backend author without the addon still runs
 * everything else; the tests that need it say so when they skip.
 */
type Uv = typeof import('@loopkit/uv');

export const uv: Uv | null = await import('@loopkit/uv').then(
  (m) => m,
  () => null,
);

/** Why the raw-socket tests skip here, or null when they can run. */
export const uvMissing: string | null =
  uv === null ? 'skipped: @loopkit/uv is not installed (its raw sockets drive these tests)' : uv.isAvailable() ? null : 'skipped: the @loopkit/uv addon did not load here';
