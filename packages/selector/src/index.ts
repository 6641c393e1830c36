/**
 * @loopkit/selector: the selectors module (epoll, kqueue, poll through @loopkit/uv) and
 * SelectorEventLoop, the readiness-based loop with its socket transports and servers.
 */
export {
  EVENT_READ,
  EVENT_WRITE,
  SelectorKey,
  KeyError,
  BaseSelector,
  EpollSelector,
  KqueueSelector,
  PollSelector,
  DefaultSelector,
  fileobjToFd,
  type FileObject,
} from './selectors.js';
// The option types and Server share their names with @loopkit/proactor's (the umbrella
// package re-exports both): the loop's method signatures carry the types, Server gets a prefix.
export { SelectorEventLoop } from './selector-events.js';
export { SelectorSocketTransport, SelectorDatagramTransport } from './transports.js';
