/**
 * A minimal HTTP/1.1 server on loopkit Protocols (no streams, no Node `http`): one
 * HttpProtocol per connection parses requests out of dataReceived, calls a synchronous
 * handler, and writes each response with an exact Content-Length.
 *
 * - keep-alive: HTTP/1.1 connections stay open unless the request says `Connection: close`;
 *   HTTP/1.0 ones only with `Connection: keep-alive`. A closing response carries
 *   `Connection: close` and the transport closes once it is flushed.
 * - pipelining: every complete request in the buffer is answered, in order.
 * - request bodies: Content-Length only (Transfer-Encoding gets 501 and a close).
 * - flow control: when the transport pauses writing (a client that does not read its
 *   responses), the protocol pauses reading and stops answering until it resumes.
 * - malformed requests get 400 (431 for headers over 64 KiB, 413 for bodies over 16 MiB)
 *   and the connection closes.
 *
 * Run it: `node examples/dist/http/server.js [--host=127.0.0.1] [--port=8080] [--backend=NAME | --loop=CLASS]`
 * (`--backend` goes through LOOPKIT_BACKEND and the policy; `--loop=SelectorEventLoop`,
 * `--loop=ProactorEventLoop` or `--loop=UringEventLoop` builds that class directly). It prints
 * `listening on http://HOST:PORT (LoopClass)` and serves until SIGINT/SIGTERM.
 */
import { pathToFileURL } from 'node:url';
import {
  getRunningLoop,
  newEventLoop,
  ProactorEventLoop,
  Protocol,
  SelectorEventLoop,
  UringEventLoop,
  type AbstractEventLoop,
  type AbstractServer,
  type Transport,
} from 'loopkit';

export interface HttpRequest {
  method: string;
  /** The request target as sent: `/path?query`. */
  target: string;
  /** `HTTP/1.1` or `HTTP/1.0`. */
  version: string;
  /** Header names lower-cased; repeated headers are joined with ", ". */
  headers: Map<string, string>;
  body: Buffer;
}

export interface HttpResponse {
  status?: number;
  /** Extra headers. Content-Length and Connection are the server's: they are ignored here. */
  headers?: Record<string, string>;
  body?: string | Uint8Array;
}

export type HttpHandler = (request: HttpRequest) => HttpResponse;

export const MAX_HEADER_BYTES = 64 * 1024;
export const MAX_BODY_BYTES = 16 * 1024 * 1024;

const REASONS: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  204: 'No Content',
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  413: 'Content Too Large',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  505: 'HTTP Version Not Supported',
};

const HEADER_END = Buffer.from('\r\n\r\n');
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HELLO = Buffer.from('Hello, World!');

let patternBytes: Buffer | null = null;

/** MAX_BODY_BYTES of `i % 251`, made once: what `/bytes/N` serves a prefix of. */
function pattern(): Buffer {
  if (patternBytes === null) {
    patternBytes = Buffer.allocUnsafe(MAX_BODY_BYTES);
    for (let i = 0; i < MAX_BODY_BYTES; i++) patternBytes[i] = i % 251;
  }
  return patternBytes;
}

/**
 * The default handler: `GET /` says hello, `POST /echo` returns the body, `GET /bytes/N`
 * returns N bytes (at most 16 MiB) of a repeating pattern; anything else is 404/405.
 */
export function helloHandler(request: HttpRequest): HttpResponse {
  const path = request.target.split('?', 1)[0]!;
  const read = request.method === 'GET' || request.method === 'HEAD';
  if (path === '/') {
    if (!read) return { status: 405, headers: { Allow: 'GET, HEAD' }, body: 'Method Not Allowed\n' };
    return { headers: { 'Content-Type': 'text/plain' }, body: HELLO };
  }
  if (path === '/echo') {
    if (request.method !== 'POST') return { status: 405, headers: { Allow: 'POST' }, body: 'Method Not Allowed\n' };
    return { headers: { 'Content-Type': request.headers.get('content-type') ?? 'application/octet-stream' }, body: request.body };
  }
  const bytes = /^\/bytes\/(\d{1,9})$/.exec(path);
  if (bytes !== null && read) {
    const n = Number(bytes[1]);
    if (n > MAX_BODY_BYTES) return { status: 413, body: 'Too large\n' };
    return { headers: { 'Content-Type': 'application/octet-stream' }, body: pattern().subarray(0, n) };
  }
  return { status: 404, headers: { 'Content-Type': 'text/plain' }, body: 'Not Found\n' };
}

class BadRequest extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** One connection: parses pipelined requests and answers each in order. */
export class HttpProtocol extends Protocol {
  private transport: Transport | null = null;
  private buffer: Buffer = Buffer.alloc(0);
  /** No more requests are read: a closing response was written or the peer sent EOF. */
  private done = false;
  private writePaused = false;
  /** Requests answered on this connection. */
  requests = 0;

  constructor(private readonly handler: HttpHandler = helloHandler) {
    super();
  }

  override connectionMade(transport: Transport): void {
    this.transport = transport;
  }

  override dataReceived(data: Uint8Array): void {
    if (this.done) return;
    this.buffer = this.buffer.length === 0 ? Buffer.from(data) : Buffer.concat([this.buffer, data]);
    this.processRequests();
  }

  override eofReceived(): boolean {
    // Requests already complete were answered; a partial one never will be. Returning
    // false closes the transport once the responses are flushed.
    this.done = true;
    return false;
  }

  override pauseWriting(): void {
    this.writePaused = true;
    this.transport?.pauseReading();
  }

  override resumeWriting(): void {
    this.writePaused = false;
    if (this.done) return;
    this.transport?.resumeReading();
    this.processRequests();
  }

  override connectionLost(): void {
    this.done = true;
    this.transport = null;
    this.buffer = Buffer.alloc(0);
  }

  private processRequests(): void {
    while (!this.done && !this.writePaused && this.transport !== null) {
      let request: HttpRequest | null;
      try {
        request = this.parseOne();
      } catch (error) {
        if (!(error instanceof BadRequest)) throw error;
        this.respond({ status: error.status, headers: { 'Content-Type': 'text/plain' }, body: `${error.message}\n` }, 'HTTP/1.1', false, false);
        return;
      }
      if (request === null) return;
      let response: HttpResponse;
      try {
        response = this.handler(request);
      } catch (error) {
        getRunningLoop().callExceptionHandler({ message: 'HTTP handler failed', exception: error, protocol: this, transport: this.transport });
        this.respond({ status: 500, body: 'Internal Server Error\n' }, request.version, false, false);
        return;
      }
      this.respond(response, request.version, keepAlive(request), request.method === 'HEAD');
    }
  }

  /** The next complete request, removed from the buffer; null while incomplete. */
  private parseOne(): HttpRequest | null {
    const buf = this.buffer;
    // Tolerate empty lines before a request line (RFC 9112 2.2).
    let start = 0;
    while (start + 1 < buf.length && buf[start] === 0x0d && buf[start + 1] === 0x0a) start += 2;
    const end = buf.indexOf(HEADER_END, start);
    if (end === -1) {
      if (buf.length - start > MAX_HEADER_BYTES) throw new BadRequest(431, 'header section too large');
      return null;
    }
    if (end - start > MAX_HEADER_BYTES) throw new BadRequest(431, 'header section too large');
    const lines = buf.toString('latin1', start, end).split('\r\n');
    const requestLine = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) (HTTP\/\d\.\d)$/.exec(lines[0]!);
    if (requestLine === null) throw new BadRequest(400, 'malformed request line');
    const [, method, target, version] = requestLine as unknown as [string, string, string, string];
    if (version !== 'HTTP/1.1' && version !== 'HTTP/1.0') throw new BadRequest(505, `unsupported version ${version}`);
    const headers = new Map<string, string>();
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      if (colon <= 0) throw new BadRequest(400, 'malformed header line');
      const name = line.slice(0, colon);
      if (!TOKEN.test(name)) throw new BadRequest(400, 'malformed header name');
      const value = line.slice(colon + 1).trim();
      const key = name.toLowerCase();
      const prev = headers.get(key);
      headers.set(key, prev === undefined ? value : `${prev}, ${value}`);
    }
    if (version === 'HTTP/1.1' && !headers.has('host')) throw new BadRequest(400, 'missing Host header');
    if (headers.has('transfer-encoding')) throw new BadRequest(501, 'Transfer-Encoding is not supported');
    let length = 0;
    const cl = headers.get('content-length');
    if (cl !== undefined) {
      const values = new Set(cl.split(',').map((v) => v.trim()));
      const only = values.size === 1 ? [...values][0]! : '';
      if (!/^\d{1,10}$/.test(only)) throw new BadRequest(400, 'bad Content-Length');
      length = Number(only);
      if (length > MAX_BODY_BYTES) throw new BadRequest(413, 'request body too large');
    }
    const bodyStart = end + HEADER_END.length;
    if (buf.length < bodyStart + length) return null;
    const body = buf.subarray(bodyStart, bodyStart + length);
    this.buffer = buf.subarray(bodyStart + length);
    return { method, target, version, headers, body };
  }

  private respond(response: HttpResponse, version: string, keepOpen: boolean, head: boolean): void {
    const transport = this.transport!;
    const status = response.status ?? 200;
    const body =
      response.body === undefined ? Buffer.alloc(0) : typeof response.body === 'string' ? Buffer.from(response.body) : response.body;
    const noBody = head || status === 204 || status === 304 || (status >= 100 && status < 200);
    let text = `HTTP/1.1 ${status} ${REASONS[status] ?? 'Unknown'}\r\n`;
    for (const [name, value] of Object.entries(response.headers ?? {})) {
      const lower = name.toLowerCase();
      if (lower === 'content-length' || lower === 'connection' || lower === 'transfer-encoding') continue;
      if (!TOKEN.test(name) || /[\r\n]/.test(value)) throw new TypeError(`bad response header ${JSON.stringify(name)}`);
      text += `${name}: ${value}\r\n`;
    }
    if (status !== 204 && !(status >= 100 && status < 200)) text += `Content-Length: ${body.length}\r\n`;
    if (!keepOpen) text += 'Connection: close\r\n';
    else if (version === 'HTTP/1.0') text += 'Connection: keep-alive\r\n';
    text += '\r\n';
    const headBytes = Buffer.from(text, 'latin1');
    if (noBody || body.length === 0) transport.write(headBytes);
    else if (body.length <= 16 * 1024) transport.write(Buffer.concat([headBytes, body]));
    else transport.writelines([headBytes, body]);
    this.requests += 1;
    if (!keepOpen) {
      this.done = true;
      this.buffer = Buffer.alloc(0);
      transport.close(); // after the buffered response is flushed
    }
  }
}

function keepAlive(request: HttpRequest): boolean {
  const tokens = (request.headers.get('connection') ?? '')
    .toLowerCase()
    .split(',')
    .map((t) => t.trim());
  if (tokens.includes('close')) return false;
  return request.version === 'HTTP/1.1' || tokens.includes('keep-alive');
}

/** Serve `handler` on the running loop. */
export async function createHttpServer(
  host: string,
  port: number,
  handler: HttpHandler = helloHandler,
  options: Record<string, unknown> = {},
): Promise<AbstractServer> {
  const loop = getRunningLoop();
  return (await loop.createServer(() => new HttpProtocol(handler), host, port, { backlog: 1024, ...options })) as AbstractServer;
}

/** The port a server listens on (its first socket). */
export function serverPort(server: AbstractServer): number {
  const sock = server.sockets[0] as { getsockname(): { port: number } };
  return sock.getsockname().port;
}

/** `--loop=SelectorEventLoop|ProactorEventLoop|UringEventLoop` builds that class; without it the policy picks. */
function makeLoop(name: string | undefined): AbstractEventLoop {
  if (name === undefined) return newEventLoop();
  const classes: Record<string, new () => AbstractEventLoop> = { SelectorEventLoop, ProactorEventLoop, UringEventLoop };
  const cls = classes[name];
  if (cls === undefined) throw new RangeError(`--loop must be one of ${Object.keys(classes).join(', ')}, got ${name}`);
  return new cls();
}

async function main(argv: string[]): Promise<void> {
  const arg = (name: string): string | undefined => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const host = arg('host') ?? '127.0.0.1';
  const port = Number(arg('port') ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`--port must be a port number, got ${arg('port')}`);
  const backend = arg('backend');
  if (backend !== undefined) process.env.LOOPKIT_BACKEND = backend;
  const loop = makeLoop(arg('loop'));
  await loop.runUntilComplete(async () => {
    const server = await createHttpServer(host, port);
    const stop = loop.createFuture<void>();
    const onSignal = (): void => {
      if (!stop.done()) stop.setResult(undefined);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    console.log(`listening on http://${host}:${serverPort(server)} (${loop.constructor.name})`);
    try {
      await stop;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      server.close();
    }
  });
  loop.close();
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main(process.argv.slice(2));
}
