/**
 * The loopkit port of keepalive.py: an HTTP/1.1 keep-alive server on startServer (limit 256)
 * answering pipelined requests in order on one connection, `Connection: close`, a body cut
 * short by EOF, a header block over the limit (431) and a malformed request line (400); a
 * client writing raw requests and reading the responses, one connection at a time. Returns
 * keepalive.py's lines: the client's, then the server's.
 */
import { IncompleteReadError, LimitOverrunError, Semaphore, openConnection, startServer, type Socket, type StreamReader, type StreamWriter } from 'loopkit';

/** Python's repr of bytes for the ASCII these messages use. */
function bytesRepr(data: Uint8Array): string {
  const escapes: Record<number, string> = { 10: '\\n', 13: '\\r', 39: "\\'", 92: '\\\\' };
  return `b'${Array.from(data, (byte) => escapes[byte] ?? String.fromCharCode(byte)).join('')}'`;
}

export async function main(): Promise<string[]> {
  const clientEvents: string[] = [];
  const serverEvents: string[] = [];
  const done = new Semaphore(0);

  const handle = async (reader: StreamReader, writer: StreamWriter): Promise<void> => {
    let served = 0;
    for (;;) {
      let head: Uint8Array;
      try {
        head = await reader.readuntil(Buffer.from('\r\n\r\n'));
      } catch (e) {
        if (e instanceof IncompleteReadError) {
          serverEvents.push(`server: eof after ${served} requests, partial ${bytesRepr(e.partial)}`);
          break;
        }
        if (e instanceof LimitOverrunError) {
          serverEvents.push(`server: header block over the limit (${e.name}, consumed ${e.consumed})`);
          writer.write(Buffer.from('HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'));
          break;
        }
        throw e;
      }
      const [requestLine, ...headerLines] = Buffer.from(head).toString('latin1').split('\r\n').slice(0, -2);
      const parts = requestLine!.split(' ');
      if (parts.length !== 3 || !parts[2]!.startsWith('HTTP/')) {
        serverEvents.push(`server: bad request line '${requestLine}'`);
        writer.write(Buffer.from('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'));
        break;
      }
      const [method, path] = parts;
      const headers = new Map(headerLines.map((line) => {
        const colon = line.indexOf(':');
        return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()] as const;
      }));
      const length = Number(headers.get('content-length') ?? '0');
      let body: Uint8Array;
      try {
        body = await reader.readexactly(length);
      } catch (e) {
        if (!(e instanceof IncompleteReadError)) throw e;
        serverEvents.push(`server: body cut short: ${e.message}`);
        break;
      }
      served++;
      serverEvents.push(`server: ${method} ${path} body ${bytesRepr(body)}`);
      const payload = Buffer.from(`${method} ${path} ${body.length} #${served}`);
      const closing = (headers.get('connection') ?? '').toLowerCase() === 'close';
      writer.write(Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${payload.length}\r\n${closing ? 'Connection: close\r\n' : ''}\r\n`));
      writer.write(payload);
      await writer.drain();
      if (closing) break;
    }
    writer.close();
    await writer.waitClosed();
    serverEvents.push('server: closed');
    done.release();
  };

  const responses = async (name: string, reader: StreamReader): Promise<void> => {
    for (;;) {
      const status = await reader.readline();
      if (status.length === 0) {
        clientEvents.push(`${name}: eof`);
        return;
      }
      const headers = Buffer.from(await reader.readuntil(Buffer.from('\r\n\r\n'))).toString().split('\r\n').slice(0, -2);
      const length = Number(headers.find((h) => h.toLowerCase().startsWith('content-length'))!.split(':')[1]);
      clientEvents.push(`${name}: ${Buffer.from(status).toString().trim()} ${bytesRepr(await reader.readexactly(length))}`);
    }
  };

  const server = await startServer(handle, '127.0.0.1', 0, { limit: 256 });
  const port = ((server.sockets[0] as Socket).getsockname() as { port: number }).port;

  const exchange = async (name: string, data: string, eof = false): Promise<void> => {
    const [reader, writer] = await openConnection('127.0.0.1', port);
    writer.write(Buffer.from(data, 'latin1'));
    if (eof) writer.writeEof();
    await responses(name, reader);
    writer.close();
    await writer.waitClosed();
    await done.acquire();
  };

  const pipelined =
    'GET /a HTTP/1.1\r\nHost: x\r\n\r\n' +
    'POST /b HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello' +
    'GET /c HTTP/1.1\r\nConnection: close\r\n\r\n' +
    'GET /never HTTP/1.1\r\n\r\n';
  await exchange('pipelined', pipelined);
  await exchange('short body', 'PUT /d HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc', true);
  await exchange('idle close', 'GET /e HTTP/1.1\r\n\r\nGET /f', true);
  await exchange('huge header', `GET /g HTTP/1.1\r\nX-Big: ${'y'.repeat(400)}\r\n\r\n`);
  await exchange('garbage', 'HELLO\r\n\r\n');
  server.close();
  await server.waitClosed();
  return [...clientEvents, ...serverEvents];
}
