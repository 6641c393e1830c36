/**
 * What an idle UringEventLoop connection holds, and the extra info it no longer makes at once:
 * the peer's address is kept from when the connection was made, so it is still reported once
 * the peer reset it.
 */
import { describe, expect, it } from 'vitest';
import { UringEventLoop, UringProactor } from '@loopkit/proactor';
import { extraInfoMadeWhenAsked } from './extra-info-scenario.js';
import { heapPerIdleConnection } from './idle-heap.js';
import { runOn } from './run-loop.js';

describe.skipIf(UringProactor.problem() !== null)('an idle UringEventLoop connection', () => {
  it("makes its extra info when first asked for, from the peer's address read when the connection was made: after the peer's reset too", async () => {
    await runOn(new UringEventLoop(), extraInfoMadeWhenAsked);
  }, 30_000);

  it('holds at most 700 bytes of heap objects on the server (heap snapshots, code and native memory left out)', async () => {
    // What 400 accepted connections add, each after one echo round trip: the transport, its
    // UringSocket and uv Socket (with the WeakRef that closes a lost one's fd), the protocol and
    // the loop's and server's records of it. 793 bytes on Node 20 before session 21: the extra
    // info made at once (its object and two address objects, 160 bytes), a field for each of
    // five rarely changed states, two round counts where one serves, the loop's entry queue
    // kept by every transport; 601 after (Node 24 622).
    expect(await heapPerIdleConnection('UringEventLoop')).toBeLessThanOrEqual(700);
  }, 60_000);
});
