/**
 * What createServer resolves to (asyncio's AbstractServer). Backends implement it; startServer
 * returns it unchanged.
 */
import type { AbstractEventLoop } from './events.js';

export interface AbstractServer {
  /** Stop listening; connections already accepted stay open. */
  close(): void;
  /** Resolves once the server is closed and its connections are gone. */
  waitClosed(): Promise<void>;
  /** Accept connections until the server is closed (or the awaiting task cancelled). */
  serveForever(): Promise<void>;
  /** Start accepting (idempotent); for servers made with `startServing: false`. */
  startServing(): Promise<void>;
  isServing(): boolean;
  /** The listening sockets. */
  readonly sockets: readonly unknown[];
  getLoop(): AbstractEventLoop;
}
