/**
 * The one contract an event-loop backend implements (mio's sys/mod.rs; asyncio's split
 * between base_events.py and selector_events.py/proactor_events.py).
 *
 * BaseEventLoop owns everything portable: the ready queue, the timer heap, the run loop,
 * errors and debug mode. It runs as a guest on Node's own loop and never blocks the
 * thread, so a backend answers two questions: "what I/O is ready right now?" (ioPoll,
 * called at step 3 of every iteration) and "tell me when some may be" (ioStart's wake).
 * Every method has a do-nothing default in BaseEventLoop: a loop without I/O (TestLoop)
 * overrides none of them. TestLoop also overrides `time()` and `idle()`: the two hooks
 * that decide what "now" and "waiting" mean.
 */
export interface EventLoopBackend {
  /**
   * Collect the I/O that is ready now, without blocking, and turn it into ready callbacks
   * (`callSoon`) or completed futures. Called once per iteration, between dropping
   * cancelled timers and collecting due ones. A backend may skip its syscall while it knows
   * nothing new can be there (its watcher has not fired), as long as a busy loop still
   * polls within a bounded time: `iterationScheduledAt` (BaseEventLoop) gives the time
   * without another clock read. Under load the watcher fires only once per host slice, so
   * that bound is what every round trip waits on top of its own while callbacks keep the
   * loop busy (bench/echo.js's callSoon storm): keep it small against a round trip (a few
   * µs, half of it is added on average), or poll every iteration while I/O keeps arriving.
   */
  ioPoll(): void;

  /**
   * The loop starts running: arm host watchers (uv_poll, socket events) that call
   * `wake()` whenever I/O may be ready. `wake` may be called at any time and any number
   * of times; it is cheap while the loop is busy. It queues the loop's turn as the next
   * microtask, as a host callback wants (a task's own code wakes the loop through
   * callSoon, which waits for its microtasks). Armed watchers keep the process alive.
   */
  ioStart(wake: () => void): void;

  /** The loop stops running: disarm what ioStart armed, so a stopped loop keeps nothing alive. */
  ioStop(): void;

  /**
   * The loop closes (it is not running): release OS resources and close the transports
   * and servers it still owns, so their protocols see `connectionLost`.
   */
  ioClose(): void;

  /**
   * Nothing is ready: wait without blocking the thread until `deadline` (loop time in
   * seconds; null = no timer) or until `wake()` (I/O, callSoon, stop) ends the wait.
   * BaseEventLoop arms one host timer; TestLoop jumps its clock to the deadline.
   */
  idle(deadline: number | null): void;
}
