/**
 * examples/redis against a real redis-server (started here on a free loopback port, with
 * no persistence) on every loop: PING, 1 MiB values byte-exact, 10k pipelined commands with
 * every reply matched, and a server killed with SIGKILL mid-pipeline.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionError, ConnectionRefusedError, ConnectionResetError, IncompleteReadError, sleep } from '@loopkit/core';
import {
  RedisClient,
  RedisConnectionError,
  RedisReplyError,
  encodeCommand,
  type RedisReply,
} from '../../examples/redis/client.js';
import { Child, LOOPS, freePort, missingBinary, onLoop, within } from './helpers.js';

const REDIS = '/usr/bin/redis-server';
const missing = missingBinary(REDIS);
if (missing !== null) console.warn(`[peers] skipping the Redis tests: ${missing}`);

async function startRedis(): Promise<{ child: Child; port: number }> {
  const port = await freePort();
  const child = new Child(REDIS, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no']);
  try {
    await child.waitFor(/Ready to accept connections/, 15);
  } catch (error) {
    await child.stop();
    throw error;
  }
  return { child, port };
}

describe('RESP encoding', () => {
  it('encodes a command as an array of bulk strings, bytes untouched', () => {
    expect(encodeCommand(['SET', 'k', Buffer.from([0, 13, 10, 255]), 42]).toString('latin1')).toBe(
      '*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\n\x00\r\n\xff\r\n$2\r\n42\r\n',
    );
    expect(encodeCommand(['ECHO', 'é']).toString('latin1')).toBe('*2\r\n$4\r\nECHO\r\n$2\r\n\xc3\xa9\r\n');
    expect(() => encodeCommand([])).toThrow(TypeError);
    expect(() => encodeCommand(['SET', NaN])).toThrow(TypeError);
  });
});

describe.skipIf(missing !== null)('redis-server peer', { timeout: 60000 }, () => {
  let redis: { child: Child; port: number } | null = null;

  beforeAll(async () => {
    redis = await startRedis();
  });

  afterAll(async () => {
    await redis?.child.stop();
  });

  for (const subject of LOOPS) {
    describe.skipIf(subject.missing !== null)(subject.name, () => {
      it('PING, ECHO of binary bytes, nil, and an error reply that leaves the connection usable', async () => {
        await onLoop(subject, async (_loop, reports) => {
          const client = await RedisClient.connect('127.0.0.1', redis!.port);
          try {
            expect(await client.call('PING')).toBe('PONG');
            const bytes = Buffer.from([0, 1, 13, 10, 36, 42, 255, 13, 10]);
            expect(await client.call('ECHO', bytes)).toEqual(bytes);
            expect(await client.call('GET', `missing:${subject.name}:${Math.random()}`)).toBeNull();
            expect(await client.call('DEL', `missing:${subject.name}`)).toBe(0);
            const failure = await client.call('NOSUCHCOMMAND', 'x').then(
              () => null,
              (e: unknown) => e,
            );
            expect(failure).toBeInstanceOf(RedisReplyError);
            expect((failure as RedisReplyError).kind).toBe('ERR');
            expect((failure as Error).message).toMatch(/unknown command/);
            // An array reply with nested types.
            await client.call('DEL', `list:${subject.name}`);
            await client.call('RPUSH', `list:${subject.name}`, 'a', Buffer.from([0]), '');
            expect(await client.call('LRANGE', `list:${subject.name}`, 0, -1)).toEqual([Buffer.from('a'), Buffer.from([0]), Buffer.alloc(0)]);
            expect(await client.call('PING')).toBe('PONG');
          } finally {
            await client.close();
          }
          expect(reports).toEqual([]);
        });
      });

      it('SET/GET of 1 MiB random values is byte-exact', async () => {
        await onLoop(subject, async (_loop, reports) => {
          const client = await RedisClient.connect('127.0.0.1', redis!.port);
          try {
            const values = [randomBytes(1 << 20), randomBytes(1 << 20), Buffer.alloc(1 << 20, '\r\n')];
            for (const [i, value] of values.entries()) {
              expect(await client.call('SET', `big:${subject.name}:${i}`, value)).toBe('OK');
            }
            for (const [i, value] of values.entries()) {
              const got = (await client.call('GET', `big:${subject.name}:${i}`)) as Buffer;
              expect(got.length).toBe(value.length);
              expect(got.equals(value)).toBe(true);
            }
            expect(await client.call('STRLEN', `big:${subject.name}:0`)).toBe(1 << 20);
            // Pipelined, both directions at once.
            const futures = values.map((_, i) => client.call('GET', `big:${subject.name}:${i}`));
            const got = await within(20, '3 pipelined 1 MiB GETs', Promise.all(futures));
            got.forEach((g, i) => expect((g as Buffer).equals(values[i]!)).toBe(true));
          } finally {
            await client.close();
          }
          expect(reports).toEqual([]);
        });
      });

      it('pipelines 10k commands with every reply matched to its command', async () => {
        await onLoop(subject, async (_loop, reports) => {
          const client = await RedisClient.connect('127.0.0.1', redis!.port);
          try {
            const prefix = `p:${subject.name}:${Date.now()}`;
            const N = 10_000;
            // 5k SET and 5k GET interleaved, each value distinct in content and length.
            const values = Array.from({ length: N / 2 }, (_, i) => Buffer.from(`${i}:${'x'.repeat(i % 97)}:${randomBytes(8).toString('hex')}`));
            const calls: Array<Promise<RedisReply>> = [];
            for (let i = 0; i < N / 2; i++) {
              calls.push(client.call('SET', `${prefix}:${i}`, values[i]!));
              calls.push(client.call('GET', `${prefix}:${i}`));
            }
            expect(client.pendingCount).toBe(N);
            const replies = await within(30, '10k pipelined calls', Promise.all(calls));
            for (let i = 0; i < N / 2; i++) {
              expect(replies[2 * i]).toBe('OK');
              expect((replies[2 * i + 1] as Buffer).equals(values[i]!)).toBe(true);
            }
            // The same through pipeline(): one write for 10k INCRs, replies 1..10k in order.
            const incrs = await within(30, 'pipeline() of 10k INCR', client.pipeline(Array.from({ length: N }, () => ['INCR', `${prefix}:n`])));
            expect(incrs).toEqual(Array.from({ length: N }, (_, i) => i + 1));
            // An error reply inside a pipeline rejects it, and the connection stays in step.
            await expect(client.pipeline([['PING'], ['INCR', `${prefix}:0`], ['ECHO', 'after']])).rejects.toThrow(/not an integer/);
            expect(await client.call('ECHO', 'in step')).toEqual(Buffer.from('in step'));
            expect(client.pendingCount).toBe(0);
          } finally {
            await client.close();
          }
          expect(reports).toEqual([]);
        });
      });

      it('QUIT with commands pipelined behind it: OK for QUIT, a clear error for the rest; a refused connect throws ConnectionRefusedError', async () => {
        await onLoop(subject, async (_loop, reports) => {
          const client = await RedisClient.connect('127.0.0.1', redis!.port);
          const [quit, ping, get] = client.sendMany([['QUIT'], ['PING'], ['GET', 'x']]);
          expect(await within(10, 'QUIT', quit!)).toBe('OK');
          const errors = await within(10, 'the commands after QUIT', Promise.allSettled([ping!, get!]));
          for (const e of errors) {
            expect(e.status).toBe('rejected');
            const reason = (e as PromiseRejectedResult).reason as RedisConnectionError;
            expect(reason).toBeInstanceOf(RedisConnectionError);
            expect(reason.message).toMatch(/lost with 2 command\(s\) pending: the server closed the connection/);
            expect(reason.cause).toBeInstanceOf(IncompleteReadError);
          }
          await within(5, 'close()', client.close());

          const closedPort = await freePort();
          const refused = await RedisClient.connect('127.0.0.1', closedPort).then(
            () => null,
            (e: unknown) => e,
          );
          expect(refused).toBeInstanceOf(ConnectionRefusedError);
          expect((refused as ConnectionRefusedError).code).toBe('ECONNREFUSED');
          expect(reports).toEqual([]);
        });
      });

      it('a server killed mid-pipeline fails every pending command with a clear error, without a hang', async () => {
        const own = await startRedis();
        try {
          await onLoop(subject, async (_loop, reports) => {
            const client = await RedisClient.connect('127.0.0.1', own.port);
            const key = `q:${subject.name}`;
            // 5k SETs, then a BLPOP that blocks this connection for ever, then 5k more: the
            // server has answered exactly the first 5k when it dies.
            const before = Array.from({ length: 5000 }, (_, i) => client.call('SET', `${key}:${i}`, i));
            const blocked = client.call('BLPOP', `${key}:empty-list`, 0);
            const after = Array.from({ length: 5000 }, (_, i) => client.call('GET', `${key}:${i}`));
            expect(await within(20, 'the replies before BLPOP', Promise.all(before))).toEqual(Array(5000).fill('OK'));
            expect(client.pendingCount).toBe(5001);
            own.child.proc.kill('SIGKILL');
            const settled = await within(10, 'the pending commands after SIGKILL', Promise.allSettled([blocked, ...after]));
            const errors = settled.map((s) => (s.status === 'rejected' ? s.reason : new Error(`resolved with ${String(s.value)}`)));
            for (const error of errors) {
              expect(error).toBeInstanceOf(RedisConnectionError);
              expect(error).toBeInstanceOf(ConnectionError);
            }
            const first = errors[0] as RedisConnectionError;
            // One error for the whole loss, saying what was lost and why.
            expect(new Set(errors).size).toBe(1);
            expect(first.pending).toBe(5001);
            expect(first.message).toMatch(new RegExp(`^connection to Redis at 127\\.0\\.0\\.1:${own.port} lost with 5001 command\\(s\\) pending: `));
            expect(first.cause instanceof IncompleteReadError || first.cause instanceof ConnectionResetError).toBe(true);
            // Later commands fail at once with the same error; close() does not hang.
            await expect(within(5, 'a call after the loss', client.call('PING'))).rejects.toBe(first);
            await within(5, 'close() after the loss', client.close());
            expect(client.pendingCount).toBe(0);
            expect(reports).toEqual([]);
          });
        } finally {
          await own.child.stop();
        }
      });

      it('a server killed while 32 MiB of pipelined writes are buffered fails them all, without a hang', async () => {
        const own = await startRedis();
        try {
          await onLoop(subject, async (_loop, reports) => {
            const client = await RedisClient.connect('127.0.0.1', own.port);
            expect(await client.call('PING')).toBe('PONG');
            // A stopped server reads nothing: the socket buffers fill and most of the 32 MiB
            // waits in the transport's write buffer when the server dies.
            own.child.proc.kill('SIGSTOP');
            const value = randomBytes(1 << 20);
            const calls = Array.from({ length: 32 }, (_, i) => client.call('SET', `w:${i}`, value));
            const settledEarly = Promise.allSettled(calls);
            await sleep(0.2);
            expect(client.pendingCount).toBe(32);
            own.child.proc.kill('SIGKILL');
            const settled = await within(10, 'the pending SETs after SIGKILL', settledEarly);
            for (const s of settled) {
              expect(s.status).toBe('rejected');
              const reason = (s as PromiseRejectedResult).reason as Error;
              expect(reason).toBeInstanceOf(RedisConnectionError);
              expect(reason.message).toMatch(/lost with 32 command\(s\) pending: /);
            }
            await within(5, 'close() after the loss', client.close());
            expect(reports).toEqual([]);
          });
        } finally {
          own.child.proc.kill('SIGCONT');
          await own.child.stop();
        }
      });
    });
  }
});
