/**
 * A burst of connections that stay open grows V8's young generation to its maximum (32 MB
 * semi-spaces on Node 24, 16 on Node 20), as a burst of idle tasks does (task-registry.ts),
 * and the collections that follow empty it without giving its pages back: 9,000 idle echo
 * connections left 24 MB of it resident on NetProactor, 2.7 KB per connection, more than
 * loopkit's and Node's objects of the connection together (bench/README.md, "Session 20
 * (s20-netproactor)"). So once servers have accepted BURST_CONNECTIONS connections and then
 * none for QUIET_SECONDS, V8 is told, as after a burst of tasks: moderate memory pressure
 * (through the task-tracking addon; nothing without it), one incremental full collection
 * that reduces memory. A steady stream of connections never leaves a quiet gap: no hint.
 */
import { world } from './world.js';

/** About 4 MB of connections (loopkit's and Node's objects): fewer rarely grow the young generation. */
const BURST_CONNECTIONS = 2048;
/** No connection for this long after a burst: it is over. */
const QUIET_SECONDS = 0.1;

/** Connections accepted since the last hint. */
let accepted = 0;
/** `accepted` when the quiet timer was last (re)armed. */
let acceptedAtArming = 0;
let quietTimer: ReturnType<typeof setTimeout> | null = null;

/** A server accepted a connection (core's Server, for every loop). */
export function connectionAccepted(): void {
  if (++accepted < BURST_CONNECTIONS || quietTimer !== null) return;
  acceptedAtArming = accepted;
  // unref: the wait for a quiet gap does not keep the process alive.
  quietTimer = setTimeout(burstMaybeOver, QUIET_SECONDS * 1000);
  quietTimer.unref();
}

function burstMaybeOver(): void {
  if (accepted !== acceptedAtArming) {
    acceptedAtArming = accepted;
    quietTimer!.refresh();
    return;
  }
  quietTimer = null;
  accepted = 0;
  world.taskTracking?.slot?.moderateMemoryPressure?.();
}
