/**
 * Datagram sends that fail, on every network loop (the io_uring one where the kernel has it),
 * against a node:dgram echo peer. A datagram the OS refuses (EMSGSIZE, EINVAL) or whose
 * address the socket cannot take is reported once to errorReceived and dropped; the endpoint
 * stays open and the datagrams sent behind it still go. As asyncio 3.13's selector loop does
 * with an OSError from sendto (its TypeError for a bad address closes the endpoint instead).
 *
 * Session 25 found the ProactorEventLoop (and the uring loop, whose datagrams are node:dgram's)
 * reporting a failed send twice: NetProactor completed sends from the socket's record of
 * writes, where a stream's first failure fails every later write, so the next datagram that
 * did go out was reported as failed too (and every one after it). And an address refused
 * before anything was posted (a host name, a port out of range) threw out of the transport's
 * send with its datagram left at the queue's head: nothing sent behind it ever left. The
 * selector loop did the like with such a datagram once queued (a full Unix datagram socket):
 * its writable callback threw at every loop turn (26,715 reports in a second), never sending
 * what followed; asyncio 3.13 gives an OSError there to error_received and closes the endpoint
 * for any other error.
 */
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DatagramProtocol, sleep, type AbstractEventLoop, type DatagramTransport } from '@loopkit/core';
import { UringEventLoop, UringProactor } from '@loopkit/proactor';
import { socket } from '@loopkit/uv';
import { NET_LOOPS, hasProcFd, openFds, title, waitUntil, withLoop } from './helpers.js';

const SUBJECTS = [
  ...NET_LOOPS,
  UringProactor.problem() === null
    ? { name: 'UringEventLoop', make: () => new UringEventLoop() as AbstractEventLoop, reason: null }
    : { name: 'UringEventLoop', make: null, reason: UringProactor.problem() },
];

class Recorder extends DatagramProtocol {
  received: string[] = [];
  errors: Error[] = [];
  lost: unknown[] = [];
  override datagramReceived(data: Uint8Array): void {
    this.received.push(Buffer.from(data).toString());
  }
  override errorReceived(exc: Error): void {
    this.errors.push(exc);
  }
  override connectionLost(exc: Error | null): void {
    this.lost.push(exc);
  }
}

/** A node:dgram peer on 127.0.0.1 that sends every datagram back. */
async function echoPeer(): Promise<{ port: number; close: () => void }> {
  const peer = dgram.createSocket('udp4');
  peer.on('message', (msg, from) => peer.send(msg, from.port, from.address));
  await new Promise<void>((resolve) => peer.bind(0, '127.0.0.1', resolve));
  return { port: peer.address().port, close: () => peer.close() };
}

/** What one refused datagram does on `make`'s loop: the errors reported, the echoes of three good datagrams sent behind it. */
async function sendBehind(make: () => AbstractEventLoop, bad: (port: number) => [Uint8Array, [string, number]]) {
  const before = hasProcFd ? openFds() : 0;
  const peer = await echoPeer();
  try {
    return await withLoop(make, async (loop, reports) => {
      const [transport, protocol] = (await loop.createDatagramEndpoint(() => new Recorder(), { localAddr: ['127.0.0.1', 0] })) as [DatagramTransport, Recorder];
      const [data, addr] = bad(peer.port);
      transport.sendto(data, addr);
      for (const word of ['one', 'two', 'three']) transport.sendto(Buffer.from(word), ['127.0.0.1', peer.port]);
      await waitUntil(() => protocol.received.length === 3, 10, 'the three echoes');
      // Nothing more is reported once everything behind the refused one left.
      await sleep(0.05);
      const open = !transport.isClosing();
      const queued = (transport as unknown as { getWriteBufferSize(): number }).getWriteBufferSize();
      transport.close();
      await waitUntil(() => protocol.lost.length === 1, 10, 'connectionLost');
      return { protocol, open, queued, reports: reports.map((r) => r.message) };
    });
  } finally {
    peer.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    if (hasProcFd) expect(openFds()).toBe(before);
  }
}

describe('a datagram the OS or the address check refuses', () => {
  for (const subject of SUBJECTS) {
    describe.skipIf(subject.make === null)(subject.name, () => {
      const make = subject.make!;

      it(title(subject, 'over 64 KiB: EMSGSIZE reported once; the datagrams behind it arrive, none reported'), async () => {
        const { protocol, open, queued, reports } = await sendBehind(make, (port) => [Buffer.alloc(70_000), ['127.0.0.1', port]]);
        expect(protocol.errors.map((e) => (e as { code?: string }).code)).toEqual(['EMSGSIZE']);
        expect(protocol.received).toEqual(['one', 'two', 'three']);
        expect([open, queued, protocol.lost, reports]).toEqual([true, 0, [null], []]);
      });

      it(title(subject, 'to an IPv6 address from an IPv4 socket: one error; the datagrams behind it arrive'), async () => {
        const { protocol, open, queued, reports } = await sendBehind(make, (port) => [Buffer.from('x'), ['::1', port]]);
        expect(protocol.errors).toHaveLength(1);
        expect(protocol.received).toEqual(['one', 'two', 'three']);
        expect([open, queued, protocol.lost, reports]).toEqual([true, 0, [null], []]);
      });

      for (const [what, addr, named] of [
        ['a host name', ['no.such.host.invalid', 9], /address/],
        ['port 70000', ['127.0.0.1', 70_000], /port/],
      ] as const) {
        it(title(subject, `to ${what}: errorReceived with an error naming the address, not a throw; the datagrams behind it still go`), async () => {
          const { protocol, open, queued, reports } = await sendBehind(make, () => [Buffer.from('x'), [addr[0], addr[1]]]);
          expect(protocol.errors).toHaveLength(1);
          expect(protocol.errors[0]!.message).toMatch(named);
          expect(protocol.received).toEqual(['one', 'two', 'three']);
          expect([open, queued, protocol.lost, reports]).toEqual([true, 0, [null], []]);
        });
      }
    });
  }
});

/** The selector loop only: its endpoint adopts a Unix datagram socket (`sock`), whose send buffer a reader that does not read fills, so datagrams queue. */
const SELECTOR = NET_LOOPS.find((l) => l.name === 'SelectorEventLoop')!;

describe.skipIf(SELECTOR.make === null)('a queued datagram whose address the socket cannot take', () => {
  it(title(SELECTOR, 'reported once when its turn comes; the datagram behind it goes; nothing reported'), async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loopkit-dgram-'));
    const target = path.join(dir, 'reader.sock');
    const before = hasProcFd ? openFds() : 0;
    try {
      await withLoop(SELECTOR.make!, async (loop, reports) => {
        const reader = socket('unix', 'dgram');
        reader.bind({ path: target });
        const [transport, protocol] = (await loop.createDatagramEndpoint(() => new Recorder(), { sock: socket('unix', 'dgram') })) as [DatagramTransport, Recorder];
        const queued = (): number => (transport as unknown as { getWriteBufferSize(): number }).getWriteBufferSize();
        let sent = 0;
        while (queued() === 0 && sent < 100_000) {
          transport.sendto(Buffer.alloc(100), { path: target } as never);
          sent += 1;
        }
        expect(queued()).toBeGreaterThan(0);
        transport.sendto(Buffer.from('x'), ['127.0.0.1', 9]);
        transport.sendto(Buffer.from('last'), { path: target } as never);
        // Read everything the reader gets until 'last' arrives.
        const buf = Buffer.alloc(200);
        let last = false;
        await waitUntil(() => {
          for (let n = reader.tryRecvInto(buf); n >= 0; n = reader.tryRecvInto(buf)) if (buf.subarray(0, n).toString() === 'last') last = true;
          return last;
        }, 10, "'last' at the reader");
        expect(protocol.errors).toHaveLength(1);
        expect(protocol.errors[0]!.message).toMatch(/address/);
        expect([queued(), transport.isClosing(), reports.map((r) => r.message)]).toEqual([0, false, []]);
        transport.close();
        reader.close();
        await waitUntil(() => protocol.lost.length === 1, 10, 'connectionLost');
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      await new Promise((resolve) => setTimeout(resolve, 50));
      if (hasProcFd) expect(openFds()).toBe(before);
    }
  });
});
