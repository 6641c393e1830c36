/**
 * Closing a loop with live transports closes them, on every network loop: client and
 * accepted transports, ones with bytes still buffered, paused ones, half-closed ones, Unix
 * sockets and datagram endpoints, with one protocol whose connectionLost throws. Each
 * protocol gets connectionLost exactly once, synchronously inside close(); node:net peers
 * see their sockets closed; every fd is released. A stopped loop that is not closed keeps
 * them all open and working. Stream connections (plain and TLS) whose reads tasks await
 * close without a report: on the selector loop, close() used to run their connectionLost
 * after marking itself closed, so the StreamReader waking its reader was refused ("Event
 * loop is closed", reported once per connection). The same for a child's pipes whose
 * reads tasks await (the proactor loops closed the subprocess transports after marking
 * themselves closed: "Exception in subprocess protocol pipeConnectionLost()").
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DatagramProtocol, PIPE, createSubprocessExec, logger, openConnection, sleep, startServer, type AbstractEventLoop, type DatagramTransport, type StreamWriter, type Transport } from '@loopkit/core';
import { UringEventLoop, UringProactor } from '@loopkit/proactor';
import { Echo, NET_LOOPS, Recorder, hasProcFd, openFds, pattern, portOf, title, waitUntil, type ServerLike } from './helpers.js';
import { certs, tlsMissing } from './tls-helpers.js';

class ThrowsOnLost extends Recorder {
  override connectionLost(exc: unknown): void {
    super.connectionLost(exc);
    throw new Error('connectionLost failed');
  }
}

class Dgram extends DatagramProtocol {
  lost = 0;
  override connectionLost(): void {
    this.lost += 1;
  }
}

/** Wait in host time (the loop is stopped or closed). */
async function hostWait(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('loop.close() with live transports', () => {
  for (const subject of NET_LOOPS) {
    it.skipIf(subject.make === null)(title(subject, 'closes every kind of live transport once; a stopped loop keeps them'), async () => {
      const fdsBefore = hasProcFd ? openFds() : 0;
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loopkit-close-'));
      const nodeSockets: net.Socket[] = [];
      const nodeClosed = new Set<net.Socket>();
      const nodeServer = net.createServer({ allowHalfOpen: true }, (s) => {
        nodeSockets.push(s);
        s.on('error', () => {});
        s.on('end', () => nodeClosed.add(s)); // EOF (allowHalfOpen: no automatic close)
        s.on('close', () => nodeClosed.add(s)); // or a reset
        s.pause(); // never reads: our writes to it stay buffered
      });
      await new Promise<void>((resolve) => nodeServer.listen(0, '127.0.0.1', resolve));
      const nodePort = (nodeServer.address() as net.AddressInfo).port;
      const loop: AbstractEventLoop = subject.make!();
      const reports: unknown[] = [];
      loop.setExceptionHandler((_l, ctx) => reports.push(ctx));
      const accepted: Recorder[] = [];
      const clients: Recorder[] = [];
      let buffered: Recorder | null = null;
      let thrower: ThrowsOnLost | null = null;
      let dgram: Dgram | null = null;
      let servers: ServerLike[] = [];
      const nodeClient = new net.Socket();
      let nodeClientClosed = false;
      try {
        await loop.runUntilComplete(async () => {
          const tcp = (await loop.createServer(() => {
            const r = new Recorder(loop);
            r.keepOpenOnEof = true; // our half-closed clients stay half-open
            accepted.push(r);
            return r;
          }, '127.0.0.1', 0)) as unknown as ServerLike;
          // On Windows node:net serves a Unix path as a named pipe, and wants a pipe name.
          const unixPath = process.platform === 'win32' ? `\\\\.\\pipe\\loopkit-close-${process.pid}` : path.join(dir, 's.sock');
          const unix = (await loop.createUnixServer(() => {
            const r = new Recorder(loop);
            accepted.push(r);
            return r;
          }, unixPath)) as unknown as ServerLike;
          servers = [tcp, unix];
          for (let i = 0; i < 10; i++) {
            const [t, c] = (await loop.createConnection(() => new Recorder(loop), '127.0.0.1', portOf(tcp))) as [Transport, Recorder];
            if (i % 3 === 1) t.pauseReading();
            if (i % 3 === 2) t.writeEof();
            clients.push(c);
          }
          const [, u] = (await loop.createUnixConnection(() => new Recorder(loop), unixPath)) as [Transport, Recorder];
          clients.push(u);
          // Bytes still buffered towards a peer that never reads.
          const [bt, b] = (await loop.createConnection(() => new Recorder(loop), '127.0.0.1', nodePort)) as [Transport, Recorder];
          bt.write(pattern(16 << 20));
          expect(bt.getWriteBufferSize()).toBeGreaterThan(0);
          buffered = b;
          const [, th] = (await loop.createConnection(() => new ThrowsOnLost(loop), '127.0.0.1', nodePort)) as [Transport, ThrowsOnLost];
          thrower = th;
          [, dgram] = (await loop.createDatagramEndpoint(() => new Dgram(), { localAddr: ['127.0.0.1', 0] })) as [DatagramTransport, Dgram];
          // A node:net client of our TCP server.
          nodeClient.on('error', () => {});
          nodeClient.on('close', () => (nodeClientClosed = true));
          nodeClient.connect(portOf(tcp), '127.0.0.1');
          await waitUntil(() => accepted.length === 12 && nodeSockets.length === 2, 10, 'every connection accepted');
        });

        // Stopped, not closed: everything stays open and works on the next run.
        const everyone = (): Recorder[] => [...accepted, ...clients, buffered!, thrower!];
        expect(everyone().every((r) => r.lostCount === 0)).toBe(true);
        await new Promise((resolve) => setTimeout(resolve, 20));
        expect(everyone().every((r) => r.lostCount === 0)).toBe(true);
        expect(nodeClosed.size).toBe(0);
        await loop.runUntilComplete(async () => {
          const n = accepted.length;
          const [t] = (await loop.createConnection(() => new Echo(), '127.0.0.1', portOf(servers[0]!))) as [Transport, Echo];
          await waitUntil(() => accepted.length === n + 1, 10, 'one more accepted');
          const side = accepted.at(-1)!;
          t.write(Buffer.from('x'));
          side.transport!.write(Buffer.from('echo me')); // the Echo client sends it back
          await waitUntil(() => side.received.length >= 8, 10, 'echo');
          expect(side.received.toString()).toMatch(/^(xecho me|echo mex)$/);
        });
        expect(everyone().every((r) => r.lostCount === 0)).toBe(true);

        // Close: connectionLost for all, synchronously, once each, even past a throwing one.
        const logged: unknown[] = [];
        const savedError = logger.error;
        logger.error = (...args: unknown[]) => logged.push(args);
        try {
          loop.close();
        } finally {
          logger.error = savedError;
        }
        for (const r of everyone()) expect(r.events.filter((e) => e === 'lost'), String(r.events)).toEqual(['lost']);
        expect(thrower!.lostCount).toBe(1);
        expect(dgram!.lost).toBe(1);
        for (const s of servers) expect(s.sockets).toEqual([]);
        loop.close(); // again: a no-op
        expect(everyone().every((r) => r.lostCount === 1)).toBe(true);
        // The peers see it (the node:net ones that never read do once they read).
        for (const s of nodeSockets) s.resume();
        await hostWait(() => nodeClosed.size === 2 && nodeClientClosed, `node:net peers see their sockets closed (${nodeClosed.size}/2, client ${nodeClientClosed})`);
        // Release the test's own node:net sockets, then every fd is back.
        for (const s of nodeSockets) s.destroy();
        nodeClient.destroy();
        await new Promise<void>((resolve) => nodeServer.close(() => resolve()));
        if (hasProcFd) await hostWait(() => openFds() <= fdsBefore, `fds back to ${fdsBefore} (now ${openFds()})`);
        expect(fs.existsSync(path.join(dir, 's.sock'))).toBe(false);
        // The failing connectionLost went to the exception handler or the log, not out of close().
        const text = JSON.stringify([reports.map((r) => (r as { message: string }).message), logged.map(String)]);
        expect(text).toMatch(/connectionLost/);
      } finally {
        if (!loop.isClosed()) loop.close();
        nodeClient.destroy();
        for (const s of nodeSockets) s.destroy();
        nodeServer.close();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }, 30_000);
  }
});

const ALL_LOOPS = [
  ...NET_LOOPS,
  UringProactor.problem() === null
    ? { name: 'UringEventLoop', make: () => new UringEventLoop() as AbstractEventLoop, reason: null }
    : { name: 'UringEventLoop', make: null, reason: UringProactor.problem() },
];

describe('loop.close() with stream connections whose reads tasks await', () => {
  for (const subject of ALL_LOOPS) {
    for (const overTls of [false, true]) {
      const skip = subject.make === null || (overTls && tlsMissing !== null);
      it.skipIf(skip)(title(subject, `${overTls ? 'TLS' : 'plain'}: no report, every writer closing, the peer sees the close`), async () => {
        const loop = subject.make!();
        const reports: Array<{ message: string }> = [];
        loop.setExceptionHandler((_l, ctx) => reports.push(ctx as { message: string }));
        const writers: StreamWriter[] = [];
        const nodeClosed: boolean[] = [];
        let nodePeer: net.Server | null = null;
        try {
          await loop.runUntilComplete(async () => {
            const server = await startServer(async (reader, writer) => {
              writers.push(writer);
              await reader.read(100);
            }, '127.0.0.1', 0, overTls ? { ssl: { key: certs().serverKey, cert: certs().serverCert } } : {});
            const tls = overTls ? { ssl: { ca: certs().ca }, serverHostname: 'localhost' } : {};
            const [reader, writer] = await openConnection('127.0.0.1', portOf(server as unknown as ServerLike), tls);
            writers.push(writer);
            loop.createTask(async () => {
              await reader.read(100);
            });
            // A node:net peer of a stream client too, to see the close from outside.
            nodePeer = net.createServer((s) => {
              s.on('error', () => {});
              s.on('close', () => nodeClosed.push(true));
              s.resume();
            });
            await new Promise<void>((resolve) => nodePeer!.listen(0, '127.0.0.1', resolve));
            const [outReader, outWriter] = await openConnection('127.0.0.1', (nodePeer.address() as net.AddressInfo).port);
            writers.push(outWriter);
            loop.createTask(async () => {
              await outReader.read(100);
            });
            await waitUntil(() => writers.length === 3, 10, 'the server handler runs');
            await sleep(0.02);
          });
          loop.close();
          expect(reports.map((r) => r.message)).toEqual([]);
          expect(writers.every((w) => w.isClosing())).toBe(true);
          await hostWait(() => nodeClosed.length === 1, 'the node:net peer sees the close');
        } finally {
          if (!loop.isClosed()) loop.close();
          (nodePeer as net.Server | null)?.close();
        }
      }, 30_000);
    }
  }

  for (const subject of ALL_LOOPS) {
    it.skipIf(subject.make === null || process.platform === 'win32')(title(subject, 'a child whose stdout a task reads and whose exit a task awaits: no report, the child killed'), async () => {
      const loop = subject.make!();
      const reports: Array<{ message: string }> = [];
      loop.setExceptionHandler((_l, ctx) => reports.push(ctx as { message: string }));
      let pid = 0;
      try {
        await loop.runUntilComplete(async () => {
          const child = await createSubprocessExec('sleep', ['30'], { stdin: PIPE, stdout: PIPE });
          pid = child.pid;
          loop.createTask(async () => {
            await child.stdout!.read(100);
          });
          loop.createTask(async () => {
            await child.wait();
          });
          await sleep(0.02);
        });
        loop.close();
        expect(reports.map((r) => r.message)).toEqual([]);
        const gone = (): boolean => {
          try {
            process.kill(pid, 0);
            return false;
          } catch {
            return true;
          }
        };
        await hostWait(gone, 'the child killed and reaped');
      } finally {
        if (!loop.isClosed()) loop.close();
      }
    }, 30_000);
  }
});
