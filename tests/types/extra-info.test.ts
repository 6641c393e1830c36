/**
 * getExtraInfo's names typed as API.md describes them (TransportExtraInfo), checked against
 * what each loop really gives; and the subprocess stdio options refusing STDOUT for stdin and
 * stdout when compiled, as the run time does.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  DEVNULL,
  PIPE,
  ProactorEventLoop,
  Protocol,
  STDOUT,
  SSLObject,
  SubprocessProtocol,
  createSubprocessExec,
  newEventLoop,
  openConnection,
  startServer,
  type AbstractEventLoop,
  type CipherInfo,
  type PeerCertificate,
  type SocketAddress,
  type StderrOption,
  type StdioOption,
  type SubprocessOptions,
  type Transport,
  type TransportExtraInfo,
  type TransportSocket,
} from 'loopkit';
import { onLoop } from './on-loop.js';
import { hasOpenssl, testCerts } from '@loopkit/conformance/support';

const loops: Array<[string, () => AbstractEventLoop]> = [
  ['newEventLoop()', () => newEventLoop()],
  ['ProactorEventLoop', () => new ProactorEventLoop()],
];


describe('getExtraInfo: the well-known names are typed, others unknown', () => {
  it('each name gives its type or null; a default joins the result type; unknown names are unknown or the default type', () => {
    const t = null as unknown as Transport;
    void (() => {
      expectTypeOf(t.getExtraInfo('peername')).toEqualTypeOf<SocketAddress | null>();
      expectTypeOf(t.getExtraInfo('sockname')).toEqualTypeOf<SocketAddress | null>();
      expectTypeOf(t.getExtraInfo('socket')).toEqualTypeOf<TransportSocket | null>();
      expectTypeOf(t.getExtraInfo('ssl_object')).toEqualTypeOf<SSLObject | null>();
      expectTypeOf(t.getExtraInfo('peercert')).toEqualTypeOf<PeerCertificate | null>();
      expectTypeOf(t.getExtraInfo('cipher')).toEqualTypeOf<CipherInfo | null>();
      expectTypeOf(t.getExtraInfo('compression')).toEqualTypeOf<null>();
      expectTypeOf(t.getExtraInfo('subprocess')).toEqualTypeOf<number | null>();
      expectTypeOf(t.getExtraInfo('sslcontext')).toEqualTypeOf<TransportExtraInfo['sslcontext'] | null>();
      expectTypeOf(t.getExtraInfo('pipe')).toEqualTypeOf<TransportExtraInfo['pipe'] | null>();
      expectTypeOf(t.getExtraInfo('peername', 'none')).toEqualTypeOf<SocketAddress | string>();
      expectTypeOf(t.getExtraInfo('not-a-name')).toEqualTypeOf<unknown>();
      expectTypeOf(t.getExtraInfo('not-a-name', 5)).toEqualTypeOf<number | null>();
      expectTypeOf(t.getExtraInfo<Date>('custom')).toEqualTypeOf<Date | null>();
      // @ts-expect-error peername is an address, not a string
      const wrong: string | null = t.getExtraInfo('peername');
      void wrong;
    });
  });

  for (const [name, make] of loops) {
    it(`a TCP connection's and a stream writer's values have those types [${name}]`, () =>
      onLoop(async () => {
        const server = await startServer(async (_reader, writer) => writer.close(), '127.0.0.1', 0);
        const port = (server.sockets[0]!.getsockname() as { port: number }).port;
        const [, writer] = await openConnection('127.0.0.1', port);
        const transport = writer.transport as Transport;
        const peer = transport.getExtraInfo('peername')!;
        expect(peer).toEqual({ address: '127.0.0.1', family: 'IPv4', port });
        const own = writer.getExtraInfo('sockname')!;
        expect('port' in own && own.port > 0).toBe(true);
        const sock = transport.getExtraInfo('socket')!;
        expect(typeof sock.fileno()).toBe('number');
        expect(sock.getpeername()).toEqual(peer);
        expect(sock.getsockname()).toEqual(own);
        expect(transport.getExtraInfo('peercert', 'none')).toBe('none');
        expect(transport.getExtraInfo('sslcontext')).toBeNull();
        writer.close();
        await writer.waitClosed();
        server.close();
        await server.waitClosed();
      }, make));
  }

  it.skipIf(!hasOpenssl())('a TLS connection gives ssl_object, peercert, cipher, compression and sslcontext as typed', () =>
    onLoop(async () => {
      const certs = testCerts();
      const serverSsl = { key: certs.serverKey, cert: certs.serverCert };
      const server = await startServer(async (_reader, writer) => writer.close(), '127.0.0.1', 0, { ssl: serverSsl });
      const port = (server.sockets[0]!.getsockname() as { port: number }).port;
      const clientSsl = { ca: certs.ca };
      const [, writer] = await openConnection('127.0.0.1', port, { ssl: clientSsl, serverHostname: 'localhost' });
      const sslObject = writer.getExtraInfo('ssl_object')!;
      expect(sslObject).toBeInstanceOf(SSLObject);
      expect(typeof sslObject.getProtocol()).toBe('string');
      const cert = writer.getExtraInfo('peercert')!;
      expect(cert.subject.CN).toBe('localhost');
      expect(typeof writer.getExtraInfo('cipher')!.name).toBe('string');
      expect(writer.getExtraInfo('compression', 'absent')).toBeNull();
      expect(writer.getExtraInfo('sslcontext')).toBe(clientSsl);
      expectTypeOf(writer.getExtraInfo('sslObject')).toEqualTypeOf<SSLObject | null>();
      expect(writer.getExtraInfo('sslObject')).toBe(sslObject);
      expect(writer.getExtraInfo('sslContext')).toBe(clientSsl);
      writer.close();
      await writer.waitClosed();
      server.close();
      await server.waitClosed();
    }));

  it("a subprocess transport's 'subprocess' is the child's pid", () =>
    onLoop(async (loop) => {
      const [transport] = await loop.subprocessExec(() => new SubprocessProtocol(), process.execPath, ['-e', '0'], { stdin: DEVNULL, stdout: DEVNULL, stderr: DEVNULL });
      expect(transport.getExtraInfo('subprocess')).toBe(transport.getPid());
      transport.close();
    }));

  it('a protocol reads them typed too (connectionMade)', () => {
    class Peer extends Protocol {
      peer: SocketAddress | null = null;
      override connectionMade(transport: Transport): void {
        this.peer = transport.getExtraInfo('peername');
      }
    }
    expectTypeOf(new Peer().peer).toEqualTypeOf<SocketAddress | null>();
  });
});

describe('subprocess stdio options', () => {
  it('stdin and stdout take PIPE, DEVNULL, null or a descriptor, not STDOUT; stderr also STDOUT', () => {
    const fd: number = 5;
    expectTypeOf(PIPE).toMatchTypeOf<StdioOption>();
    expectTypeOf(DEVNULL).toMatchTypeOf<StdioOption>();
    expectTypeOf(fd).toMatchTypeOf<StdioOption>();
    expectTypeOf(STDOUT).toMatchTypeOf<StderrOption>();
    expectTypeOf(STDOUT).not.toMatchTypeOf<StdioOption>();
    expectTypeOf(STDOUT).toMatchTypeOf<number>();
    const ok: SubprocessOptions = { stdin: PIPE, stdout: fd, stderr: STDOUT };
    void ok;
    // @ts-expect-error STDOUT is for stderr only (the run time throws TypeError)
    const stdinStdout: SubprocessOptions = { stdin: STDOUT };
    // @ts-expect-error STDOUT is for stderr only
    const stdoutStdout: SubprocessOptions = { stdout: STDOUT };
    void [stdinStdout, stdoutStdout];
    // @ts-expect-error createSubprocessExec's options too
    void (() => createSubprocessExec('true', [], { stdin: STDOUT }));
  });

  it('the run time refuses STDOUT for stdin as the types do', () =>
    onLoop(async () => {
      const options = { stdin: STDOUT } as unknown as SubprocessOptions;
      await expect(createSubprocessExec(process.execPath, ['-e', '0'], options)).rejects.toThrow(/stdin cannot be STDOUT/);
    }));
});
