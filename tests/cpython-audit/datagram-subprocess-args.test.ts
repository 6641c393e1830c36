/**
 * Scenarios of CPython's test_asyncio/test_events.py and test_base_events.py (3.13) that the
 * first audit left: createDatagramEndpoint's options and errors, a given datagram socket,
 * socket options only when asked for, subprocessExec/subprocessShell argument checks.
 */
import { expect, it } from 'vitest';
import {
  DatagramProtocol,
  ProactorEventLoop,
  SubprocessProtocol,
  sleep,
  socket,
  SO_BROADCAST,
  SO_REUSEADDR,
  SO_REUSEPORT,
  SOL_SOCKET,
  type DatagramTransport,
  type Socket,
} from 'loopkit';
import { onEachLoop, rejection, runIn } from './loops.js';

class Recording extends DatagramProtocol {
  state = 'INITIAL';
  override connectionMade(): void {
    this.state = 'CONNECTED';
  }
  override connectionLost(): void {
    this.state = 'CLOSED';
  }
}

onEachLoop('test_base_events (createDatagramEndpoint)', (make) => {
  it('test_create_datagram_endpoint_reuse_address_error: reuseAddress is refused (3.13 removed reuse_address: TypeError naming it)', () =>
    runIn(make, async (loop) => {
      for (const reuseAddress of [true, false]) {
        const error = await rejection(loop.createDatagramEndpoint(() => new DatagramProtocol(), { localAddr: ['127.0.0.1', 0], reuseAddress } as never));
        expect(error).toBeInstanceOf(TypeError);
        expect(String(error)).toContain("unexpected option 'reuseAddress'");
      }
    }));

  it('test_create_datagram_endpoint_wrong_sock: a stream socket is refused', () =>
    runIn(make, async (loop) => {
      const sock = socket('inet');
      try {
        const error = await rejection(loop.createDatagramEndpoint(() => new DatagramProtocol(), { sock }));
        expect(error).toBeInstanceOf(TypeError);
        if (!(loop instanceof ProactorEventLoop)) expect(String(error)).toMatch(/A datagram socket was expected/);
      } finally {
        sock.close();
      }
    }));

  it('test_create_datagram_endpoint_addr_error: a string or a 4-item localAddr is a TypeError', () =>
    runIn(make, async (loop) => {
      expect(await rejection(loop.createDatagramEndpoint(() => new DatagramProtocol(), { localAddr: 'localhost' as never }))).toBeInstanceOf(TypeError);
      expect(await rejection(loop.createDatagramEndpoint(() => new DatagramProtocol(), { localAddr: ['localhost', 1, 2, 3] as never }))).toBeInstanceOf(TypeError);
    }));

  it('test_create_datagram_endpoint_noaddr_nofamily: neither address nor family is refused', () =>
    runIn(make, async (loop) => {
      const error = await rejection(loop.createDatagramEndpoint(() => new DatagramProtocol()));
      expect(error).toBeInstanceOf(TypeError);
      expect(String(error)).toMatch(/unexpected address family/);
      const [tr, pr] = (await loop.createDatagramEndpoint(() => new Recording(), { family: 'inet' })) as [DatagramTransport, Recording];
      expect(pr.state).toBe('CONNECTED');
      tr.close();
      await sleep(0.01);
      expect(pr.state).toBe('CLOSED');
    }));

  it('test_create_datagram_endpoint_no_matching_family: an IPv4 remote with an IPv6 local address', () =>
    runIn(make, async (loop) => {
      const error = await rejection(loop.createDatagramEndpoint(() => new DatagramProtocol(), { remoteAddr: ['127.0.0.1', 9], localAddr: ['::1', 0] }));
      expect(error).toBeInstanceOf(RangeError);
      expect(String(error)).toMatch(/remoteAddr "127.0.0.1" has no inet6 address/);
    }));

  it('test_create_datagram_endpoint_sock / sock_sockopts: a bound socket is used as is; modifiers refused with it', () =>
    runIn(make, async (loop) => {
      if (loop instanceof ProactorEventLoop) return; // node:dgram cannot adopt a socket (the proactor says so with a TypeError)
      const sock = socket('inet', 'dgram');
      sock.bind({ address: '127.0.0.1', port: 0 });
      for (const option of [{ localAddr: ['127.0.0.1', 0] }, { remoteAddr: ['127.0.0.1', 0] }, { family: 'inet' }, { reusePort: true }, { allowBroadcast: true }]) {
        const error = await rejection(loop.createDatagramEndpoint(() => new DatagramProtocol(), { sock, ...option } as never));
        expect(error).toBeInstanceOf(TypeError);
        expect(String(error)).toMatch(/socket modifier keyword arguments can not be used when sock is specified/);
      }
      const [tr, pr] = (await loop.createDatagramEndpoint(() => new Recording(), { sock })) as [DatagramTransport, Recording];
      expect(tr.getExtraInfo('socket')).toBe(sock);
      tr.close();
      await sleep(0.01);
      expect(pr.state).toBe('CLOSED');
      expect(await rejection(loop.createDatagramEndpoint(() => new DatagramProtocol(), { sock }))).toBeInstanceOf(TypeError); // closed now
    }));

  it('test_create_datagram_endpoint_sockopts: SO_REUSEPORT and SO_BROADCAST only when asked for', () =>
    runIn(make, async (loop) => {
      if (loop instanceof ProactorEventLoop) return; // node:dgram exposes no getsockopt
      const [plain] = (await loop.createDatagramEndpoint(() => new DatagramProtocol(), { localAddr: ['127.0.0.1', 0] })) as [DatagramTransport, DatagramProtocol];
      const s1 = plain.getExtraInfo('socket') as Socket;
      expect(s1.getsockopt(SOL_SOCKET, SO_REUSEPORT)).toBe(0);
      expect(s1.getsockopt(SOL_SOCKET, SO_BROADCAST)).toBe(0);
      plain.close();
      const [asked] = (await loop.createDatagramEndpoint(() => new DatagramProtocol(), { localAddr: ['127.0.0.1', 0], reusePort: true, allowBroadcast: true })) as [DatagramTransport, DatagramProtocol];
      const s2 = asked.getExtraInfo('socket') as Socket;
      expect(s2.getsockopt(SOL_SOCKET, SO_REUSEADDR)).toBe(0);
      expect(s2.getsockopt(SOL_SOCKET, SO_REUSEPORT)).not.toBe(0);
      expect(s2.getsockopt(SOL_SOCKET, SO_BROADCAST)).not.toBe(0);
      asked.close();
    }));

  it('test_create_datagram_endpoint (connected): sendto without an address goes to remoteAddr; getExtraInfo peername', () =>
    runIn(make, async (loop) => {
      const got: string[] = [];
      class Echo extends DatagramProtocol {
        transport: DatagramTransport | null = null;
        override connectionMade(t: DatagramTransport): void {
          this.transport = t;
        }
        override datagramReceived(data: Uint8Array, addr: unknown): void {
          this.transport!.sendto(Buffer.concat([Buffer.from('resp:'), data]), addr as never);
        }
      }
      class Client extends DatagramProtocol {
        override datagramReceived(data: Uint8Array): void {
          got.push(Buffer.from(data).toString());
        }
      }
      const [server] = (await loop.createDatagramEndpoint(() => new Echo(), { localAddr: ['127.0.0.1', 0] })) as [DatagramTransport, Echo];
      const port = (server.getExtraInfo('sockname') as { port: number }).port;
      const [client] = (await loop.createDatagramEndpoint(() => new Client(), { remoteAddr: ['127.0.0.1', port] })) as [DatagramTransport, Client];
      expect((client.getExtraInfo('peername') as { port: number }).port).toBe(port);
      client.sendto(Buffer.from('xxx'));
      for (let i = 0; i < 200 && got.length === 0; i++) await sleep(0.005);
      expect(got).toEqual(['resp:xxx']);
      client.close();
      server.close();
    }));
});

onEachLoop('test_events / test_base_events (subprocess argument checks)', (make) => {
  it('test_subprocess_exec_invalid_args: missing program, a list as program, non-string args, Popen-only options', () =>
    runIn(make, async (loop) => {
      const pf = () => new SubprocessProtocol();
      expect(await rejection(loop.subprocessExec(pf, undefined as never))).toBeInstanceOf(TypeError);
      expect(await rejection(loop.subprocessExec(pf, [process.execPath, '-e', ''] as never))).toBeInstanceOf(TypeError);
      expect(await rejection(loop.subprocessExec(pf, process.execPath, [123] as never))).toBeInstanceOf(TypeError);
      for (const option of ['universalNewlines', 'shell', 'bufsize']) {
        const error = await rejection(loop.subprocessExec(pf, process.execPath, ['-e', ''], { [option]: true } as never));
        expect(error).toBeInstanceOf(TypeError);
        expect(String(error)).toContain(option);
      }
    }));

  it('test_subprocess_shell_invalid_args: a number or a list as cmd, Popen-only options', () =>
    runIn(make, async (loop) => {
      const pf = () => new SubprocessProtocol();
      expect(await rejection(loop.subprocessShell(pf, 123 as never))).toBeInstanceOf(TypeError);
      expect(await rejection(loop.subprocessShell(pf, ['ls', '-l'] as never))).toBeInstanceOf(TypeError);
      for (const option of ['universalNewlines', 'shell', 'bufsize']) {
        const error = await rejection(loop.subprocessShell(pf, 'exit 0', { [option]: false } as never));
        expect(error).toBeInstanceOf(TypeError);
        expect(String(error)).toContain(option);
      }
    }));

  it.skip('test_create_datagram_endpoint_sock_unix / existing_sock_unix: AF_UNIX datagram endpoints are not offered (family is inet or inet6)', () => {});
});
