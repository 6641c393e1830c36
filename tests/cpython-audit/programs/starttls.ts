/**
 * The loopkit port of starttls.py, line for line: a plain greeting, STARTTLS upgrading both
 * sides with `writer.startTls`, 200 kB up and 150 kB down over TLS, a clean close on the
 * first connection and an abort with no close_notify on the second. Each side returns its
 * events in starttls.py's words, so either side can face the Python original.
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import * as fs from 'node:fs';
import { Event, getRunningLoop, openConnection, startServer, type SSLOption, type Socket } from 'loopkit';

interface SslObject {
  getProtocol(): string;
  getPeerCertificate(): { subject: { CN: string } };
}

const UP = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 7) % 251));
const DOWN = Buffer.from(Array.from({ length: 150_000 }, (_, i) => (i * 13) % 241));

const digest = (data: Uint8Array) => createHash('sha256').update(data).digest('hex').slice(0, 12);
const text = (line: Uint8Array) => Buffer.from(line).toString().trim();
const errorName = (error: unknown) => (error as Error).name;

export function contexts(certdir: string) {
  const file = (name: string) => fs.readFileSync(path.join(certdir, name), 'utf8');
  return {
    server: { key: file('server.key'), cert: file('server.pem') },
    client: { ca: file('ca.pem') },
  };
}

/** Serves two connections, the port given to `portReady` once listening. */
export async function serve(serverSsl: SSLOption, events: string[], portReady: (port: number) => void): Promise<void> {
  let connections = 0;
  const done = new Event();
  const server = await startServer(async (reader, writer) => {
    const n = ++connections;
    writer.write(Buffer.from('220 ready\n'));
    const command = text(await reader.readline());
    events.push(`server ${n}: ${command}`);
    writer.write(Buffer.from('220 go ahead\n'));
    await writer.drain();
    await writer.startTls(serverSsl);
    events.push(`server ${n}: upgraded ${writer.getExtraInfo<SslObject>('ssl_object')!.getProtocol()}`);
    const hello = text(await reader.readline());
    writer.write(Buffer.from(`250 ${hello} over TLS\n`));
    await writer.drain();
    if (n === 1) {
      const size = Number(text(await reader.readline()).split(' ')[1]);
      const data = await reader.readexactly(size);
      events.push(`server ${n}: got ${data.length} bytes ${digest(data)}`);
      writer.write(Buffer.concat([Buffer.from(`BLOB ${DOWN.length}\n`), DOWN]));
      await writer.drain();
      events.push(`server ${n}: ${text(await reader.readline())}`);
    }
    try {
      const rest = await reader.read();
      events.push(`server ${n}: end ${rest.length === 0 ? "b''" : `${rest.length} bytes`}`);
    } catch (error) {
      events.push(`server ${n}: end ${errorName(error)}`);
    }
    writer.close();
    try {
      await writer.waitClosed();
    } catch (error) {
      events.push(`server ${n}: wait_closed ${errorName(error)}`);
    }
    if (n === 2) done.set();
  }, '127.0.0.1', 0);
  portReady(((server.sockets[0] as Socket).getsockname() as { port: number }).port);
  await done.wait();
  server.close();
  await server.waitClosed();
}

export async function client(port: number, clientSsl: SSLOption, events: string[]): Promise<void> {
  for (const n of [1, 2]) {
    const [reader, writer] = await openConnection('127.0.0.1', port);
    events.push(`client ${n}: ${text(await reader.readline())}`);
    writer.write(Buffer.from('STARTTLS\n'));
    events.push(`client ${n}: ${text(await reader.readline())}`);
    await writer.startTls(clientSsl, { serverHostname: 'localhost' });
    const sslObject = writer.getExtraInfo<SslObject>('ssl_object')!;
    events.push(`client ${n}: upgraded ${sslObject.getProtocol()} peer ${sslObject.getPeerCertificate().subject.CN}`);
    writer.write(Buffer.from(`HELLO ${n}\n`));
    events.push(`client ${n}: ${text(await reader.readline())}`);
    if (n === 1) {
      writer.write(Buffer.concat([Buffer.from(`DATA ${UP.length}\n`), UP]));
      const size = Number(text(await reader.readline()).split(' ')[1]);
      const data = await reader.readexactly(size);
      events.push(`client ${n}: got ${data.length} bytes ${digest(data)}`);
      writer.write(Buffer.from('QUIT\n'));
      writer.close();
      await writer.waitClosed();
      events.push(`client ${n}: closed`);
    } else {
      writer.transport.abort();
      events.push(`client ${n}: aborted`);
    }
  }
}

/** starttls.py's `both` mode: the server's events, then the client's. */
export async function both(certdir: string): Promise<string[]> {
  const { server, client: clientSsl } = contexts(certdir);
  const serverEvents: string[] = [];
  const clientEvents: string[] = [];
  const port = getRunningLoop().createFuture<number>();
  const serving = serve(server, serverEvents, (p) => port.setResult(p));
  await client(await port, clientSsl, clientEvents);
  await serving;
  return [...serverEvents, ...clientEvents];
}
