/**
 * A stream transport's first large read, or its small reads once they have started four fresh
 * slabs, ask for transparent huge pages on the heap the process grows into next
 * (@loopkit/uv's adviseHugePagesAhead): its reads land in fresh memory. The advice is once per process, so each case runs in a child process of its own
 * and reports how many of its mappings carry the kernel's huge-page advice (`hg` in
 * /proc/self/smaps).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const CHILD = `
import { readFileSync } from 'node:fs';
import { Protocol } from '@loopkit/core';
import { adviseHugePagesAhead, socketpair } from '@loopkit/uv';
import { SelectorEventLoop } from '@loopkit/selector';

const [messageSize, messages] = process.argv.slice(1).map(Number);
const advised = () => readFileSync('/proc/self/smaps', 'utf8').split('\\n').filter((line) => line.startsWith('VmFlags') && / hg/.test(line)).length;
const loop = new SelectorEventLoop();
let received = 0;
class Count extends Protocol {
  dataReceived(data) { received += data.length; }
}
await loop.runUntilComplete(async () => {
  const [ours, theirs] = socketpair();
  const [transport] = await loop.createConnection(() => new Count(), null, null, { sock: ours });
  for (let i = 1; i <= messages; i++) {
    theirs.send(Buffer.alloc(messageSize, 0x61));
    // Node's loop turns (and polls) once per immediate: each message is read before the next is sent.
    while (received < i * messageSize) await new Promise((resolve) => setImmediate(resolve));
  }
  transport.close();
  theirs.close();
});
loop.close();
const afterReads = advised();
// What the process itself asking would give: proves the advice shows where this runs.
adviseHugePagesAhead();
console.log(JSON.stringify({ afterReads, afterAsking: advised() }));
`;

/** Advised mappings after `messages` reads of `messageSize` bytes, and after asking directly. */
function advisedMappings(messageSize: number, messages: number): { afterReads: number; afterAsking: number } {
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', CHILD, String(messageSize), String(messages)], {
    cwd: new URL('..', import.meta.url),
    encoding: 'utf8',
  });
  return JSON.parse(out) as { afterReads: number; afterAsking: number };
}

const linuxWithSmaps = process.platform === 'linux' && existsSync('/proc/self/smaps');

describe.skipIf(!linuxWithSmaps)('receive memory of the selector stream transport', () => {
  it('a read of 16 KiB or more asks for huge pages on the heap ahead', () => {
    const { afterReads, afterAsking } = advisedMappings(64 * 1024, 2);
    // Where the kernel or the allocator takes no advice, neither way shows any.
    if (afterAsking === 0) return;
    expect(afterReads).toBeGreaterThan(0);
  });

  it('small reads do not while they fill fewer than four slabs (a server of small messages keeps its RSS)', () => {
    const { afterReads, afterAsking } = advisedMappings(1024, 1300);
    expect(afterReads).toBe(0);
    expect(afterAsking).toBeGreaterThanOrEqual(afterReads);
  });

  it('small reads do once they have started four fresh slabs (a busy server of small messages)', () => {
    // 448 reads of 1 KiB fill a 512 KiB slab (a read asks for 64 KiB of room): the fourth starts at read 1,345.
    const { afterReads, afterAsking } = advisedMappings(1024, 1400);
    if (afterAsking === 0) return;
    expect(afterReads).toBeGreaterThan(0);
  });

  it('ten 100 KiB messages take at most three slabs (five reads of 100 KiB a slab: the unread tail is fresh memory too)', () => {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', SLABS_CHILD], { cwd: new URL('..', import.meta.url), encoding: 'utf8' });
    const { received, slabs } = JSON.parse(out) as { received: number; slabs: number };
    expect(received).toBe(10 * 100 * 1024);
    // 256 KiB slabs took two such messages each (five slabs); whatever the reads' sizes, a
    // 512 KiB slab is read into until less than the 64 KiB a read asks for is left.
    expect(slabs).toBeLessThanOrEqual(3);
  });
});

/** A child that receives ten 100 KiB messages through a selector transport and reports the distinct memory they landed in. */
const SLABS_CHILD = `
import { Protocol } from '@loopkit/core';
import { socketpair } from '@loopkit/uv';
import { SelectorEventLoop } from '@loopkit/selector';

const MESSAGE = 100 * 1024;
const loop = new SelectorEventLoop();
const slabs = new Set();
let received = 0;
class Collect extends Protocol {
  dataReceived(data) {
    slabs.add(data.buffer);
    received += data.length;
  }
}
await loop.runUntilComplete(async () => {
  const [ours, theirs] = socketpair();
  const [transport] = await loop.createConnection(() => new Collect(), null, null, { sock: ours });
  const message = Buffer.alloc(MESSAGE, 0x62);
  for (let i = 1; i <= 10; i++) {
    let sent = 0;
    while (sent < MESSAGE) {
      const n = theirs.trySend(message, sent, MESSAGE - sent);
      if (n > 0) sent += n;
      else await new Promise((resolve) => setTimeout(resolve, 1));
    }
    while (received < i * MESSAGE) await new Promise((resolve) => setTimeout(resolve, 1));
  }
  transport.close();
  theirs.close();
});
loop.close();
console.log(JSON.stringify({ received, slabs: slabs.size }));
`;
