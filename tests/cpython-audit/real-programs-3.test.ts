/**
 * Programs of kinds real-programs and real-programs-2 do not cover, each run side by side
 * with its Python original (programs/*.py, by /usr/bin/python3 at test time) and compared
 * line by line: events in order, errors' types and messages, values. The ports are
 * programs/*.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { run } from 'loopkit';
import { onEachLoop, runIn } from './loops.js';
import { pythonMissing, runPython } from './programs/python.js';
import * as executor from './programs/executor.js';
import * as keepalive from './programs/keepalive.js';
import * as relay from './programs/relay.js';
import * as shutdown from './programs/shutdown.js';

if (pythonMissing !== null) console.warn(`[real-programs-3] skipping: ${pythonMissing}`);

describe.skipIf(pythonMissing !== null)('real programs 3, side by side with Python', () => {
  let reference: Record<string, string[]> = {};
  beforeAll(async () => {
    const [relayed, shut, served, threaded] = await Promise.all(['relay.py', 'shutdown.py', 'keepalive.py', 'executor.py'].map((script) => runPython(script, []).lines));
    reference = { relay: relayed!, shutdown: shut!, keepalive: served!, executor: threaded! };
  }, 60_000);

  onEachLoop('TCP relay', (make) => {
    it('two copy tasks per client, half-close passed on, the pair cancelled on a failure, no upstream: as relay.py', async () => {
      expect(await runIn(make, () => relay.main())).toEqual(reference.relay);
    });
  });

  onEachLoop('graceful shutdown on SIGTERM', (make) => {
    it('workers cancelled and gathered with returnExceptions, each ending as in shutdown.py', async () => {
      expect(await runIn(make, () => shutdown.main())).toEqual(reference.shutdown);
    });
  });

  onEachLoop('HTTP/1.1 keep-alive server', (make) => {
    it('pipelined requests answered in order, Connection: close, a body cut short, 431 over the limit, 400: as keepalive.py', async () => {
      expect(await runIn(make, () => keepalive.main())).toEqual(reference.keepalive);
    });
  });

  onEachLoop('blocking work on threads with cancellation', (make) => {
    it('toThread gathered, asCompleted timing out, waitFor cancelling, a queued job withdrawn: as executor.py', async () => {
      const printed: string[] = [];
      // run() as asyncio.run: its shutdown of the default executor waits for the gated jobs
      await run(() => executor.main((line) => printed.push(line)), { loopFactory: make });
      expect(printed).toEqual(reference.executor);
    });
  });
});
