/**
 * Four small programs of the kind users port from asyncio, each checked against the output
 * of the same program run by Python 3.13.0 (programs/*.py beside this file; the expected
 * values below are what they printed): a chat server with broadcast, a bounded-concurrency
 * fetcher with a Semaphore and timeouts, a subprocess pipeline joined with streams, a UDP
 * request/response with retries.
 */
import { expect, it } from 'vitest';
import {
  DatagramProtocol,
  Lock,
  PIPE,
  Queue,
  Semaphore,
  StreamReader,
  TimeoutError,
  createSubprocessExec,
  createSubprocessShell,
  ensureFuture,
  gather,
  openConnection,
  sleep,
  startServer,
  waitFor,
  type DatagramTransport,
  type SocketAddress,
  type StreamWriter,
} from 'loopkit';
import { onEachLoop, portOf, rejection, runIn } from './loops.js';

/** What each client of chat.py received, in order (its transcript split by client). */
const CHAT_TRANSCRIPTS = {
  alice: ['welcome alice', '* bob joined', '* carol joined', 'bob: hey alice', '* carol left'],
  bob: ['welcome bob', '* carol joined', 'alice: hi all', '* carol left'],
  carol: ['welcome carol', 'alice: hi all', 'bob: hey alice'],
};

onEachLoop('real programs (compared with Python 3.13)', (make) => {
  it('chat server with broadcast: join, messages to the others, /quit, leave', () =>
    runIn(make, async () => {
      const members = new Map<StreamWriter, string>();
      const broadcast = (text: string, sender: StreamWriter | null = null) => {
        for (const writer of members.keys()) if (writer !== sender) writer.write(Buffer.from(text));
      };
      const server = await startServer(async (reader, writer) => {
        const name = (await reader.readline()).toString().trim();
        writer.write(Buffer.from(`welcome ${name}\n`));
        broadcast(`* ${name} joined\n`);
        members.set(writer, name);
        try {
          for await (const line of reader) {
            const text = line.toString().trim();
            if (text === '/quit') break;
            broadcast(`${name}: ${text}\n`, writer);
          }
        } finally {
          members.delete(writer);
          broadcast(`* ${name} left\n`);
          writer.close();
          await writer.waitClosed();
        }
      }, '127.0.0.1', 0);
      const port = portOf(server);
      const clients = new Map<string, [StreamReader, StreamWriter]>();
      const got: Record<string, string[]> = { alice: [], bob: [], carol: [] };
      const expectLines = async (name: string, n: number) => {
        for (let i = 0; i < n; i++) got[name]!.push((await waitFor(clients.get(name)![0].readline(), 5)).toString().trimEnd());
      };
      const join = async (name: string) => {
        const [reader, writer] = await openConnection('127.0.0.1', port);
        writer.write(Buffer.from(`${name}\n`));
        clients.set(name, [reader, writer]);
        await expectLines(name, 1);
      };
      const say = async (name: string, text: string) => {
        const writer = clients.get(name)![1];
        writer.write(Buffer.from(`${text}\n`));
        await writer.drain();
      };
      await join('alice');
      await join('bob');
      await expectLines('alice', 1);
      await join('carol');
      await gather(() => expectLines('alice', 1), () => expectLines('bob', 1));
      await say('alice', 'hi all');
      await gather(() => expectLines('bob', 1), () => expectLines('carol', 1));
      await say('bob', 'hey alice');
      await gather(() => expectLines('alice', 1), () => expectLines('carol', 1));
      await say('carol', '/quit');
      expect((await clients.get('carol')![0].read()).length).toBe(0);
      await gather(() => expectLines('alice', 1), () => expectLines('bob', 1));
      for (const name of ['alice', 'bob']) {
        const writer = clients.get(name)![1];
        writer.close();
        await writer.waitClosed();
      }
      server.close();
      await server.waitClosed();
      expect(got).toEqual(CHAT_TRANSCRIPTS);
    }));

  it('bounded-concurrency fetcher: Semaphore(3), waitFor 0.5 s per request, results in order', () =>
    runIn(make, async () => {
      const server = await startServer(async (reader, writer) => {
        const line = (await reader.readline()).toString();
        const delay = Number(line.trim().split('/').at(-1));
        await sleep(delay / 1000);
        writer.write(Buffer.from(`ok ${delay}\n`));
        try {
          await writer.drain();
        } catch {
          // the client gave up (timeout) and closed: nothing to deliver
        }
        writer.close();
      }, '127.0.0.1', 0);
      const port = portOf(server);
      const limit = new Semaphore(3);
      let inFlight = 0;
      let most = 0;
      const fetch = async (delay: number) => {
        const [reader, writer] = await openConnection('127.0.0.1', port);
        try {
          writer.write(Buffer.from(`GET /delay/${delay}\n`));
          return (await reader.readline()).toString().trim();
        } finally {
          writer.close();
        }
      };
      const bounded = async (delay: number) => {
        await using _slot = await limit.hold();
        inFlight += 1;
        most = Math.max(most, inFlight);
        try {
          return await waitFor(() => fetch(delay), 0.5);
        } catch (error) {
          if (error instanceof TimeoutError) return 'timeout';
          throw error;
        } finally {
          inFlight -= 1;
        }
      };
      const delays = [20, 5, 1500, 10, 30, 2000, 5, 25];
      const results = await gather(...delays.map((d) => () => bounded(d)));
      expect(results).toEqual(['ok 20', 'ok 5', 'timeout', 'ok 10', 'ok 30', 'timeout', 'ok 5', 'ok 25']);
      expect(most).toBe(3);
      server.close();
      server.closeClients();
      await server.waitClosed();
    }));

  it('subprocess pipeline: printf | sort | tr a-z A-Z pumped through streams; a failing shell command', () =>
    runIn(make, async () => {
      const pump = async (reader: StreamReader, writer: StreamWriter) => {
        for await (const line of reader) {
          writer.write(line);
          await writer.drain();
        }
        writer.close();
        await writer.waitClosed();
      };
      const source = await createSubprocessExec('printf', ['pear\\napple\\nfig\\nbanana\\n'], { stdout: PIPE });
      const sort = await createSubprocessExec('sort', [], { stdin: PIPE, stdout: PIPE, env: { ...process.env, LC_ALL: 'C' } });
      const upper = await createSubprocessExec('tr', ['a-z', 'A-Z'], { stdin: PIPE, stdout: PIPE });
      const [, , out] = await gather(
        () => pump(source.stdout!, sort.stdin!),
        () => pump(sort.stdout!, upper.stdin!),
        () => upper.stdout!.read(),
      );
      const codes = [await source.wait(), await sort.wait(), await upper.wait()];
      expect([Buffer.from(out).toString(), codes]).toEqual(['APPLE\nBANANA\nFIG\nPEAR\n', [0, 0, 0]]);
      const failing = await createSubprocessShell('echo oops >&2; exit 3', { stderr: PIPE });
      const [stdout, stderr] = await failing.communicate();
      expect([stdout, Buffer.from(stderr!).toString(), failing.returncode]).toEqual([null, 'oops\n', 3]);
    }));

  it('UDP request/response with retries: dropped first requests are retried, an unanswered id gives up', () =>
    runIn(make, async (loop) => {
      class Server extends DatagramProtocol {
        transport: DatagramTransport | null = null;
        readonly seen = new Set<number>();
        override connectionMade(transport: DatagramTransport): void {
          this.transport = transport;
        }
        override datagramReceived(data: Uint8Array, addr: SocketAddress | null): void {
          const id = Number(Buffer.from(data).toString().split(' ')[1]);
          const first = !this.seen.has(id);
          this.seen.add(id);
          if (id === 5 || (id % 2 === 0 && first)) return;
          this.transport!.sendto(Buffer.from(`ack ${id}`), addr);
        }
      }
      class Client extends DatagramProtocol {
        readonly replies = new Queue<string>();
        override datagramReceived(data: Uint8Array): void {
          this.replies.putNowait(Buffer.from(data).toString());
        }
      }
      const [serverTr] = (await loop.createDatagramEndpoint(() => new Server(), { localAddr: ['127.0.0.1', 0] })) as [DatagramTransport, Server];
      const port = (serverTr.getExtraInfo('sockname') as { port: number }).port;
      const [clientTr, client] = (await loop.createDatagramEndpoint(() => new Client(), { remoteAddr: ['127.0.0.1', port] })) as [DatagramTransport, Client];
      const lines: string[] = [];
      for (let id = 1; id <= 5; id++) {
        let answered = false;
        let attempt = 0;
        while (!answered && attempt < 3) {
          attempt += 1;
          clientTr.sendto(Buffer.from(`req ${id}`));
          try {
            lines.push(`${id} attempts ${attempt} ${await waitFor(client.replies.get(), 0.1)}`);
            answered = true;
          } catch (error) {
            if (!(error instanceof TimeoutError)) throw error;
          }
        }
        if (!answered) lines.push(`${id} gave up after ${attempt}`);
      }
      clientTr.close();
      serverTr.close();
      expect(lines).toEqual(['1 attempts 1 ack 1', '2 attempts 2 ack 2', '3 attempts 1 ack 3', '4 attempts 2 ack 4', '5 gave up after 3']);
    }));
});

/**
 * Found by the UDP program: `waitFor(queue.get(), t)` (asyncio's everyday `wait_for(q.get(), t)`)
 * timed out but left the get() waiting, so the next item went to nobody. Cancelling the Future
 * that wraps a waiting call's promise now cancels the call, as asyncio cancels the coroutine.
 */
onEachLoop('waitFor over a waiting call\'s promise (asyncio cancels the call)', (make) => {
  it('waitFor(queue.get(), t) times out; the next item goes to the next get()', () =>
    runIn(make, async (loop) => {
      const queue = new Queue<string>();
      expect(await rejection(waitFor(queue.get(), 0.01))).toBeInstanceOf(TimeoutError);
      loop.callLater(0.01, () => queue.putNowait('x'));
      expect(await waitFor(queue.get(), 5)).toBe('x');
      expect(queue.qsize()).toBe(0);
    }));

  it('waitFor(queue.put(item), t) on a full queue times out without putting', () =>
    runIn(make, async () => {
      const queue = new Queue<number>(1);
      queue.putNowait(1);
      expect(await rejection(waitFor(queue.put(2), 0.01))).toBeInstanceOf(TimeoutError);
      expect(queue.getNowait()).toBe(1);
      await sleep(0.01);
      expect(queue.qsize()).toBe(0);
    }));

  it('waitFor(lock.acquire(), t) times out; the lock is free once released', () =>
    runIn(make, async () => {
      const lock = new Lock();
      await lock.acquire();
      expect(await rejection(waitFor(lock.acquire(), 0.01))).toBeInstanceOf(TimeoutError);
      lock.release();
      await sleep(0.01);
      expect(lock.locked()).toBe(false);
      const sem = new Semaphore(1);
      await sem.acquire();
      expect(await rejection(waitFor(sem.acquire(), 0.01))).toBeInstanceOf(TimeoutError);
      sem.release();
      await sleep(0.01);
      expect(sem.locked()).toBe(false);
    }));

  it('a wrapper cancelled in the iteration the lock was handed over gives the lock back', () =>
    runIn(make, async () => {
      const lock = new Lock();
      await lock.acquire();
      const wrapped = ensureFuture(lock.acquire());
      lock.release(); // hands the lock to the waiting acquire()
      wrapped.cancel();
      await sleep(0.01);
      expect(lock.locked()).toBe(false);
    }));

  it('waitFor(reader.readline(), t) times out; the line that comes later is read whole', () =>
    runIn(make, async (loop) => {
      const reader = new StreamReader();
      expect(await rejection(waitFor(reader.readline(), 0.01))).toBeInstanceOf(TimeoutError);
      loop.callLater(0.01, () => reader.feedData(Buffer.from('hello\n')));
      expect((await waitFor(reader.readline(), 5)).toString()).toBe('hello\n');
      const partial = waitFor(reader.readexactly(4), 0.05);
      reader.feedData(Buffer.from('ab'));
      expect(await rejection(partial)).toBeInstanceOf(TimeoutError);
      reader.feedData(Buffer.from('cd'));
      expect((await reader.readexactly(4)).toString()).toBe('abcd');
    }));

  it('a read wrapper cancelled after the data came leaves the data buffered', () =>
    runIn(make, async () => {
      const reader = new StreamReader();
      const wrapped = ensureFuture(reader.readline());
      reader.feedData(Buffer.from('kept\n'));
      wrapped.cancel();
      await sleep(0.01);
      expect((await reader.readline()).toString()).toBe('kept\n');
    }));

  it('gather(queue.get(), queue.get()) cancelled: both gets leave the line', () =>
    runIn(make, async () => {
      const queue = new Queue<number>();
      const both = gather(queue.get(), queue.get());
      await sleep(0);
      both.cancel();
      await sleep(0.01);
      queue.putNowait(7);
      expect(await queue.get()).toBe(7);
    }));
});
