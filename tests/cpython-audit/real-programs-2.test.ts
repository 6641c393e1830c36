/**
 * More programs of the kinds users port from asyncio, each run side by side with its Python
 * original (programs/*.py, by /usr/bin/python3 at test time) and compared line by line:
 * events in order, errors' types and messages. Where the program has two ends, each loopkit
 * end also faces the Python one. The ports are programs/*.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { onEachLoop, runIn } from './loops.js';
import { certDir, pythonMissing, runPython } from './programs/python.js';
import * as starttls from './programs/starttls.js';

if (pythonMissing !== null) console.warn(`[real-programs-2] skipping: ${pythonMissing}`);

describe.skipIf(pythonMissing !== null)('real programs 2, side by side with Python', () => {
  let reference: Record<string, string[]> = {};
  beforeAll(async () => {
    const dir = certDir();
    const [tls] = await Promise.all([runPython('starttls.py', [dir, 'both']).lines]);
    reference = { starttls: tls };
  }, 60_000);

  onEachLoop('STARTTLS line protocol', (make) => {
    it('both ends in loopkit print what starttls.py prints', async () => {
      expect(await runIn(make, () => starttls.both(certDir()))).toEqual(reference.starttls);
    });

    it('loopkit client against the Python server', async () => {
      const python = runPython('starttls.py', [certDir(), 'server']);
      const port = await python.port;
      const events: string[] = [];
      await runIn(make, () => starttls.client(port, starttls.contexts(certDir()).client, events));
      expect([...(await python.lines), ...events]).toEqual(reference.starttls);
    });

    it('Python client against the loopkit server', async () => {
      const events: string[] = [];
      let python: Promise<string[]> | null = null;
      await runIn(make, () => starttls.serve(starttls.contexts(certDir()).server, events, (port) => {
        python = runPython('starttls.py', [certDir(), 'client', String(port)]).lines;
      }));
      expect(python).not.toBeNull();
      expect([...events, ...(await python!)]).toEqual(reference.starttls);
    });
  });
});
