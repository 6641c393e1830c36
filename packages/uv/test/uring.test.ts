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

/** Submits what is queued, then harvests until at least `want` completions came (bounded wait; 0: one harvest). */
async function harvestSome(ring: Uring, want: number): Promise<Completion[]> {
  ring.submit();
  const out = new Float64Array(64 * 4);
  const got: Completion[] = [];
  for (let tries = 0; tries === 0 || (got.length < want && tries < 500); tries++) {
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

  it('harvest writes to the out and slab of this call, whether the last call had the same ones or not', async () => {
    const ring = new Uring(16);
    const [a, b] = socketpair();
    try {
      const id = ring.recvMulti(a.fileno());
      ring.submit();
      const outs = [new Float64Array(8 * 4), new Float64Array(8 * 4)];
      const slabs = [Buffer.alloc(Uring.POOL_BUFFER_SIZE * 2), Buffer.alloc(Uring.POOL_BUFFER_SIZE * 2)];
      // Same slab twice, then the other, then back; same out, then the other.
      const plan = [[0, 0, 0], [0, 0, 16], [0, 1, 0], [1, 0, 64], [1, 1, 8]] as const;
      for (const [round, [o, sl, at]] of plan.entries()) {
        b.send(Buffer.from(`chunk${round}`));
        let n = 0;
        for (let tries = 0; n === 0 && tries < 500; tries++) {
          n = ring.harvest(outs[o]!, slabs[sl]!, at);
          if (n === 0) await new Promise((resolve) => setTimeout(resolve, 2));
        }
        expect(n).toBe(1);
        const out = outs[o]!;
        expect(out[0]).toBe(id);
        expect(out[3]).toBe(at);
        expect(slabs[sl]!.subarray(at, at + out[1]!).toString()).toBe(`chunk${round}`);
      }
      expect(() => ring.harvest(new Float32Array(8) as unknown as Float64Array, slabs[0]!, 0)).toThrow(TypeError);
      expect(() => ring.harvest(outs[0]!, slabs[0]!, slabs[0]!.length + 1)).toThrow(RangeError);
      ring.close();
      expect(ring.harvest(outs[0]!, slabs[0]!, 0)).toBe(-9); // EBADF
    } finally {
      ring.close();
      a.close();
      b.close();
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

  it('a multishot receive with a limit ends once it took that much (kernel 6.17+), leaving the rest in the socket', async () => {
    const ring = new Uring(16);
    const [a, b] = socketpair();
    try {
      const limit = 100 * 1024;
      const id = ring.recvMulti(a.fileno(), limit);
      expect(id).toBeGreaterThan(0);
      const sent = Buffer.alloc(150 * 1024, 7);
      let off = 0;
      // Writes while the receive drains the socket, until it ended (or 2 s of tries).
      const got: Completion[] = [];
      for (let tries = 0; tries < 1000 && !got.some((c) => !c.more); tries++) {
        if (off < sent.length) off += Math.max(0, b.trySend(sent, off, Math.min(16 * 1024, sent.length - off)));
        got.push(...(await harvestSome(ring, 0)));
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      const last = got.at(-1)!;
      if (last.res === -22) return; // EINVAL: a kernel without the limit
      expect(last).toMatchObject({ id, more: false });
      const taken = got.reduce((sum, c) => sum + Math.max(0, c.res), 0);
      expect(taken).toBeGreaterThanOrEqual(limit);
      expect(taken).toBeLessThan(limit + Uring.POOL_BUFFER_SIZE);
      // The rest stayed in the socket for whoever reads next.
      let left = 0;
      for (let r = 1; r > 0; ) {
        r = a.tryRecvInto(Buffer.alloc(64 * 1024), 0, 64 * 1024);
        if (r > 0) left += r;
      }
      expect(taken + left).toBe(off);
      expect(ring.inflight).toBe(0);
    } finally {
      ring.close();
      a.close();
      b.close();
    }
  });
});
