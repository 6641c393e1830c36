/**
 * loopkit: what an application imports. The public names of every package: core (futures,
 * tasks, helpers, streams, run), the sockets of the native binding, the selector and
 * proactor loops, and the policy (which loop you get, backend registry).
 */
import '@loopkit/policy';

export * from '@loopkit/core';
export { socket, socketpair, isAvailable, loadError, Socket, type SocketType, type SocketFamily } from '@loopkit/uv';
export * from '@loopkit/selector';
export * from '@loopkit/proactor';
export * from '@loopkit/policy';
