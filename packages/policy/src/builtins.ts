/**
 * The built-in backends, registered in the root container at import: 'selector' (readiness,
 * on the native addon's epoll/kqueue/poll), 'proactor' (completions, on node:net: works
 * everywhere, no addon needed) and 'uring' (completions on io_uring: Linux with the addon,
 * picked only by name, LOOPKIT_BACKEND=uring; never the automatic choice). Their SELECTOR/PROACTOR factories are registered too, so a
 * child container can swap the selector or proactor their loops use.
 */
import { DefaultSelector, SelectorEventLoop } from '@loopkit/selector';
import { NetProactor, ProactorEventLoop, UringEventLoop, UringProactor } from '@loopkit/proactor';
import { container, registerBackend } from './container.js';
import { PROACTOR, SELECTOR } from './tokens.js';

let selectorProblem: string | null | undefined;

/** Whether a selector can be made here (the addon loaded, the OS has one); asked once. */
function probeSelector(): string | null {
  if (selectorProblem === undefined) {
    try {
      new DefaultSelector().close();
      selectorProblem = null;
    } catch (error) {
      selectorProblem = `no selector: ${error instanceof Error ? error.message : String(error)}`;
    }
  }
  return selectorProblem;
}

if (!container.isRegistered(PROACTOR)) {
  container.register(SELECTOR, { useValue: () => new DefaultSelector() });
  container.register(PROACTOR, { useValue: () => new NetProactor() });
  registerBackend('selector', (c) => new SelectorEventLoop(c.resolve(SELECTOR)()), {
    loopClass: SelectorEventLoop,
    probe: probeSelector,
  });
  registerBackend('proactor', (c) => new ProactorEventLoop(c.resolve(PROACTOR)()), {
    loopClass: ProactorEventLoop,
  });
  registerBackend('uring', () => new UringEventLoop(), {
    platforms: ['linux'],
    loopClass: UringEventLoop,
    // null once a ring could be set up here; else why not (no addon, io_uring disabled, ...).
    probe: () => UringProactor.problem(),
  });
}

/**
 * asyncio 3.13's `EventLoop`: an alias of the loop class this platform runs best, as
 * `asyncio.EventLoop` is SelectorEventLoop on Unix and ProactorEventLoop on Windows:
 * SelectorEventLoop where a selector can be made, else ProactorEventLoop (Windows, or no
 * native addon). Fixed at import: LOOPKIT_BACKEND and registered backends choose what
 * `newEventLoop()` makes, not this (`run(main, {loopFactory: () => new EventLoop()})`).
 */
export const EventLoop: typeof SelectorEventLoop | typeof ProactorEventLoop =
  process.platform !== 'win32' && probeSelector() === null ? SelectorEventLoop : ProactorEventLoop;
