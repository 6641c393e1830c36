/**
 * UringStreamTransport's first large direct read asks for transparent huge pages on the heap
 * the process grows into next (@loopkit/uv's adviseHugePagesAhead), as the selector's reads
 * do: its reads land in fresh memory. The advice is once per process, so each case runs in a
 * child process of its own and reports how many of its mappings carry the kernel's huge-page
 * advice (`hg` in /proc/self/smaps).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { UringProactor } from '@loopkit/proactor';

const CHILD = `
import { readFileSync } from 'node:fs';
import { Protocol } from '@loopkit/core';
import { adviseHugePagesAhead, socketpair } from '@loopkit/uv';
import { UringEventLoop, UringProactor } from '@loopkit/proactor';

const [messageSize, messages, directFrom, startDirect, poolFromReads] = process.argv.slice(1).map(Number);
const advised = () => readFileSync('/proc/self/smaps', 'utf8').split('\\n').filter((line) => line.startsWith('VmFlags') && / hg/.test(line)).length;
const proactor = new UringProactor();
proactor._directReadFrom = directFrom;
proactor._startDirect = startDirect === 1;
proactor._poolFromReads = poolFromReads;
const loop = new UringEventLoop(proactor);
let received = 0;
class Count extends Protocol {
  dataReceived(data) { received += data.length; }
}
await loop.runUntilComplete(async () => {
  const [ours, theirs] = socketpair();
  const [transport] = await loop.createConnection(() => new Count(), null, null, { sock: ours });
  for (let i = 1; i <= messages; i++) {
    theirs.send(Buffer.alloc(messageSize, 0x61));
    while (received < i * messageSize) await new Promise((resolve) => setTimeout(resolve, 1));
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

/**
 * Advised mappings after `messages` reads of `messageSize` bytes (the proactor's `_directReadFrom`,
 * `_startDirect` and `_poolFromReads` as given: 1 keeps one connection's small reads on the
 * pool), and after asking directly.
 */
function advisedMappings(messageSize: number, messages: number, directFrom: number, startDirect: boolean, poolFromReads = 2): { afterReads: number; afterAsking: number } {
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', CHILD, String(messageSize), String(messages), String(directFrom), startDirect ? '1' : '0', String(poolFromReads)], {
    cwd: new URL('..', import.meta.url),
    encoding: 'utf8',
  });
  return JSON.parse(out) as { afterReads: number; afterAsking: number };
}

const linuxWithSmaps = process.platform === 'linux' && existsSync('/proc/self/smaps');

describe.skipIf(!linuxWithSmaps || UringProactor.problem() !== null)('receive memory of the uring stream transport', () => {
  it('a direct read of 16 KiB or more asks for huge pages on the heap ahead', () => {
    const { afterReads, afterAsking } = advisedMappings(64 * 1024, 2, 0, true);
    // Where the kernel or the allocator takes no advice, neither way shows any.
    if (afterAsking === 0) return;
    expect(afterReads).toBeGreaterThan(0);
  });

  it('large messages on the pool switch to direct reads and ask too', () => {
    const { afterReads, afterAsking } = advisedMappings(64 * 1024, 4, 8 * 1024, false);
    if (afterAsking === 0) return;
    expect(afterReads).toBeGreaterThan(0);
  });

  it('small direct reads do not (a server of small messages keeps its RSS)', () => {
    const { afterReads, afterAsking } = advisedMappings(1024, 50, 0, true);
    expect(afterReads).toBe(0);
    expect(afterAsking).toBeGreaterThanOrEqual(afterReads);
  });

  // 4,000-byte chunks: about 112 to a 512 KiB slab, whose last 64 KiB a harvest never uses.
  it('small pooled reads ask once they have started four fresh slabs (a busy server of small messages), as the selector\'s reads', () => {
    const { afterReads, afterAsking } = advisedMappings(4000, 420, 8 * 1024, false, 1);
    if (afterAsking === 0) return;
    expect(afterReads).toBeGreaterThan(0);
  });

  it('a few small pooled reads do not', () => {
    const { afterReads } = advisedMappings(4000, 200, 8 * 1024, false, 1);
    expect(afterReads).toBe(0);
  });
});
