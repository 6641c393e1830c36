/**
 * The loopkit port of relay.py: a TCP relay between clients and a line echo server. Per
 * client it reads a route line, opens its own upstream connection and runs two copy tasks,
 * waiting with FIRST_EXCEPTION: an EOF is passed on with writeEof (half-close), a forbidden
 * line fails its copy task and the other one is cancelled, an unreachable upstream is
 * reported to the client before it is closed. Returns relay.py's lines: the client's events,
 * the relay's, the echo server's.
 */
import { FIRST_EXCEPTION, createTask, currentTask, gather, openConnection, startServer, wait, type Socket, type StreamReader, type StreamWriter, type Task } from 'loopkit';

/** Python's repr of bytes for the ASCII these lines use. */
function bytesRepr(data: Uint8Array): string {
  const escapes: Record<number, string> = { 10: '\\n', 39: "\\'", 92: '\\\\' };
  return `b'${Array.from(data, (byte) => escapes[byte] ?? String.fromCharCode(byte)).join('')}'`;
}

function portOf(server: { sockets: readonly unknown[] }): number {
  return ((server.sockets[0] as Socket).getsockname() as { port: number }).port;
}

export async function main(): Promise<string[]> {
  const clientEvents: string[] = [];
  const relayEvents: string[] = [];
  const echoEvents: string[] = [];

  const echoServer = await startServer(async (reader, writer) => {
    for (let line = await reader.readline(); line.length > 0; line = await reader.readline()) {
      writer.write(Buffer.from(line.toString().toUpperCase()));
    }
    echoEvents.push('echo: eof');
    writer.write(Buffer.from('BYE\n'));
    await writer.drain();
    writer.close();
  }, '127.0.0.1', 0);
  const upstreamPort = portOf(echoServer);

  const copy = async (label: string, reader: StreamReader, writer: StreamWriter): Promise<string> => {
    for (let line = await reader.readline(); line.length > 0; line = await reader.readline()) {
      if (line.toString() === 'DROP\n') throw new RangeError(`${label}: forbidden line`);
      relayEvents.push(`${label}: ${bytesRepr(line)}`);
      writer.write(line);
      await writer.drain();
    }
    relayEvents.push(`${label}: eof`);
    writer.writeEof();
    return `${label} done`;
  };

  const ended = (task: Task<string>): string => {
    if (task.cancelled()) return 'cancelled';
    const error = task.exception() as Error | null;
    // loopkit throws RangeError where Python raises ValueError (API.md)
    if (error !== null) return `${error.name === 'RangeError' ? 'ValueError' : error.name}: ${error.message}`;
    return `'${task.result()}'`;
  };

  const handlers: Task<void>[] = [];
  const relayServer = await startServer(async (reader, writer) => {
    handlers.push(currentTask() as Task<void>);
    relayEvents.push(`route: ${bytesRepr(await reader.readline())}`);
    let upstream: [StreamReader, StreamWriter];
    try {
      upstream = await openConnection('127.0.0.1', upstreamPort);
    } catch (e) {
      relayEvents.push(`upstream: ${(e as Error).name}`);
      writer.write(Buffer.from(`ERR upstream ${(e as Error).name}\n`));
      writer.close();
      return;
    }
    const [upReader, upWriter] = upstream;
    const up = createTask(() => copy('c->s', reader, upWriter));
    const down = createTask(() => copy('s->c', upReader, writer));
    const [, pending] = await wait(new Set([up, down]), { returnWhen: FIRST_EXCEPTION });
    for (const task of pending) task.cancel();
    await wait(new Set([up, down]));
    relayEvents.push(`ended: c->s ${ended(up)}, s->c ${ended(down)}`);
    for (const w of [writer, upWriter]) w.close();
  }, '127.0.0.1', 0);
  const port = portOf(relayServer);

  const session = async (name: string, lines: string[]): Promise<void> => {
    const [reader, writer] = await openConnection('127.0.0.1', port);
    writer.write(Buffer.from('to echo\n'));
    for (const line of lines) {
      writer.write(Buffer.from(line));
      clientEvents.push(`${name} got ${bytesRepr(await reader.readline())}`);
    }
    writer.writeEof();
    clientEvents.push(`${name} after eof ${bytesRepr(await reader.read())}`);
    writer.close();
    await writer.waitClosed();
  };

  await session('half-close', ['hello\n', 'world\n']);
  await session('forbidden', ['one\n', 'DROP\n']);
  echoServer.close();
  await echoServer.waitClosed();
  await session('no upstream', []);
  await gather(...handlers);
  relayServer.close();
  await relayServer.waitClosed();
  return [...clientEvents, ...relayEvents, ...echoEvents];
}
