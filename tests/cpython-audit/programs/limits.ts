/**
 * The loopkit port of limits.py: a stream server with limit 64 reads a short line, a line
 * over the limit (ValueError, the line dropped, the connection still usable), readuntil with
 * two separators, readuntil over the limit (LimitOverrunError, the data left in the buffer)
 * and readexactly cut short by EOF (IncompleteReadError with `partial`). Returns the
 * server's events in limits.py's words (bytes as Python's repr).
 */
import { Event, IncompleteReadError, LimitOverrunError, openConnection, startServer, type Socket, type StreamReader } from 'loopkit';

/** Python's repr of bytes for the ASCII these steps use. */
function bytesRepr(data: Uint8Array): string {
  const escapes: Record<number, string> = { 10: '\\n', 13: '\\r', 39: "\\'", 92: '\\\\' };
  return `b'${Array.from(data, (byte) => escapes[byte] ?? String.fromCharCode(byte)).join('')}'`;
}

/** The error's class as asyncio names it: loopkit throws RangeError where Python raises ValueError (API.md). */
function pythonName(error: Error): string {
  return error.name === 'RangeError' ? 'ValueError' : error.name;
}

export async function main(): Promise<string[]> {
  const events: string[] = [];
  const done = new Event();
  const server = await startServer(async (reader: StreamReader, writer) => {
    const step = async (label: string, read: () => Promise<Uint8Array>) => {
      try {
        events.push(`${label}: ${bytesRepr(await read())}`);
      } catch (e) {
        events.push(`${label}: ${pythonName(e as Error)}: ${(e as Error).message}`);
        if (e instanceof IncompleteReadError) events.push(`${label}: partial ${bytesRepr(e.partial)} expected ${e.expected}`);
        if (e instanceof LimitOverrunError) events.push(`${label}: consumed ${e.consumed}`);
      }
      writer.write(Buffer.from('ok\n'));
    };
    await step('short line', () => reader.readline());
    await step('long line', () => reader.readline());
    await step('line after', () => reader.readline());
    await step('either 1', () => reader.readuntil([Buffer.from('\r\n'), Buffer.from(';')]));
    await step('either 2', () => reader.readuntil([Buffer.from('\r\n'), Buffer.from(';')]));
    await step('long until', () => reader.readuntil(Buffer.from(';')));
    await step('left behind', () => reader.readexactly(101));
    await step('exactly', () => reader.readexactly(10));
    writer.close();
    await writer.waitClosed();
    done.set();
  }, '127.0.0.1', 0, { limit: 64 });
  const port = ((server.sockets[0] as Socket).getsockname() as { port: number }).port;
  const [reader, writer] = await openConnection('127.0.0.1', port);
  // what the client sends before each of the server's steps (null: the step reads what is there)
  const chunks = ['short\n', `${'x'.repeat(100)}\n`, 'after\n', 'a;b\r\n', null, `${'y'.repeat(100)};`, null, 'tail'];
  for (const chunk of chunks) {
    if (chunk !== null) writer.write(Buffer.from(chunk));
    if (chunk === 'tail') writer.writeEof();
    await reader.readline();
  }
  await done.wait();
  writer.close();
  await writer.waitClosed();
  server.close();
  await server.waitClosed();
  return events;
}
