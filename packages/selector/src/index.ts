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
export {
  SelectorEventLoop,
  type ConnectionOptions,
  type ServerOptions,
  type UnixServerOptions,
  type DatagramOptions,
} from './selector-events.js';
export { Server } from './server.js';
export { SelectorSocketTransport, SelectorDatagramTransport } from './transports.js';
export type { AddrInfo, AddrInfoOptions, Family, HostPort, InetSockAddr } from './names.js';
