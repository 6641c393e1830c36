// The loop world's set of aged-task records (aged-set.ts): a Set to every copy of core in the
// thread, records of older copies (plain objects) included, in an array of 8 bytes a record.
import { describe, expect, it } from 'vitest';
import { AgedSet, REMOVED } from '../packages/core/dist/aged-set.js';

type Plain = { id: number; [REMOVED]?: boolean };
const records = (n: number): Plain[] => Array.from({ length: n }, (_, id) => ({ id }));
const ids = (iterable: Iterable<Plain>): number[] => [...iterable].map((record) => record.id);

describe('AgedSet', () => {
  it('is a Set: add, delete, has, size, clear, and iteration in insertion order', () => {
    const set = new AgedSet<Plain>();
    const [a, b, c, never] = records(4);
    expect(set).toBeInstanceOf(Set);
    expect(set.add(a!).add(b!).add(c!)).toBe(set);
    expect(set.size).toBe(3);
    expect(set.delete(b!)).toBe(true);
    expect(set.delete(b!)).toBe(false);
    expect(set.delete(never!)).toBe(false);
    expect(set.size).toBe(2);
    expect(set.has(a!)).toBe(true);
    expect(set.has(b!)).toBe(false);
    expect(set.has(never!)).toBe(false);
    expect(ids(set)).toEqual([0, 2]);
    expect(ids(set.values())).toEqual([0, 2]);
    expect(ids(set.keys())).toEqual([0, 2]);
    expect([...set.entries()].map(([k, v]) => [k.id, v.id])).toEqual([[0, 0], [2, 2]]);
    const seen: number[] = [];
    set.forEach(function (this: { tag: string }, value, key, owner) {
      expect(key).toBe(value);
      expect(owner).toBe(set);
      seen.push(value.id);
      expect(this.tag).toBe('this');
    }, { tag: 'this' });
    expect(seen).toEqual([0, 2]);
    // Added again after its removal: one slot, at the end, as in a Set.
    set.add(b!);
    expect(ids(set)).toEqual([0, 2, 1]);
    expect(set.size).toBe(3);
    set.clear();
    expect(set.size).toBe(0);
    expect(ids(set)).toEqual([]);
    expect(set.delete(a!)).toBe(false);
  });

  it('visits what is added during an iteration and skips what is removed, as a Set does', () => {
    const set = new AgedSet<Plain>();
    const all = records(5);
    for (const record of all.slice(0, 3)) set.add(record);
    const seen: number[] = [];
    for (const record of set) {
      seen.push(record.id);
      if (record.id === 0) {
        set.delete(all[1]!);
        set.add(all[3]!);
      }
    }
    expect(seen).toEqual([0, 2, 3]);
  });

  it('rebuilds its array once most records are removed, and an iterator under way goes on over the old one', () => {
    const set = new AgedSet<Plain>();
    const all = records(5000);
    for (const record of all) set.add(record);
    const iterator = set.values();
    expect(iterator.next().value).toBe(all[0]);
    // Remove every record but the last 1000: the array is rebuilt on the way (more removed than kept).
    for (const record of all.slice(0, 4000)) expect(set.delete(record)).toBe(true);
    expect(set.size).toBe(1000);
    const late = { id: 5000 };
    set.add(late);
    set.delete(all[4500]!);
    const rest = ids({ [Symbol.iterator]: () => iterator });
    // The old array: removed records skipped, the record added after the rebuild not there.
    expect(rest).toEqual(all.slice(4000).map((r) => r.id).filter((id) => id !== 4500));
    expect(ids(set)).toEqual([...rest, 5000]);
    expect(set.size).toBe(1000);
  });

  it('holds 8 bytes a record, where a Set holds 20 or more (heap snapshot)', async () => {
    const { getHeapSnapshot } = await import('node:v8');
    const n = 2000;
    const aged = new AgedSet<Plain>();
    const plain = new Set<Plain>();
    for (const record of records(n)) {
      aged.add(record);
      plain.add(record);
    }
    let text = '';
    const stream = getHeapSnapshot();
    for (let chunk; (chunk = stream.read()) !== null; ) text += chunk;
    const snapshot = JSON.parse(text);
    const fields: string[] = snapshot.snapshot.meta.node_fields;
    const edgeFields: string[] = snapshot.snapshot.meta.edge_fields;
    const [typeAt, nameAt, sizeAt, edgesAt] = ['type', 'name', 'self_size', 'edge_count'].map((f) => fields.indexOf(f));
    const toAt = edgeFields.indexOf('to_node');
    const objectType = snapshot.snapshot.meta.node_types[0].indexOf('object');
    const firstEdge: number[] = [];
    for (let i = 0, edge = 0; i < snapshot.nodes.length; i += fields.length) {
      firstEdge[i] = edge;
      edge += snapshot.nodes[i + edgesAt] * edgeFields.length;
    }
    // What a node points to, two steps deep (a Set's table; an array property's elements).
    const large = (node: number, depth: number): number => {
      let total = 0;
      for (let e = 0; e < snapshot.nodes[node + edgesAt]; e++) {
        const to = snapshot.edges[firstEdge[node]! + e * edgeFields.length + toAt];
        if (snapshot.nodes[to + sizeAt] >= n * 4) total += snapshot.nodes[to + sizeAt];
        else if (depth > 1) total += large(to, depth - 1);
      }
      return total;
    };
    // Each set's storage: the largest among the objects of its class.
    const storage = (className: string): number => {
      let most = 0;
      for (let i = 0; i < snapshot.nodes.length; i += fields.length) {
        if (snapshot.nodes[i + typeAt] === objectType && snapshot.strings[snapshot.nodes[i + nameAt]] === className) most = Math.max(most, large(i, 2));
      }
      return most;
    };
    const agedBytes = storage('AgedSet');
    const setBytes = storage('Set');
    expect(setBytes / n).toBeGreaterThanOrEqual(20);
    expect(agedBytes / n).toBeGreaterThanOrEqual(8);
    expect(agedBytes / n).toBeLessThan(13);
  }, 60_000); // a heap snapshot of the test's own process, all CPU: 8.6 s at load 25 of the default 20 s
});
