/**
 * `@loopkit/conformance/support`: the protocols and helpers the suites use (a recording
 * protocol, an echo, fd counting, a throwaway PKI made with the `openssl` command), for a
 * backend's own fault and peer tests.
 */
export * from './net.js';
export * from './tls-certs.js';
export * from './escape.js';
export * from './iterations.js';
