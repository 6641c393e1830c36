// Shared test helpers: block briefly on an Epoll/PollSet until an fd is ready.
import { readdirSync } from 'node:fs';
import { PollSet, Epoll, Kqueue, READABLE, WRITABLE } from '@loopkit/uv';

export type Selector = Epoll | Kqueue | PollSet;

/** Readiness classes available on this platform, for describe.each. */
export const selectorClasses: Array<[string, new () => Selector]> = [
  ...(Epoll.isSupported ? [['Epoll', Epoll] as [string, new () => Selector]] : []),
  ...(Kqueue.isSupported ? [['Kqueue', Kqueue] as [string, new () => Selector]] : []),
  ['PollSet', PollSet],
];

/** Waits (blocking, at most `seconds`) until fd reports `events`; returns what it reported. */
export function waitFor(fd: number, events: number, seconds = 2): number {
  const sel = new PollSet();
  try {
    sel.add(fd, events);
    const out = new Int32Array(2);
    const n = sel.wait(seconds, out);
    return n === 1 ? out[1] : 0;
  } finally {
    sel.close();
  }
}

export const waitReadable = (fd: number) => waitFor(fd, READABLE);
export const waitWritable = (fd: number) => waitFor(fd, WRITABLE);

/** Open descriptors of this process (Linux), or -1 where /proc is missing. */
export function openFds(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return -1;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
