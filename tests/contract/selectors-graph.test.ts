/**
 * API.md's @loopkit/selector surface (SelectorKey fields, synchronous select returning
 * [key, events] pairs, select(0) and negative timeouts never blocking, getMap a Map,
 * SelectorEventLoop(selector?)) and the call-graph introspection functions' shapes.
 */
import { describe, expect, it } from 'vitest';
import {
  BaseSelector,
  DefaultSelector,
  EVENT_READ,
  EVENT_WRITE,
  PollSelector,
  SelectorEventLoop,
  SelectorKey,
  Task,
  captureCallGraph,
  formatCallGraph,
  printCallGraph,
  sleep,
  socketpair,
  type FutureCallGraph,
} from 'loopkit';
import { onEachLoop, runIn } from './loops.js';

describe('selectors', () => {
  for (const [name, Make] of [['DefaultSelector', DefaultSelector], ['PollSelector', PollSelector]] as const) {
    it(`${name}: register gives a SelectorKey {fileobj, fd, events, data}; select(timeout) is synchronous and returns [key, events] pairs`, () => {
      const selector = new Make();
      expect(selector).toBeInstanceOf(BaseSelector);
      const [a, b] = socketpair();
      try {
        const key = selector.register(b, EVENT_READ, 'payload');
        expect(key).toBeInstanceOf(SelectorKey);
        expect(key.fileobj).toBe(b);
        expect(key.fd).toBe(b.fileno());
        expect(key.events).toBe(EVENT_READ);
        expect(key.data).toBe('payload');
        expect(selector.getKey(b)).toBe(key);
        const idle = selector.select(0);
        expect(Array.isArray(idle)).toBe(true);
        expect(idle).toHaveLength(0);
        const started = performance.now();
        expect(selector.select(-1)).toEqual([]);
        expect(performance.now() - started).toBeLessThan(500);
        a.send(Buffer.from('x'));
        const ready = selector.select(1);
        expect(ready).toHaveLength(1);
        expect(ready[0]![0]).toBe(key);
        expect(ready[0]![1]).toBe(EVENT_READ);
        const modified = selector.modify(b, EVENT_READ | EVENT_WRITE, 'changed');
        expect(modified.data).toBe('changed');
        const map = selector.getMap();
        expect(map).toBeInstanceOf(Map);
        expect(map!.get(b.fileno())?.fileobj).toBe(b);
        expect(selector.unregister(b).fd).toBe(b.fileno());
        expect(selector.getMap()!.size).toBe(0);
      } finally {
        selector.close();
        a.close();
        b.close();
      }
    });
  }

  it('SelectorEventLoop(selector?) runs on the selector given', async () => {
    const selector = new PollSelector();
    const loop = new SelectorEventLoop(selector);
    try {
      expect(await loop.runUntilComplete(() => sleep(0.01, 'ran'))).toBe('ran');
    } finally {
      loop.close();
    }
  });
});

onEachLoop('call graph', (make) => {
  it('captureCallGraph() defaults to the current task: {future, callStack, awaitedBy}; a task awaiting another is its awaitedBy; null in a plain callback, an error outside a loop (as 3.14)', async () => {
    expect(() => captureCallGraph()).toThrow(/outside of a running event loop/);
    await runIn(make, async (loop) => {
      const inCallback = loop.createFuture<FutureCallGraph | null>();
      loop.callSoon(() => inCallback.setResult(captureCallGraph()));
      expect(await inCallback).toBeNull();
      let graph: FutureCallGraph | null = null;
      const inner = loop.createTask(async () => {
        await sleep(0);
        graph = captureCallGraph();
      }, { name: 'inner' });
      const outer = loop.createTask(async () => inner, { name: 'outer' });
      await outer;
      const g = graph as FutureCallGraph | null;
      expect(g?.future).toBe(inner);
      expect(Array.isArray(g?.callStack)).toBe(true);
      expect(g?.awaitedBy).toHaveLength(1);
      expect(g?.awaitedBy[0]!.future).toBe(outer);
      expect(g?.awaitedBy[0]!.future).toBeInstanceOf(Task);
    });
  });

  it('formatCallGraph returns a string naming the tasks; printCallGraph writes it; depth/limit are options, others refused', async () => {
    await runIn(make, async (loop) => {
      let text = '';
      let printed = '';
      const inner = loop.createTask(async () => {
        await sleep(0);
        text = formatCallGraph();
        printCallGraph(null, { file: { write: (s: string) => (printed += s) } });
      }, { name: 'inner-named' });
      const outer = loop.createTask(async () => inner, { name: 'outer-named' });
      await outer;
      expect(typeof text).toBe('string');
      expect(text).toContain('inner-named');
      expect(text).toContain('outer-named');
      expect(printed).toContain('inner-named');
      expect(() => captureCallGraph(null, { depht: 1 } as never)).toThrow(/depht/);
      expect(captureCallGraph(outer, { depth: 1, limit: 1 })?.future).toBe(outer);
    });
  });
});
