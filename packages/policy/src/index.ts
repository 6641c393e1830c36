/**
 * @loopkit/policy: which loop a program gets. A backend registry on tsyringe, the default
 * policy (platform -> backend, LOOPKIT_BACKEND override) and asyncio's policy functions.
 * Importing it installs the policy into core: `new Future()` outside a running loop binds
 * to this thread's current loop.
 */
import './tsyringe.js';
import { _setCurrentLoopResolver, _setCurrentLoopSetter, _setDefaultLoopFactory } from '@loopkit/core';
import { getEventLoopPolicy } from './policy.js';
import './builtins.js';

export { EventLoop } from './builtins.js';

export { getRunningLoop } from '@loopkit/core';
export {
  container,
  createBackendContainer,
  registerBackend,
  availableBackends,
  describeBackendChoice,
} from './container.js';
export { chooseBackend, selectBackend, type BackendChoice, type Selection } from './choose.js';
export { BackendRegistry, type Backend, type BackendInfo, type BackendOptions } from './registry.js';
export { BACKENDS, CONTAINER, LOOP_FACTORY, PROACTOR, SELECTOR, type BackendFactory, type LoopFactory } from './tokens.js';
export {
  AbstractEventLoopPolicy,
  DefaultEventLoopPolicy,
  getEventLoopPolicy,
  setEventLoopPolicy,
  getEventLoop,
  setEventLoop,
  newEventLoop,
  type EventLoopPolicy,
} from './policy.js';

// new Future() outside a running loop binds to this thread's current loop;
// run() and Runner without a loopFactory make their loop with the policy, and make it the
// current loop until they close (asyncio.Runner's set_event_loop).
_setCurrentLoopResolver(() => getEventLoopPolicy().getEventLoop());
_setDefaultLoopFactory(() => getEventLoopPolicy().newEventLoop());
_setCurrentLoopSetter((loop) => getEventLoopPolicy().setEventLoop(loop));
