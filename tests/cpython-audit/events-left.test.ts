/**
 * Scenarios of CPython 3.13's test_events.py (EventLoopTestsMixin) not in events.test.ts or
 * base-events.test.ts: local addresses and addresses in use, dual-stack and IPv6 endpoints,
 * prompt cancellation of a socket operation, readers and writers after close(), and
 * connect_accepted_socket.
 */
import * as os from 'node:os';
import { expect, it } from 'vitest';
import {
  CancelledError,
  DatagramProtocol,
  Protocol,
  SelectorEventLoop,
  sleep,
  socket,
  socketpair,
  type AbstractEventLoop,
  type DatagramTransport,
  type Server,
  type Socket,
  type Transport,
} from 'loopkit';
import { onEachLoop, portOf, rejection, runIn } from './loops.js';

const hasIPv6 = Object.values(os.networkInterfaces()).some((addrs) => addrs?.some((a) => a.family === 'IPv6' && a.internal));

function isSelectorLoop(make: () => AbstractEventLoop): boolean {
  const loop = make();
  loop.close();
  return loop instanceof SelectorEventLoop;
}

class Echo extends Protocol {
  transport: Transport | null = null;
  override connectionMade(transport: Transport): void {
    this.transport = transport;
  }
  override dataReceived(data: Uint8Array): void {
    this.transport!.write(data);
  }
}

onEachLoop('test_events (left)', (make) => {
  it('test_create_connection_local_addr: the connection leaves from the given local address', () =>
    runIn(make, async (loop) => {
      const server = (await loop.createServer(() => new Echo(), '127.0.0.1', 0)) as Server;
      const probe = (await loop.createServer(() => new Echo(), '127.0.0.1', 0)) as Server;
      const localPort = portOf(probe);
      probe.close();
      await probe.waitClosed();
      const [tr] = (await loop.createConnection(() => new Protocol(), '127.0.0.1', portOf(server), { localAddr: ['127.0.0.1', localPort] })) as [Transport, Protocol];
      expect(tr.getExtraInfo('sockname')).toMatchObject({ address: '127.0.0.1', port: localPort });
      tr.close();
      server.close();
      await server.waitClosed();
    }));

  it('test_create_connection_local_addr_in_use / test_create_server_addr_in_use: EADDRINUSE, naming the address', () =>
    runIn(make, async (loop) => {
      const server = (await loop.createServer(() => new Echo(), '127.0.0.1', 0)) as Server;
      const port = portOf(server);
      try {
        const e1 = await rejection(loop.createConnection(() => new Protocol(), '127.0.0.1', port, { localAddr: ['127.0.0.1', port] }));
        expect((e1 as { code?: string }).code).toBe('EADDRINUSE');
        expect((e1 as Error).message).toContain(String(port));
        const e2 = await rejection(loop.createServer(() => new Echo(), '127.0.0.1', port));
        expect((e2 as { code?: string }).code).toBe('EADDRINUSE');
        // asyncio's text ("error while attempting to bind on address ('127.0.0.1', port): ..."), on every loop
        expect((e2 as Error).message).toMatch(new RegExp(`^error while attempting to bind on address 127\\.0\\.0\\.1:${port}: `));
      } finally {
        server.close();
        await server.waitClosed();
      }
    }));

  it.runIf(hasIPv6)('test_create_server_dual_stack: host null on a free port listens on IPv4 and IPv6 alike', () =>
    runIn(make, async (loop) => {
      // As CPython: a port found free, retried if taken meanwhile (port 0 would give each family its own port).
      let server: Server | null = null;
      let port = 0;
      for (let attempt = 0; server === null; attempt++) {
        const probe = socket('inet6', 'stream');
        probe.bind({ address: '::', port: 0 });
        port = (probe.getsockname() as { port: number }).port;
        probe.close();
        try {
          server = (await loop.createServer(() => new Echo(), null, port)) as Server;
        } catch (error) {
          if ((error as { code?: string }).code !== 'EADDRINUSE' || attempt >= 5) throw error;
        }
      }
      try {
        // As asyncio: one listening socket per family.
        const families = server.sockets.map((s) => ((s as Socket).getsockname() as { family: string }).family).sort();
        expect(families).toEqual(['IPv4', 'IPv6']);
        for (const host of ['127.0.0.1', '::1']) {
          const [tr] = (await loop.createConnection(() => new Protocol(), host, port)) as [Transport, Protocol];
          expect((tr.getExtraInfo('peername') as { address: string }).address).toBe(host);
          tr.close();
        }
      } finally {
        server.close();
        await server.waitClosed();
      }
    }));

  it.runIf(hasIPv6)('test_create_datagram_endpoint_ipv6: a datagram endpoint on ::1 echoes', () =>
    runIn(make, async (loop) => {
      class UdpEcho extends DatagramProtocol {
        transport: DatagramTransport | null = null;
        override connectionMade(t: DatagramTransport): void {
          this.transport = t;
        }
        override datagramReceived(data: Uint8Array, addr: unknown): void {
          this.transport!.sendto(data, addr as never);
        }
      }
      const [server] = (await loop.createDatagramEndpoint(() => new UdpEcho(), { localAddr: ['::1', 0] })) as [DatagramTransport, UdpEcho];
      const sname = server.getExtraInfo('sockname') as { address: string; port: number };
      expect(sname.address).toBe('::1');
      const got: string[] = [];
      class Client extends DatagramProtocol {
        override datagramReceived(data: Uint8Array): void {
          got.push(Buffer.from(data).toString());
        }
      }
      const [client] = (await loop.createDatagramEndpoint(() => new Client(), { remoteAddr: ['::1', sname.port] })) as [DatagramTransport, Client];
      client.sendto(Buffer.from('v6'));
      for (let i = 0; i < 200 && got.length === 0; i++) await sleep(0.005);
      expect(got).toEqual(['v6']);
      client.close();
      server.close();
    }));

  it('test_prompt_cancellation: a pending sockRecv cancelled by callSoon raises CancelledError; the socket still works', () =>
    runIn(make, async (loop) => {
      const [r, w] = socketpair();
      try {
        const f = loop.createTask(() => loop.sockRecv(r, 1));
        loop.callSoon(() => f.cancel());
        expect(await rejection(f)).toBeInstanceOf(CancelledError);
        expect(f.cancelled()).toBe(true);
        await loop.sockSendall(w, Buffer.from('x'));
        expect(Buffer.from(await loop.sockRecv(r, 1)).toString()).toBe('x');
      } finally {
        r.close();
        w.close();
      }
    }));

  it('test_connect_accepted_socket: a socket accepted elsewhere becomes a transport with the protocol', () =>
    runIn(make, async (loop) => {
      const lsock = socket('inet', 'stream');
      lsock.bind({ address: '127.0.0.1', port: 0 });
      lsock.listen(1);
      const port = (lsock.getsockname() as { port: number }).port;
      const client = socket('inet', 'stream');
      try {
        const connecting = loop.sockConnect(client, { address: '127.0.0.1', port });
        const [conn] = await loop.sockAccept(lsock);
        await connecting;
        const [tr] = (await loop.connectAcceptedSocket(() => new Echo(), conn)) as [Transport, Echo];
        await loop.sockSendall(client, Buffer.from('test data'));
        expect(Buffer.from(await loop.sockRecv(client, 100)).toString()).toBe('test data');
        tr.close();
        expect(Buffer.from(await loop.sockRecv(client, 100)).length).toBe(0);
      } finally {
        client.close();
        lsock.close();
      }
    }));
});

onEachLoop('test_events (readers and writers after close)', (make) => {
  it.runIf(isSelectorLoop(make))('test_remove_fds_after_closing / test_add_fds_after_closing: remove gives false, add throws RuntimeError', () => {
    const loop = make();
    const [r, w] = socketpair();
    try {
      loop.addReader(r, () => undefined);
      loop.addWriter(w, () => undefined);
      loop.close();
      expect(loop.removeReader(r)).toBe(false);
      expect(loop.removeWriter(w)).toBe(false);
      expect(() => loop.addReader(r, () => undefined)).toThrow(/closed/);
      expect(() => loop.addWriter(w, () => undefined)).toThrow(/closed/);
    } finally {
      r.close();
      w.close();
    }
  });
});
