// Shared test helpers: block briefly on an Epoll/PollSet until an fd is ready.
import { readdirSync, readlinkSync } from 'node:fs';
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
/**
 * Open descriptors of this process (-1 where /proc is absent); with `kind`, only those whose
 * link names it (e.g. 'eventpoll'), so descriptors other code opens meanwhile do not count.
 */
export function openFds(kind?: string): number {
  try {
    const fds = readdirSync('/proc/self/fd');
    if (kind === undefined) return fds.length;
    let n = 0;
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/self/fd/${fd}`).includes(kind)) n++;
      } catch {
        // closed between the listing and the read
      }
    }
    return n;
  } catch {
    return -1;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
