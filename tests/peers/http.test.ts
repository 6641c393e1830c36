/**
 * examples/http (an HTTP/1.1 server on loopkit Protocols) on every loop, against peers that
 * did not come from here: wrk (100 keep-alive connections, then Connection: close churn),
 * Node's own HTTP client (llhttp's strict response parser), and raw sockets for pipelining,
 * HTTP/1.0 and malformed requests.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { AbstractServer } from 'loopkit';
import { createHttpServer, serverPort, type HttpRequest } from '../../examples/http/server.js';
import { Child, LOOPS, missingBinary, onLoop, within, type PeerLoop } from './helpers.js';

const WRK = '/usr/bin/wrk';
const missingWrk = missingBinary(WRK);
if (missingWrk !== null) console.warn(`[peers] skipping the wrk tests: ${missingWrk}`);

/** Run `body` with the example server listening on the loop; the server is closed after. */
async function withServer(
  subject: PeerLoop,
  body: (port: number, server: AbstractServer) => Promise<void>,
  handler?: (request: HttpRequest) => { status?: number; headers?: Record<string, string>; body?: string | Uint8Array },
): Promise<Array<Record<string, unknown>>> {
  return await onLoop(subject, async (_loop, reports) => {
    const server = await createHttpServer('127.0.0.1', 0, handler);
    try {
      await body(serverPort(server), server);
    } finally {
      server.close();
      await within(10, 'server.waitClosed()', server.waitClosed());
    }
    return reports;
  });
}

interface WrkResult {
  requests: number;
  socketErrors: string | null;
  non2xx: number;
  requestsPerSec: number;
}

/** The parts of wrk's report the tests and the bench look at. */
function parseWrk(output: string): WrkResult {
  const requests = /^\s*(\d+) requests in /m.exec(output);
  const rate = /^Requests\/sec:\s+([\d.]+)/m.exec(output);
  const errors = /^\s*Socket errors: (.*)$/m.exec(output);
  const non2xx = /^\s*Non-2xx or 3xx responses: (\d+)/m.exec(output);
  if (requests === null || rate === null) throw new Error(`unexpected wrk output:\n${output}`);
  return {
    requests: Number(requests[1]),
    requestsPerSec: Number(rate[1]),
    socketErrors: errors === null ? null : errors[1]!,
    non2xx: non2xx === null ? 0 : Number(non2xx[1]),
  };
}

async function runWrk(port: number, extra: string[], seconds: number): Promise<WrkResult & { output: string }> {
  const wrk = new Child(WRK, ['-t', '2', '-c', '100', '-d', `${seconds}s`, '--timeout', '5s', ...extra, `http://127.0.0.1:${port}/`]);
  try {
    const exit = await wrk.wait(seconds + 20);
    expect(exit, wrk.describe()).toEqual({ code: 0, signal: null });
  } finally {
    await wrk.stop();
  }
  return { ...parseWrk(wrk.stdout), output: wrk.stdout };
}

interface RawResponse {
  version: string;
  status: number;
  headers: Map<string, string>;
  body: Buffer;
}

/** Parse every complete response in `data` (Content-Length framing, as the server writes). */
function parseResponses(data: Buffer, headRequests = new Set<number>()): RawResponse[] {
  const out: RawResponse[] = [];
  let at = 0;
  while (at < data.length) {
    const end = data.indexOf('\r\n\r\n', at);
    if (end === -1) throw new Error(`incomplete response head: ${JSON.stringify(data.toString('latin1', at))}`);
    const [statusLine, ...lines] = data.toString('latin1', at, end).split('\r\n');
    const m = /^(HTTP\/1\.[01]) (\d{3}) [^\r\n]*$/.exec(statusLine!);
    if (m === null) throw new Error(`bad status line ${JSON.stringify(statusLine)}`);
    const headers = new Map<string, string>();
    for (const line of lines) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).toLowerCase();
      if (headers.has(name)) throw new Error(`duplicate header ${name}`);
      headers.set(name, line.slice(colon + 1).trim());
    }
    const length = headRequests.has(out.length) ? 0 : Number(headers.get('content-length') ?? 0);
    const body = data.subarray(end + 4, end + 4 + length);
    if (body.length !== length) throw new Error(`truncated body: ${body.length} of ${length}`);
    out.push({ version: m[1]!, status: Number(m[2]), headers, body });
    at = end + 4 + length;
  }
  return out;
}

/** Send `chunks` (with a pause between them) on a raw socket; everything received until the server closes. */
async function rawExchange(port: number, chunks: Array<string | Buffer>, { endAfter = false } = {}): Promise<{ data: Buffer; closedByServer: boolean }> {
  const sock = net.connect(port, '127.0.0.1');
  const received: Buffer[] = [];
  let closedByServer = false;
  const done = new Promise<void>((resolve, reject) => {
    sock.on('data', (d) => received.push(d));
    sock.on('end', () => {
      closedByServer = true;
      sock.end();
    });
    sock.on('close', () => resolve());
    sock.on('error', reject);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    });
    for (const chunk of chunks) {
      sock.write(chunk);
      await new Promise((r) => setTimeout(r, 20));
    }
    if (endAfter) sock.end();
    await within(10, 'the server closing the connection', done);
  } finally {
    sock.destroy();
  }
  return { data: Buffer.concat(received), closedByServer };
}

function nodeRequest(
  agent: http.Agent,
  port: number,
  options: http.RequestOptions & { body?: Buffer },
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, agent, ...options }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks), reused: req.reusedSocket }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

for (const subject of LOOPS) {
  describe.skipIf(subject.missing !== null)(`examples/http on ${subject.name}`, { timeout: 60000 }, () => {
    it.skipIf(missingWrk !== null)('wrk -t2 -c100 keep-alive, then Connection: close churn: no socket errors, all 2xx', async () => {
      const reports = await withServer(subject, async (port) => {
        const keepAlive = await runWrk(port, [], 2);
        expect(keepAlive.socketErrors, keepAlive.output).toBeNull();
        expect(keepAlive.non2xx, keepAlive.output).toBe(0);
        expect(keepAlive.requests).toBeGreaterThan(1000);
        const churn = await runWrk(port, ['-H', 'Connection: close'], 1);
        expect(churn.socketErrors, churn.output).toBeNull();
        expect(churn.non2xx, churn.output).toBe(0);
        expect(churn.requests).toBeGreaterThan(100);
      });
      expect(reports).toEqual([]);
    });

    it("Node's HTTP client: keep-alive reuse, exact Content-Length for 0 B to 4 MiB, HEAD, POST echo", async () => {
      const reports = await withServer(subject, async (port) => {
        const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
        try {
          const hello = await nodeRequest(agent, port, { path: '/' });
          expect(hello.status).toBe(200);
          expect(hello.body.toString()).toBe('Hello, World!');
          expect(hello.headers['content-length']).toBe('13');
          expect(hello.headers.connection).toBeUndefined();
          for (const n of [0, 1, 65535, 65536, 65537, 1 << 20, 4 << 20]) {
            const r = await nodeRequest(agent, port, { path: `/bytes/${n}` });
            expect(r.status).toBe(200);
            expect(r.headers['content-length']).toBe(String(n));
            expect(r.body.length).toBe(n);
            expect(r.body.every((b, i) => b === i % 251)).toBe(true);
            expect(r.reused).toBe(true); // one connection for everything
          }
          const head = await nodeRequest(agent, port, { path: '/bytes/1000', method: 'HEAD' });
          expect(head.headers['content-length']).toBe('1000');
          expect(head.body.length).toBe(0);
          const payload = randomBytes(3 << 20);
          const echo = await nodeRequest(agent, port, { path: '/echo', method: 'POST', body: payload, headers: { 'Content-Type': 'application/x-test' } });
          expect(echo.status).toBe(200);
          expect(echo.headers['content-type']).toBe('application/x-test');
          expect(echo.body.equals(payload)).toBe(true);
          expect((await nodeRequest(agent, port, { path: '/nope' })).status).toBe(404);
          expect((await nodeRequest(agent, port, { path: '/', method: 'DELETE' })).status).toBe(405);
          expect((await nodeRequest(agent, port, { path: '/' })).reused).toBe(true);
        } finally {
          agent.destroy();
        }
      });
      expect(reports).toEqual([]);
    });

    it('pipelined requests (one write, and split at odd points) are answered in order; Connection: close closes after its response', async () => {
      const reports = await withServer(subject, async (port) => {
        const requests = [
          'GET / HTTP/1.1\r\nHost: x\r\n\r\n',
          'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nfirst',
          'HEAD /bytes/7 HTTP/1.1\r\nHost: x\r\n\r\n',
          'GET /bytes/3 HTTP/1.1\r\nHost: x\r\n\r\n',
          'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nConnection: close\r\n\r\nsecond',
          // After Connection: close nothing more is answered.
          'GET / HTTP/1.1\r\nHost: x\r\n\r\n',
        ];
        const all = Buffer.from(requests.join(''));
        const check = (data: Buffer): void => {
          const responses = parseResponses(data, new Set([2]));
          expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
          expect(responses[0]!.body.toString()).toBe('Hello, World!');
          expect(responses[1]!.body.toString()).toBe('first');
          expect(responses[2]!.headers.get('content-length')).toBe('7');
          expect([...responses[3]!.body]).toEqual([0, 1, 2]);
          expect(responses[4]!.body.toString()).toBe('second');
          expect(responses[4]!.headers.get('connection')).toBe('close');
          expect(responses.slice(0, 4).every((r) => !r.headers.has('connection'))).toBe(true);
        };
        const once = await rawExchange(port, [all]);
        expect(once.closedByServer).toBe(true);
        check(once.data);
        // The same bytes cut mid-request-line, mid-header, mid-CRLFCRLF and mid-body.
        const cuts = [3, 30, 45, 70, 71, 120, all.length - 40];
        const pieces = cuts.map((c, i) => all.subarray(i === 0 ? 0 : cuts[i - 1], c)).concat([all.subarray(cuts.at(-1))]);
        const split = await rawExchange(port, pieces);
        expect(split.closedByServer).toBe(true);
        check(split.data);
      });
      expect(reports).toEqual([]);
    });

    it('HTTP/1.0 closes by default and keeps alive on request; EOF after complete requests still answers them', async () => {
      const reports = await withServer(subject, async (port) => {
        const plain = await rawExchange(port, ['GET / HTTP/1.0\r\n\r\n']);
        expect(plain.closedByServer).toBe(true);
        const [r] = parseResponses(plain.data);
        expect(r!.headers.get('connection')).toBe('close');
        expect(r!.body.toString()).toBe('Hello, World!');

        const kept = await rawExchange(port, ['GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /bytes/2 HTTP/1.0\r\n\r\n']);
        const [a, b] = parseResponses(kept.data);
        expect(a!.headers.get('connection')).toBe('keep-alive');
        expect(b!.headers.get('connection')).toBe('close');
        expect(b!.body.length).toBe(2);

        // Client half-closes right after two requests: both are answered, then the server closes.
        const eof = await rawExchange(port, ['GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHo'], { endAfter: true });
        expect(eof.closedByServer).toBe(true);
        expect(parseResponses(eof.data).map((x) => x.status)).toEqual([200, 200]);
      });
      expect(reports).toEqual([]);
    });

    it('malformed requests get 4xx/5xx with Connection: close, and the server serves on', async () => {
      const reports = await withServer(subject, async (port) => {
        const cases: Array<[string | Buffer, number]> = [
          ['NONSENSE\r\n\r\n', 400],
          ['GET / HTTP/1.1\r\n\r\n', 400], // no Host
          ['GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n', 400],
          ['GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n', 400],
          ['GET / HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n', 400],
          ['POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 501],
          ['GET / HTTP/2.0\r\nHost: x\r\n\r\n', 505],
          ['POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n', 413],
          [Buffer.from(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(70 * 1024)}\r\n\r\n`), 431],
        ];
        for (const [request, status] of cases) {
          const r = await rawExchange(port, [request]);
          expect(r.closedByServer).toBe(true);
          const [response] = parseResponses(r.data);
          expect(response!.status, String(request).slice(0, 60)).toBe(status);
          expect(response!.headers.get('connection')).toBe('close');
        }
        // Headers that never end get 431 without waiting for the end.
        const endless = await rawExchange(port, ['GET / HTTP/1.1\r\nHost: x\r\n', `X-A: ${'b'.repeat(40 * 1024)}\r\n`, `X-B: ${'b'.repeat(40 * 1024)}\r\n`]);
        expect(parseResponses(endless.data)[0]!.status).toBe(431);
        const ok = await rawExchange(port, ['GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n']);
        expect(parseResponses(ok.data)[0]!.status).toBe(200);
      });
      expect(reports).toEqual([]);
    });

    it('a client that does not read pauses the server (write flow control), which then finishes every response', async () => {
      const reports = await withServer(subject, async (port) => {
        // 64 pipelined 1 MiB responses to a client that reads nothing at first.
        const count = 64;
        const request = 'GET /bytes/1048576 HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(count - 1) + 'GET /bytes/1048576 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
        const sock = net.connect(port, '127.0.0.1');
        const received: Buffer[] = [];
        let total = 0;
        const closed = new Promise<void>((resolve, reject) => {
          sock.on('close', () => resolve());
          sock.on('error', reject);
        });
        try {
          await new Promise<void>((resolve) => sock.once('connect', resolve));
          sock.pause();
          sock.write(request);
          await new Promise((r) => setTimeout(r, 300));
          sock.on('data', (d: Buffer) => {
            received.push(d);
            total += d.length;
          });
          sock.resume();
          await within(30, '64 MiB of pipelined responses', closed);
        } finally {
          sock.destroy();
        }
        const responses = parseResponses(Buffer.concat(received));
        expect(responses.length).toBe(count);
        for (const r of responses) {
          expect(r.status).toBe(200);
          expect(r.body.length).toBe(1 << 20);
          expect(r.body[1000]).toBe(1000 % 251);
        }
        expect(total).toBeGreaterThan(count << 20);
      });
      expect(reports).toEqual([]);
    });

    it('the built command line (node examples/dist/http/server.js --loop=...) serves and exits 0 on SIGTERM', async () => {
      const built = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../examples/dist/http/server.js');
      expect(fs.existsSync(built), `${built} is missing: run tsc -b`).toBe(true);
      const server = new Child(process.execPath, [built, '--port=0', `--loop=${subject.name}`]);
      try {
        const [, port, loopClass] = await server.waitFor(/listening on http:\/\/127\.0\.0\.1:(\d+) \((\w+)\)/, 15);
        expect(loopClass).toBe(subject.name);
        const agent = new http.Agent({ keepAlive: true });
        try {
          const r = await nodeRequest(agent, Number(port), { path: '/' });
          expect(r.body.toString()).toBe('Hello, World!');
        } finally {
          agent.destroy();
        }
        server.proc.kill('SIGTERM');
        expect(await server.wait(10), server.describe()).toEqual({ code: 0, signal: null });
      } finally {
        await server.stop();
      }
    });

    it('a handler that throws gets a 500 with Connection: close, is reported once, and the server serves on', async () => {
      const boom = new Error('handler boom');
      const reports = await withServer(
        subject,
        async (port) => {
          const bad = await rawExchange(port, ['GET /boom HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n']);
          const responses = parseResponses(bad.data);
          expect(responses.map((r) => r.status)).toEqual([500]);
          expect(responses[0]!.headers.get('connection')).toBe('close');
          const good = await rawExchange(port, ['GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n']);
          expect(parseResponses(good.data)[0]!.status).toBe(200);
        },
        (request) => {
          if (request.target === '/boom') throw boom;
          return { body: 'fine' };
        },
      );
      expect(reports.length).toBe(1);
      expect(reports[0]!.message).toBe('HTTP handler failed');
      expect(reports[0]!.exception).toBe(boom);
    });
  });
}
