/**
 * Uring's multishot poll and multishot pooled receives, driven by hand: submit, wait for
 * the ring fd's completions, harvest.
 */
import { describe, expect, it } from 'vitest';
import { READABLE, socketpair, Uring } from '@loopkit/uv';

const ECANCELED = 125;
const POLLIN = 0x1;
const POLLRDHUP = 0x2000;

interface Completion {
  id: number;
  res: number;
  more: boolean;
  bytes: Buffer | null;
}

/** Submits what is queued, then harvests until at least `want` completions came (bounded wait). */
async function harvestSome(ring: Uring, want: number): Promise<Completion[]> {
  ring.submit();
  const out = new Float64Array(64 * 4);
  const got: Completion[] = [];
  for (let tries = 0; got.length < want && tries < 500; tries++) {
    const slab = Buffer.alloc(Uring.POOL_BUFFER_SIZE * 2);
    const n = ring.harvest(out, slab, 0);
    for (let i = 0; i < n; i++) {
      const where = out[4 * i + 3]!;
      const res = out[4 * i + 1]!;
      got.push({ id: out[4 * i]!, res, more: out[4 * i + 2] === 1, bytes: where >= 0 ? slab.subarray(where, where + res) : null });
    }
    if (got.length < want) await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return got;
}

describe.skipIf(Uring.problem() !== null)('Uring', () => {
  it('pollMulti completes on every wake-up while armed, reports the peer hang-up, and ends with -ECANCELED', async () => {
    const ring = new Uring(16);
    const [a, b] = socketpair();
    try {
      const id = ring.pollMulti(a.fileno(), READABLE);
      expect(id).toBeGreaterThan(0);
      b.send(Buffer.from('one'));
      const first = await harvestSome(ring, 1);
      expect(first[0]).toMatchObject({ id, more: true });
      expect(first[0]!.res & POLLIN).toBe(POLLIN);
      a.recv(16); // drained: the next completion needs a new wake-up
      b.send(Buffer.from('two'));
      const second = await harvestSome(ring, 1);
      expect(second[0]).toMatchObject({ id, more: true });
      a.recv(16);
      b.close();
      const hangUp = await harvestSome(ring, 1);
      expect(hangUp[0]!.res & POLLRDHUP).toBe(POLLRDHUP);
      expect(ring.cancel(id)).toBe(0);
      const last = await harvestSome(ring, 1);
      expect(last.at(-1)).toMatchObject({ id, res: -ECANCELED, more: false });
      expect(ring.inflight).toBe(0);
    } finally {
      ring.close();
      a.close();
    }
  });

  it('multishot pooled receives hand each chunk its own bytes, round after round', async () => {
    const ring = new Uring(16);
    const pairs = Array.from({ length: 4 }, () => socketpair());
    try {
      const ids = pairs.map(([a]) => ring.recvMulti(a.fileno()));
      ring.submit();
      for (let round = 0; round < 3; round++) {
        // Several sockets' chunks between two harvests.
        pairs.forEach(([, b], i) => b.send(Buffer.from(`r${round}s${i}`)));
        const got = await harvestSome(ring, pairs.length);
        const text = got.map((c) => `${ids.indexOf(c.id)}:${c.bytes?.toString()}`).sort();
        expect(text).toEqual(pairs.map((_, i) => `${i}:r${round}s${i}`));
        expect(got.every((c) => c.more)).toBe(true);
      }
    } finally {
      ring.close();
      for (const [a, b] of pairs) {
        a.close();
        b.close();
      }
    }
  });
});
