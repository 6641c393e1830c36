/**
 * The loopkit port of mtls.py: a TLS server that requires client certificates, picks its
 * certificate by SNI and a protocol by ALPN; clients with a certificate (SNI localhost, then
 * other.test), without one, and one that does not trust the server. Each side returns its
 * events in mtls.py's words (an error as its type and OpenSSL reason, Python's `reason`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Event, SSLCertVerificationError, getRunningLoop, openConnection, startServer, type Socket } from 'loopkit';

const ATTEMPTS = ['localhost with cert', 'other.test with cert', 'localhost without cert', 'localhost untrusting'];

interface SslObject {
  alpnProtocol: string | false | null;
}

const commonName = (cert: { subject?: { CN?: string } } | null) => cert?.subject?.CN ?? null;

/** An error as mtls.py prints it: the type, OpenSSL's reason, and for a certificate its verify result. */
export function describe(error: unknown): string {
  const { name, reason, verifyCode, verifyMessage } = error as SSLCertVerificationError;
  if (error instanceof SSLCertVerificationError) return `${name} ${reason} ${verifyCode} ${verifyMessage}`;
  return `${name} ${reason ?? null}`;
}

function pem(certdir: string, name: string): string {
  return fs.readFileSync(path.join(certdir, name), 'utf8');
}

export function serverSsl(certdir: string, events: string[], hello: () => void) {
  const common = { ca: pem(certdir, 'ca.pem'), requestCert: true, rejectUnauthorized: true, ALPNProtocols: ['h2', 'http/1.1'] };
  const other = { ...common, key: pem(certdir, 'other.key'), cert: pem(certdir, 'other.pem') };
  return {
    ...common,
    key: pem(certdir, 'server.key'),
    cert: pem(certdir, 'server.pem'),
    SNICallback: (name: string, answer: (error: Error | null, context?: object | null) => void) => {
      events.push(`server: sni ${name}`);
      hello();
      answer(null, name === 'other.test' ? other : null);
    },
  };
}

function clientSsl(certdir: string, withCert: boolean, trusting: boolean) {
  // the untrusting client's only anchor is its own certificate, which signed nothing
  const ssl: Record<string, unknown> = { ca: pem(certdir, trusting ? 'ca.pem' : 'client.pem'), ALPNProtocols: ['http/1.1', 'h2'] };
  if (withCert) Object.assign(ssl, { cert: pem(certdir, 'client.pem'), key: pem(certdir, 'client.key') });
  return ssl;
}

export async function serve(certdir: string, events: string[], portReady: (port: number) => void): Promise<void> {
  let served = 0;
  let hellos = 0;
  const done = new Event();
  const hello = () => {
    if (++hellos === ATTEMPTS.length && served === 2) done.set();
  };
  const server = await startServer(async (reader, writer) => {
    const sslObject = writer.getExtraInfo<SslObject>('ssl_object')!;
    const cipher = writer.getExtraInfo<{ name: string; version: string }>('cipher')!;
    events.push(`server: alpn ${sslObject.alpnProtocol} client ${commonName(writer.getExtraInfo('peercert'))} cipher ${cipher.name} ${cipher.version}`);
    const line = await reader.readline();
    writer.write(Buffer.concat([Buffer.from('hello '), line]));
    await writer.drain();
    writer.close();
    await writer.waitClosed();
    if (++served === 2 && hellos === ATTEMPTS.length) done.set();
  }, '127.0.0.1', 0, { ssl: serverSsl(certdir, events, hello) });
  portReady(((server.sockets[0] as Socket).getsockname() as { port: number }).port);
  // every client said hello and both accepted ones were served; the refused may be closing
  await done.wait();
  server.close();
  await server.waitClosed();
}

export async function client(port: number, certdir: string, events: string[]): Promise<void> {
  for (const attempt of ATTEMPTS) {
    const [hostname, how] = [attempt.slice(0, attempt.indexOf(' ')), attempt.slice(attempt.indexOf(' ') + 1)];
    const ssl = clientSsl(certdir, how === 'with cert', how !== 'untrusting');
    let reader, writer;
    try {
      [reader, writer] = await openConnection('127.0.0.1', port, { ssl, serverHostname: hostname });
    } catch (error) {
      events.push(`client ${attempt}: connect failed ${describe(error)}`);
      continue;
    }
    const sslObject = writer.getExtraInfo<SslObject>('ssl_object')!;
    events.push(`client ${attempt}: alpn ${sslObject.alpnProtocol} server ${commonName(writer.getExtraInfo('peercert'))}`);
    try {
      writer.write(Buffer.from('hi\n'));
      events.push(`client ${attempt}: ${(await reader.readline()).toString().trim()}`);
    } catch (error) {
      events.push(`client ${attempt}: read failed ${describe(error)}`);
    }
    writer.close();
    try {
      await writer.waitClosed();
    } catch (error) {
      events.push(`client ${attempt}: wait_closed ${describe(error)}`);
    }
  }
}

/** mtls.py's `both` mode; `reports` is what reached the loop's exception handler. */
export async function both(certdir: string, reports: unknown[]): Promise<string[]> {
  const serverEvents: string[] = [];
  const clientEvents: string[] = [];
  const port = getRunningLoop().createFuture<number>();
  const serving = serve(certdir, serverEvents, (p) => port.setResult(p));
  await client(await port, certdir, clientEvents);
  await serving;
  return [...serverEvents, `server: reports ${reports.length}`, ...clientEvents];
}
