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
// The option types and Server are core's, shared by every loop.
export { SelectorEventLoop } from './selector-events.js';
export { SelectorSocketTransport, SelectorDatagramTransport } from './transports.js';
export { SelectorPipeTransport } from './pipes.js';
export { UnixSubprocessTransport } from './subprocess.js';
export { ChildWatcher } from './child-watcher.js';

// TLS for every loop: core imports no engine, so the backend hands it @loopkit/uv's
// OpenSSL engine when the addon loaded (null otherwise: TLS then fails with a clear error).
import { registerTLSProvider } from '@loopkit/core';
import { tlsProvider } from '@loopkit/uv';
if (tlsProvider !== null) registerTLSProvider(tlsProvider);
