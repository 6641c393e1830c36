/**
 * A custom backend, start to finish (the guide in packages/policy/README.md walks through
 * it). Its "I/O" is Node EventEmitter events: addEmitterReader(emitter, event, cb) calls
 * cb on the loop each time the event fires, the way a selector loop's addReader calls back
 * when a socket is readable. It implements the backend contract of core's backend.ts and
 * registers itself under the name 'emitter', so LOOPKIT_BACKEND=emitter selects it.
 */
import type { EventEmitter } from 'node:events';
import { BaseEventLoop, registerBackend } from 'loopkit';

type Listener = (...args: unknown[]) => void;

export class EmitterLoop extends BaseEventLoop {
  /** Events that fired since the last ioPoll, as callbacks to schedule. */
  private inbox: Array<() => void> = [];
  private wakeLoop: (() => void) | null = null;
  private readonly watches = new Map<EventEmitter, Map<string, Listener>>();

  /** Call `callback(...eventArgs)` on this loop each time `emitter` emits `event`. */
  addEmitterReader(emitter: EventEmitter, event: string, callback: (...args: any[]) => unknown): void {
    if (typeof callback !== 'function') throw new TypeError('callback must be a function');
    this.removeEmitterReader(emitter, event);
    const listener: Listener = (...args) => {
      this.inbox.push(() => callback(...args));
      this.wakeLoop?.();
    };
    emitter.on(event, listener);
    if (!this.watches.has(emitter)) this.watches.set(emitter, new Map());
    this.watches.get(emitter)!.set(event, listener);
  }

  removeEmitterReader(emitter: EventEmitter, event: string): boolean {
    const listener = this.watches.get(emitter)?.get(event);
    if (listener === undefined) return false;
    emitter.off(event, listener);
    this.watches.get(emitter)!.delete(event);
    return true;
  }

  // ---- the backend contract (core/src/backend.ts) ----

  /** Step 3 of each iteration: what fired becomes ready callbacks. Never blocks. */
  override ioPoll(): void {
    const fired = this.inbox;
    this.inbox = [];
    for (const callback of fired) this.callSoon(callback);
  }

  /** Running: an event wakes an idle loop. Events that fired before the start count too. */
  override ioStart(wake: () => void): void {
    this.wakeLoop = wake;
    if (this.inbox.length > 0) wake();
  }

  /** Stopped: events queue up until the loop runs again. */
  override ioStop(): void {
    this.wakeLoop = null;
  }

  /** Closed: let go of every emitter. */
  override ioClose(): void {
    for (const [emitter, events] of this.watches) for (const [event, listener] of events) emitter.off(event, listener);
    this.watches.clear();
    this.inbox = [];
  }
}

registerBackend('emitter', () => new EmitterLoop(), { loopClass: EmitterLoop });
