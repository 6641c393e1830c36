/**
 * Happy eyeballs (RFC 8305), as asyncio 3.8+'s create_connection does it: the resolved
 * addresses are interleaved by family, and connection attempts start one after another,
 * each `delay` seconds after the previous one started or at once when it failed. The
 * first to connect wins; every other attempt's socket is closed.
 */
import type { AbstractEventLoop } from './events.js';
import type { TimerHandle } from './handles.js';
import type { AddrInfo } from './names.js';

/** One connection attempt: the socket at once, the connection later. */
export interface Attempt<S> {
  sock: S;
  connected: Promise<void>;
}

/**
 * Reorder `infos` so families alternate: the first `firstFamilyCount` addresses of the first
 * family, then one of each family in turn (asyncio's _interleave_addrinfos).
 */
export function interleaveAddrInfos(infos: readonly AddrInfo[], firstFamilyCount = 1): AddrInfo[] {
  const byFamily = new Map<string, AddrInfo[]>();
  for (const info of infos) {
    const list = byFamily.get(info[0]);
    if (list === undefined) byFamily.set(info[0], [info]);
    else list.push(info);
  }
  const groups = [...byFamily.values()];
  const out: AddrInfo[] = [];
  if (firstFamilyCount > 1) out.push(...groups[0]!.splice(0, firstFamilyCount - 1));
  for (let i = 0; groups.some((g) => i < g.length); i++) {
    for (const group of groups) if (i < group.length) out.push(group[i]!);
  }
  return out;
}

/**
 * Race attempts `start(0)`, `start(1)`, ... staggered by `delay` seconds; the first connected
 * socket, or every attempt's error (in attempt order) when none connects. `start` may throw
 * (that attempt failed at once). Cancelling the caller closes every socket still trying.
 */
export async function staggeredConnect<S extends { close(): void }>(
  loop: AbstractEventLoop,
  count: number,
  start: (index: number) => Attempt<S>,
  delay: number,
): Promise<{ sock: S | null; errors: unknown[] }> {
  const errors: unknown[] = [];
  const trying = new Set<S>();
  const winner = loop.createFuture<S | null>();
  let next = 0;
  let timer: TimerHandle | null = null;

  const settleIfLost = (): void => {
    if (!winner.done() && next >= count && trying.size === 0) winner.setResult(null);
  };
  const launch = (): void => {
    timer?.cancel();
    timer = null;
    if (winner.done() || next >= count) return;
    const index = next++;
    let attempt: Attempt<S>;
    try {
      attempt = start(index);
    } catch (error) {
      errors[index] = error;
      launch();
      settleIfLost();
      return;
    }
    trying.add(attempt.sock);
    if (next < count) timer = loop.callLater(delay, launch);
    attempt.connected.then(
      () => {
        // Not in `trying` any more: the race is over and closed it already.
        if (!trying.delete(attempt.sock)) return;
        if (winner.done()) attempt.sock.close();
        else winner.setResult(attempt.sock);
      },
      (error: unknown) => {
        if (!trying.delete(attempt.sock)) return;
        attempt.sock.close();
        errors[index] = error;
        // A failed attempt starts the next one at once, without waiting for the delay.
        if (!winner.done()) launch();
        settleIfLost();
      },
    );
  };

  launch();
  try {
    // filter() skips the holes: attempts that never failed.
    return { sock: await winner, errors: errors.filter(() => true) };
  } finally {
    // (launch() reassigns it: the compiler cannot see that from here.)
    (timer as TimerHandle | null)?.cancel();
    for (const sock of trying) sock.close();
    trying.clear();
  }
}
