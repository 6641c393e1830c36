/** The selectors module, on every selector this platform offers (test_selectors.py's cases). */
import { describe, expect, it } from 'vitest';
import { RuntimeError } from '@loopkit/core';
import { Epoll, Kqueue, socketpair, type Socket } from '@loopkit/uv';
import {
  BaseSelector,
  DefaultSelector,
  EVENT_READ,
  EVENT_WRITE,
  EpollSelector,
  KeyError,
  KqueueSelector,
  PollSelector,
  SelectorKey,
} from '@loopkit/selector';

const classes: Array<[string, new () => BaseSelector, boolean]> = [
  ['EpollSelector', EpollSelector, Epoll.isSupported],
  ['KqueueSelector', KqueueSelector, Kqueue.isSupported],
  ['PollSelector', PollSelector, true],
];

/** A selector and a socket pair, all closed after `body`. */
function withSelector(Cls: new () => BaseSelector, body: (s: BaseSelector, rd: Socket, wr: Socket) => void): void {
  const s = new Cls();
  const [rd, wr] = socketpair();
  try {
    body(s, rd, wr);
  } finally {
    s.close();
    rd.close();
    wr.close();
  }
}

for (const [name, Cls, supported] of classes) {
  describe.runIf(supported)(name, () => {
    it('register returns the key; getKey and the live getMap() find it', () =>
      withSelector(Cls, (s, rd) => {
        const map = s.getMap()!;
        expect(map).toBeInstanceOf(Map);
        const key = s.register(rd, EVENT_READ, 'data');
        expect(key).toBeInstanceOf(SelectorKey);
        expect(key).toMatchObject({ fileobj: rd, fd: rd.fileno(), events: EVENT_READ, data: 'data' });
        expect(s.getKey(rd)).toBe(key);
        expect(s.getKey(rd.fileno())).toBe(key);
        expect(map.get(rd.fileno())).toBe(key);
        expect(map.size).toBe(1);
        expect(() => map.set(99, key)).toThrow(TypeError);
        expect(() => map.delete(rd.fileno())).toThrow(TypeError);
      }));

    it('registering twice and unknown unregister/getKey/modify throw KeyError', () =>
      withSelector(Cls, (s, rd, wr) => {
        s.register(rd, EVENT_READ);
        expect(() => s.register(rd, EVENT_WRITE)).toThrow(KeyError);
        expect(() => s.register(rd.fileno(), EVENT_READ)).toThrow(/already registered/);
        expect(() => s.unregister(wr)).toThrow(KeyError);
        expect(() => s.getKey(wr)).toThrow(KeyError);
        expect(() => s.modify(wr, EVENT_READ)).toThrow(KeyError);
        expect(s.getMap()!.size).toBe(1);
      }));

    it('a bad mask, a bad file object or a bad fd throws and registers nothing', () =>
      withSelector(Cls, (s, rd) => {
        for (const events of [0, 4, -1, 1.5, '1']) expect(() => s.register(rd, events as number)).toThrow(RangeError);
        expect(() => s.register(rd, 0)).toThrow(/events/);
        expect(() => s.register({} as never, EVENT_READ)).toThrow(TypeError);
        expect(() => s.register('3' as never, EVENT_READ)).toThrow(/fileobj/);
        expect(() => s.register(-1, EVENT_READ)).toThrow(RangeError);
        expect(() => s.register({ fileno: () => 'x' } as never, EVENT_READ)).toThrow(TypeError);
        const [a, b] = socketpair();
        const stale = a.fileno();
        a.close();
        b.close();
        // epoll and kqueue check the fd at once; poll(2), like Python's PollSelector, only when polling.
        if (!(s instanceof PollSelector)) {
          expect(() => s.register(stale, EVENT_READ)).toThrow(expect.objectContaining({ code: 'EBADF' }));
          expect(s.getMap()!.size).toBe(0);
        }
      }));

    it('select(0) and a negative timeout never block; a positive one waits', () =>
      withSelector(Cls, (s, rd) => {
        s.register(rd, EVENT_READ);
        let t0 = performance.now();
        expect(s.select(0)).toEqual([]);
        expect(s.select(-1)).toEqual([]);
        expect(performance.now() - t0).toBeLessThan(50);
        t0 = performance.now();
        expect(s.select(0.05)).toEqual([]);
        expect(performance.now() - t0).toBeGreaterThanOrEqual(45);
        expect(() => s.select('1' as never)).toThrow(TypeError);
      }));

    it('select reports readiness as [key, events], limited to the registered events', () =>
      withSelector(Cls, (s, rd, wr) => {
        const rkey = s.register(rd, EVENT_READ);
        const wkey = s.register(wr, EVENT_READ | EVENT_WRITE);
        expect(s.select(0)).toEqual([[wkey, EVENT_WRITE]]);
        wr.send(Buffer.from('x'));
        const ready = new Map(s.select(0).map(([key, events]) => [key, events]));
        expect(ready.get(rkey)).toBe(EVENT_READ);
        expect(ready.get(wkey)).toBe(EVENT_WRITE);
        rd.recv(10);
        expect(s.select(0)).toEqual([[wkey, EVENT_WRITE]]);
      }));

    it('modify changes events in place, or only the data (a new key, same fd)', () =>
      withSelector(Cls, (s, rd, wr) => {
        const key = s.register(wr, EVENT_READ, 'a');
        expect(s.select(0)).toEqual([]);
        const k2 = s.modify(wr, EVENT_WRITE, 'a');
        expect(k2).toMatchObject({ fd: wr.fileno(), events: EVENT_WRITE, data: 'a' });
        expect(s.select(0)).toEqual([[k2, EVENT_WRITE]]);
        const k3 = s.modify(wr, EVENT_WRITE, 'b');
        expect(k3).not.toBe(k2);
        expect(k3.data).toBe('b');
        expect(s.getKey(wr)).toBe(k3);
        expect(s.modify(wr, EVENT_WRITE, 'b')).toBe(k3);
        expect(key.data).toBe('a');
        expect(() => s.modify(wr, 8)).toThrow(RangeError);
        void rd;
      }));

    it('unregister works after the socket was closed (found by object) and returns the key', () =>
      withSelector(Cls, (s) => {
        const [a, b] = socketpair();
        const ka = s.register(a, EVENT_READ);
        s.register(b, EVENT_WRITE);
        a.close();
        b.close();
        expect(s.unregister(a)).toBe(ka);
        s.unregister(b);
        expect(s.getMap()!.size).toBe(0);
      }));

    it('close() empties the map it handed out; later calls throw RuntimeError; idempotent', () => {
      const s = new Cls();
      const [rd, wr] = socketpair();
      const map = s.getMap()!;
      s.register(rd, EVENT_READ);
      s.register(wr, EVENT_WRITE);
      s.close();
      s.close();
      expect(map.size).toBe(0);
      expect(s.getMap()).toBeNull();
      expect(() => s.getKey(rd)).toThrow(RuntimeError);
      expect(() => s.select(0)).toThrow(/closed/);
      expect(() => s.register(rd, EVENT_READ)).toThrow(RuntimeError);
      expect(rd.send(Buffer.from('ok'))).toBe(2); // registered sockets stay open
      rd.close();
      wr.close();
    });

    it('watch() calls back from Node\'s loop when a registered fd is ready', async () => {
      const s = new Cls();
      const [rd, wr] = socketpair();
      s.register(rd, EVENT_READ);
      const woke = new Promise<void>((resolve) => s.watch(resolve));
      wr.send(Buffer.from('x'));
      await woke;
      expect(s.select(0).length).toBe(1);
      s.unwatch();
      s.close();
      rd.close();
      wr.close();
    });
  });
}

describe('platform selectors', () => {
  it('DefaultSelector is the best available; KqueueSelector says where it is unsupported', () => {
    if (Epoll.isSupported) expect(DefaultSelector).toBe(EpollSelector);
    else if (Kqueue.isSupported) expect(DefaultSelector).toBe(KqueueSelector);
    if (!Kqueue.isSupported) {
      expect(() => new KqueueSelector()).toThrow(expect.objectContaining({ code: 'ERR_NOT_SUPPORTED', message: expect.stringMatching(/Kqueue/) }));
    }
  });
});
