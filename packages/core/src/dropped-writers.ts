/**
 * A StreamWriter dropped unclosed closes its connection, as asyncio's StreamWriter.__del__.
 *
 * CPython frees a writer the moment its last reference goes (a server handler that returns
 * without `writer.close()`), so the connection closes at once. V8 frees it at some later
 * collection; a FinalizationRegistry closes the connection then. Until that collection a
 * closed server's `waitClosed()` would wait for it, so waitClosed collects once when a
 * connection it waits for is a candidate: its handler returned and its writer is open.
 */
import { createRequire } from 'node:module';

const load = createRequire(import.meta.url);

let candidates = 0;
let collect: (() => void) | null = null;

/** @internal a server handler returned leaving its writer open (or that connection ended: -1). */
export function countDroppedWriterCandidate(delta: 1 | -1): void {
  candidates += delta;
}

/** @internal force one full collection if a dropped writer may be waiting to be collected. */
export function collectDroppedWriters(): void {
  if (candidates === 0) return;
  if (collect === null) {
    // The one way a library reaches V8's collector without `node --expose-gc` (jest's leak
    // detector does the same): expose it, then take the function from a fresh context.
    (load('node:v8') as typeof import('node:v8')).setFlagsFromString('--expose-gc');
    collect = (load('node:vm') as typeof import('node:vm')).runInNewContext('gc') as () => void;
  }
  collect();
}
