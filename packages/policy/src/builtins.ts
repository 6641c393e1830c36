/**
 * The built-in backends, registered in the root container at import: 'proactor' (completion
 * based, on node:net: works everywhere, no native addon needed) and 'selector' (readiness
 * based, on the native addon's epoll/kqueue/poll). Their PROACTOR/SELECTOR factories are
 * registered too, so a child container can swap the proactor or selector a loop uses.
 */
import { NetProactor, ProactorEventLoop } from '@loopkit/proactor';
import { container, registerBackend } from './container.js';
import { PROACTOR } from './tokens.js';

if (!container.isRegistered(PROACTOR)) {
  container.register(PROACTOR, { useValue: () => new NetProactor() });
  registerBackend('proactor', (c) => new ProactorEventLoop(c.resolve(PROACTOR)()), {
    loopClass: ProactorEventLoop,
  });
}
