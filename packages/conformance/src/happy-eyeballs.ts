/**
 * Happy eyeballs on createConnection (RFC 8305, asyncio 3.8+'s happy_eyeballs_delay and
 * interleave). A host name "resolves" (the loop's getaddrinfo, replaced as CPython's tests
 * mock it) to a first address whose SYNs are dropped (a listener with a full backlog on
 * loopback) and a second one with a server.
 */
import * as net from 'node:net';
import { expect } from './expect.js';
import { describe, it } from './kit.js';
import { Protocol, TimeoutError, sleep, waitFor, type AbstractEventLoop, type AddrInfo } from '@loopkit/core';
import { uv, uvMissing } from './support/uv.js';
import { withLoop, type LoopUnderTest } from './context.js';
import { Echo, openFds, portOf, type ServerLike } from './support/net.js';

/** A loopback port whose accept queue is full: a connect to it hangs (the kernel drops the SYN). */
async function blackholePort(): Promise<{ port: number; close(): void }> {
  const listener = uv!.socket('inet', 'stream');
  listener.bind({ address: '127.0.0.1', port: 0 });
  listener.listen(0);
  const port = (listener.getsockname() as { port: number }).port;
  // With backlog 0 the queue holds one connection: fill it, and one more SYN waits too.
  const fillers = [net.connect(port, '127.0.0.1'), net.connect(port, '127.0.0.1')];
  for (const f of fillers) f.on('error', () => {});
  await new Promise((resolve) => setTimeout(resolve, 100));
  return {
    port,
    close() {
      for (const f of fillers) f.destroy();
      listener.close();
    },
  };
}

/** Make `loop.getaddrinfo` answer `name` with these loopback addresses (each its own port). */
function resolveTo(loop: AbstractEventLoop, name: string, addrs: Array<{ port: number }>): void {
  const real = (loop as unknown as { getaddrinfo: (...a: unknown[]) => Promise<AddrInfo[]> }).getaddrinfo.bind(loop);
  (loop as unknown as Record<string, unknown>).getaddrinfo = async (host: string, ...rest: unknown[]) => {
    if (host !== name) return real(host, ...rest);
    return addrs.map((a): AddrInfo => ['inet', 'stream', 6, '', { address: '127.0.0.1', family: 'IPv4', port: a.port } as AddrInfo[4]]);
  };
}

export function happyEyeballsSuite(subject: LoopUnderTest): void {
  // The first address is a loopback port with a full accept queue, which only a raw socket can make.
  const it_ = it.skipIf(uvMissing);
  describe('happy eyeballs', () => {
    it_('with happyEyeballsDelay, a second address is tried while the first hangs, and wins', () =>
      withLoop(subject, async (loop) => {
        const hole = await blackholePort();
        const server = (await loop.createServer(() => new Echo(), '127.0.0.1', 0)) as unknown as ServerLike;
        const fdsBefore = openFds();
        try {
          resolveTo(loop, 'eyeballs.test', [{ port: hole.port }, { port: portOf(server) }]);
          // Without the race, the first address is all there is for a long while.
          await expect(waitFor(loop.createConnection(() => new Protocol(), 'eyeballs.test', 1), 0.3)).rejects.toBeInstanceOf(TimeoutError);
          const started = loop.time();
          const [transport] = (await loop.createConnection(() => new Protocol(), 'eyeballs.test', 1, { happyEyeballsDelay: 0.05 })) as [
            { getExtraInfo(n: string): { port: number }; close(): void },
            unknown,
          ];
          expect(loop.time() - started).toBeLessThan(2);
          expect(transport.getExtraInfo('peername').port).toBe(portOf(server));
          transport.close();
          await sleep(0.05);
          // The hanging attempts (the timed-out one and the race's loser) were closed.
          expect(openFds()).toBe(fdsBefore);
        } finally {
          server.close();
          await server.waitClosed();
          hole.close();
        }
      }));

    it_('a refused attempt starts the next one at once, without waiting for the delay', () =>
      withLoop(subject, async (loop) => {
        const server = (await loop.createServer(() => new Echo(), '127.0.0.1', 0)) as unknown as ServerLike;
        const refused = (() => {
          const s = uv!.socket('inet', 'stream');
          s.bind({ address: '127.0.0.1', port: 0 });
          const port = (s.getsockname() as { port: number }).port;
          s.close();
          return port;
        })();
        try {
          resolveTo(loop, 'eyeballs.test', [{ port: refused }, { port: portOf(server) }]);
          const started = loop.time();
          const [transport] = (await loop.createConnection(() => new Protocol(), 'eyeballs.test', 1, { happyEyeballsDelay: 30 })) as [
            { close(): void },
            unknown,
          ];
          expect(loop.time() - started).toBeLessThan(5);
          transport.close();
        } finally {
          server.close();
          await server.waitClosed();
        }
      }));

    it_('when every attempt fails, the error says so (one error when they agree)', () =>
      withLoop(subject, async (loop) => {
        const ports = [0, 0].map(() => {
          const s = uv!.socket('inet', 'stream');
          s.bind({ address: '127.0.0.1', port: 0 });
          const port = (s.getsockname() as { port: number }).port;
          s.close();
          return { port };
        });
        resolveTo(loop, 'eyeballs.test', ports);
        await expect(loop.createConnection(() => new Protocol(), 'eyeballs.test', 1, { happyEyeballsDelay: 0.01 })).rejects.toMatchObject({
          code: 'ECONNREFUSED',
        });
      }));

    it('bad happyEyeballsDelay and interleave values are TypeErrors naming them', () =>
      withLoop(subject, async (loop) => {
        await expect(loop.createConnection(() => new Protocol(), '127.0.0.1', 1, { happyEyeballsDelay: -1 })).rejects.toThrow(
          'happyEyeballsDelay must be a non-negative number of seconds or null, got -1',
        );
        await expect(loop.createConnection(() => new Protocol(), '127.0.0.1', 1, { interleave: 0 })).rejects.toThrow(
          'interleave must be a positive integer or null, got 0',
        );
      }));
  });
}
