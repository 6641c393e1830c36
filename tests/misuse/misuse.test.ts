/**
 * Issue 16: misuse never hangs, crashes or leaks. What could hang or exit the process runs
 * in a child (scenarios.mjs) under a time limit; the rest runs here.
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  BaseEventLoop,
  Protocol,
  gather,
  wait,
  asCompleted,
  sleep,
  openConnection,
  startServer,
  type AbstractEventLoop,
} from '@loopkit/core';
import { NET_LOOPS, title } from '../faults/helpers.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** Run a scenario in a fresh node; its one JSON line, or a failure naming a hang or an exit. */
function scenario(name: string, loop: string, timeoutMs = 15_000): Promise<any> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [path.join(HERE, 'scenarios.mjs'), name, loop], { timeout: timeoutMs }, (error, stdout, stderr) => {
      if (error) {
        const why = error.killed ? `hung (killed after ${timeoutMs} ms)` : `exited with ${error.code}`;
        reject(new Error(`scenario ${name} on ${loop} ${why}\nstdout: ${stdout}\nstderr: ${stderr}`));
        return;
      }
      resolve(JSON.parse(stdout.trim().split('\n').pop()!));
    });
  });
}

describe.each(NET_LOOPS)('misuse in a child process: $name', (subject) => {
  const it_ = subject.make === null ? it.skip : it;

  it_(title(subject, 'an async callback, timer, protocol method or exception handler that rejects is reported; the process runs on'), async () => {
    const out = await scenario('asyncCallbacks', subject.name);
    const byError = (e: string) => out.reports.find((r: { error: string }) => r.error === e);
    expect(byError('from callSoon').message).toMatch(/^Exception in callback /);
    expect(byError('from callLater').message).toMatch(/^Exception in callback /);
    expect(byError('from dataReceived').message).toBe('Fatal error: protocol.dataReceived() call failed.');
    expect(out.reports).toHaveLength(3);
    // The failing protocol's connection was closed: the client saw it end.
    expect(out.client.at(-1)).toMatch(/^lost/);
    expect(out.handlerFailures).toEqual([{ message: 'Unhandled error in exception handler', error: 'from the handler' }]);
  });

  it_(title(subject, 'a client protocol factory returning a non-protocol rejects with TypeError and closes its socket'), async () => {
    const out = await scenario('clientFactoryNonProtocol', subject.name);
    expect(out.errors[0]).toMatch(/^TypeError: protocol must be a Protocol .* got an object \(Object\) with neither dataReceived/);
    expect(out.errors[1]).toMatch(/got a Promise: the protocol factory must return the protocol itself/);
    expect(out.errors[2]).toMatch(/got 42$/);
    // The server saw its side of the (last) connection end, and waitClosed() returned.
    expect(out.serverSide).toEqual(['made', 'eof', 'lost']);
  });

  it_(title(subject, 'a server protocol factory returning a non-protocol is reported saying what it returned; the client sees a clean close'), async () => {
    const out = await scenario('serverFactoryNonProtocol', subject.name);
    expect(out.reports.map((r: { message: string }) => r.message)).toEqual([
      'Error on transport creation for incoming connection',
      'Error on transport creation for incoming connection',
    ]);
    expect(out.reports[0].error).toMatch(/got an object \(Object\) with neither dataReceived/);
    expect(out.reports[1].error).toMatch(/got a Promise/);
    expect(out.clients).toEqual([
      ['made', 'eof', 'lost'],
      ['made', 'eof', 'lost'],
    ]);
  });
});

describe('misuse, in process', () => {
  it('run() with a loopFactory that returns no loop says so', async () => {
    const out = await scenario('badLoopFactory', 'ProactorEventLoop');
    expect(out.error).toBe('TypeError: loopFactory must return an event loop, it returned an object (Object)');
  });

  async function onLoop<T>(body: (loop: AbstractEventLoop) => Promise<T>): Promise<T> {
    const loop = new BaseEventLoop();
    try {
      return await loop.runUntilComplete(() => body(loop));
    } finally {
      loop.close();
    }
  }

  it('gather(array) is a TypeError saying to spread it, not an empty result', async () => {
    await onLoop(async () => {
      const f = async () => 1;
      expect(() => gather([f, f] as never)).toThrow('gather() takes the awaitables as separate arguments, got an array: spread it, gather(...aws)');
      expect(() => gather(f, [f] as never)).toThrow(/spread it/);
      expect(() => gather(f, { returnException: true } as never)).toThrow("gather() got an unexpected option 'returnException' (known options: returnExceptions)");
      expect(await gather(f, f, { returnExceptions: true })).toEqual([1, 1]);
    });
  });

  it('wait() and asCompleted() name a misspelt option instead of ignoring it', async () => {
    await onLoop(async () => {
      const aws = [async () => sleep(0)];
      await expect(wait(aws, { tiemout: 0.01 } as never)).rejects.toThrow("wait() got an unexpected option 'tiemout' (known options: timeout, returnWhen)");
      expect(() => asCompleted(aws, { timout: 1 } as never)).toThrow("asCompleted() got an unexpected option 'timout' (known options: timeout)");
      await expect(wait(aws, [] as never)).rejects.toThrow(/wait\(\) options must be a plain object, got an array/);
    });
  });

  it('setDebug takes a boolean only, as run({debug}) does', () => {
    const loop = new BaseEventLoop();
    expect(() => loop.setDebug('yes' as never)).toThrow('enabled must be a boolean, got "yes"');
    loop.setDebug(true);
    expect(loop.getDebug()).toBe(true);
    loop.close();
  });

  it('setWriteBufferLimits names a misspelt key', async () => {
    const { memoryTransportPair } = await import('@loopkit/core');
    await onLoop(async (loop) => {
      const [a, b] = memoryTransportPair(loop, new Protocol(), new Protocol());
      await sleep(0);
      expect(() => a.setWriteBufferLimits({ hihg: 10 } as never)).toThrow("setWriteBufferLimits() got an unexpected option 'hihg' (known options: high, low)");
      a.close();
      b.close();
    });
  });
});

describe.each(NET_LOOPS)('unknown options on the network methods: $name', (subject) => {
  const it_ = subject.make === null ? it.skip : it;
  it_(title(subject, 'every options-taking method names the key it does not know'), async () => {
    const loop = subject.make!();
    try {
      await loop.runUntilComplete(async () => {
        const pf = () => new Protocol();
        const l = loop as AbstractEventLoop & Record<string, (...a: unknown[]) => Promise<unknown>>;
        // @ts-expect-error the option is not the method's (a type error too)
        await expect(l.createConnection!(pf, '127.0.0.1', 1, { sever_hostname: 'x' })).rejects.toThrow(
          /^createConnection\(\) got an unexpected option 'sever_hostname' \(known options: family, localAddr, sock, .*serverHostname/,
        );
        // @ts-expect-error the option is not the method's (a type error too)
        await expect(l.createServer!(pf, '127.0.0.1', 0, { reuse_address: true })).rejects.toThrow(/^createServer\(\) got an unexpected option 'reuse_address'/);
        // @ts-expect-error the option is not the method's (a type error too)
        await expect(l.createUnixConnection!(pf, '/nonexistent', { family: 'inet' })).rejects.toThrow(/^createUnixConnection\(\) got an unexpected option 'family'/);
        // @ts-expect-error the option is not the method's (a type error too)
        await expect(l.createUnixServer!(pf, '/tmp/x.sock', { reusePort: true })).rejects.toThrow(/^createUnixServer\(\) got an unexpected option 'reusePort'/);
        // @ts-expect-error the option is not the method's (a type error too)
        await expect(l.createDatagramEndpoint!(pf as never, { local_addr: ['127.0.0.1', 0] })).rejects.toThrow(/^createDatagramEndpoint\(\) got an unexpected option 'local_addr'/);
        await expect(openConnection('127.0.0.1', 1, { limt: 10 } as never)).rejects.toThrow(/^openConnection\(\) got an unexpected option 'limt' \(known options: limit, family/);
        await expect(startServer(() => {}, '127.0.0.1', 0, { backlg: 10 } as never)).rejects.toThrow(/^startServer\(\) got an unexpected option 'backlg' \(known options: limit, backlog/);
        // @ts-expect-error the option is not the method's (a type error too)
        await expect(l.createConnection!(pf, '127.0.0.1', 1, ['family'])).rejects.toThrow(/options must be a plain object, got an array/);
      });
    } finally {
      loop.close();
    }
  });
});

describe.each(NET_LOOPS)('sendSignal misuse: $name', (subject) => {
  const it_ = subject.make === null ? it.skip : it;
  it_(title(subject, 'a signal that is neither a number nor a name is a TypeError naming sig; the child is not signalled'), async () => {
    const loop = subject.make!();
    try {
      const returncode = await loop.runUntilComplete(async () => {
        const { createSubprocessExec } = await import('@loopkit/core');
        const proc = await createSubprocessExec('/bin/sleep', ['30']);
        for (const bad of [null, undefined, 1.5, {}]) {
          expect(() => proc.sendSignal(bad as never)).toThrow(TypeError);
          expect(() => proc.sendSignal(bad as never)).toThrow(/^sig must be a signal number or name/);
        }
        await sleep(0.05);
        expect(proc.returncode).toBe(null);
        proc.kill();
        return await proc.wait();
      });
      // SIGKILL's, not the SIGTERM Node's kill() sends for a missing signal
      expect(returncode).toBe(-9);
    } finally {
      loop.close();
    }
  });
});
