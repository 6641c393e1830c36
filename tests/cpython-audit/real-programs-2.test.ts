/**
 * More programs of the kinds users port from asyncio, each run side by side with its Python
 * original (programs/*.py, by /usr/bin/python3 at test time) and compared line by line:
 * events in order, errors' types and messages. Where the program has two ends, each loopkit
 * end also faces the Python one. The ports are programs/*.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { run } from 'loopkit';
import { onEachLoop, runIn } from './loops.js';
import { certDir, pythonMissing, runPython } from './programs/python.js';
import * as crawler from './programs/crawler.js';
import * as limits from './programs/limits.js';
import * as mtls from './programs/mtls.js';
import * as starttls from './programs/starttls.js';
import * as supervisor from './programs/supervisor.js';

/**
 * mtls.py's output where the server is loopkit's, two known differences. asyncio's server
 * (3.11 to 3.13, sslproto's _fatal_error) drops the connection of a client that sent no
 * certificate without sending the alert it made, so that client reads b''; loopkit's server
 * sends it (as Node's and `openssl s_server` do), so the client, Python's as loopkit's, fails
 * as OpenSSL says why. And asyncio logs a failed handshake (an OSError) only in debug mode,
 * where API.md has loopkit's server report it: the two refused clients are two reports.
 */
function withLoopkitServer(lines: string[]): string[] {
  return lines.flatMap((line) =>
    line === 'client localhost without cert: '
      ? ['client localhost without cert: read failed SSLError TLSV13_ALERT_CERTIFICATE_REQUIRED', 'client localhost without cert: wait_closed SSLError TLSV13_ALERT_CERTIFICATE_REQUIRED']
      : line === 'server: reports 0'
        ? ['server: reports 2']
        : [line],
  );
}

if (pythonMissing !== null) console.warn(`[real-programs-2] skipping: ${pythonMissing}`);

describe.skipIf(pythonMissing !== null)('real programs 2, side by side with Python', () => {
  let reference: Record<string, string[]> = {};
  beforeAll(async () => {
    const dir = certDir();
    const [tls, mutual, supervised, limited, crawled] = await Promise.all([
      runPython('starttls.py', [dir, 'both']).lines,
      runPython('mtls.py', [dir, 'both']).lines,
      runPython('supervisor.py', []).lines,
      runPython('limits.py', []).lines,
      runPython('crawler.py', []).lines,
    ]);
    reference = { starttls: tls, mtls: mutual, supervisor: supervised, limits: limited, crawler: crawled };
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

  onEachLoop('TLS server requiring client certificates, SNI, ALPN', (make) => {
    it('both ends in loopkit print what mtls.py prints', async () => {
      expect(await runIn(make, (_loop, reports) => mtls.both(certDir(), reports))).toEqual(withLoopkitServer(reference.mtls));
    });

    it('loopkit client against the Python server', async () => {
      const python = runPython('mtls.py', [certDir(), 'server']);
      const port = await python.port;
      const events: string[] = [];
      await runIn(make, () => mtls.client(port, certDir(), events));
      expect([...(await python.lines), ...events]).toEqual(reference.mtls);
    });

    it('Python client against the loopkit server', async () => {
      const events: string[] = [];
      let python: Promise<string[]> | null = null;
      await runIn(make, async (_loop, reports) => {
        await mtls.serve(certDir(), events, (port) => {
          python = runPython('mtls.py', [certDir(), 'client', String(port)]).lines;
        });
        events.push(`server: reports ${reports.length}`);
      });
      expect(python).not.toBeNull();
      expect([...events, ...(await python!)]).toEqual(withLoopkitServer(reference.mtls));
    });
  });

  onEachLoop('stream server with a limit', (make) => {
    it('readline over the limit, readuntil with two separators and over the limit, readexactly cut short: as limits.py', async () => {
      expect(await runIn(make, () => limits.main())).toEqual(reference.limits);
    });
  });

  onEachLoop('TaskGroup crawler', (make) => {
    it('per-page timeouts, siblings cancelled on the first error, ExceptionGroup shapes, a whole crawl timed out: as crawler.py', async () => {
      // Python 3.11 lets a CancelledError out of `timeout(TaskGroup)` where 3.12 and 3.13 raise TimeoutError
      const expected = reference.crawler!.map((line) => (line === 'whole crawl: CancelledError' ? 'whole crawl: TimeoutError' : line));
      expect(await runIn(make, () => crawler.main())).toEqual(expected);
    });
  });

  onEachLoop('process supervisor', (make) => {
    it('restarts with back-off, terminate then kill, signals as negative codes, cleanup at run() shutdown: as supervisor.py', async () => {
      const printed: string[] = [];
      await run(() => supervisor.main((line) => printed.push(line)), { loopFactory: make });
      expect(printed).toEqual(reference.supervisor);
    });
  });
});
