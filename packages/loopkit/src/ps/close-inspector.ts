/**
 * The inspector that `loopkit ps` opened in its target must close again, but closing it
 * (`process._debugEnd`) while a WebSocket session is still attached can crash Node (a
 * segfault in the inspector's teardown, seen about once in six attaches under load). So
 * the target closes it itself, once it sees no connection left on the inspector's port:
 * on Linux it reads its own /proc/self/net/tcp{,6}; where that cannot be read it waits
 * 500 ms instead, time for our client (which disconnects as soon as it has its answer)
 * to be gone.
 */

/**
 * Runs in the target (its source is sent as text, so it uses nothing from outside itself).
 * Never throws: a throw in the target's timer would crash it.
 */
function closeWhenDetached(port: number): boolean {
  const POLL_MS = 25;
  const GIVE_UP_MS = 10_000;
  const FALLBACK_MS = 500;
  const ATTACHED = new Set(['01', '08']); // ESTABLISHED, CLOSE_WAIT: a session still bound to a socket
  const fs = (process as any).getBuiltinModule?.('node:fs');
  /** true: a connection to `port` is still open; false: none; null: cannot tell. */
  const connected = (): boolean | null => {
    if (fs === undefined) return null;
    let seen = false;
    for (const table of ['/proc/self/net/tcp', '/proc/self/net/tcp6']) {
      let text: string;
      try {
        text = fs.readFileSync(table, 'utf8');
      } catch {
        continue;
      }
      seen = true;
      for (const line of text.split('\n').slice(1)) {
        const fields = line.trim().split(/\s+/);
        if (fields.length < 4) continue;
        const localPort = parseInt(fields[1]!.split(':')[1]!, 16);
        if (localPort === port && ATTACHED.has(fields[3]!)) return true;
      }
    }
    return seen ? false : null;
  };
  const end = (): void => {
    try {
      (process as any)._debugEnd();
    } catch {
      // already closed
    }
  };
  const started = Date.now();
  const check = (): void => {
    try {
      const state = connected();
      if (state === null) {
        setTimeout(end, FALLBACK_MS).unref();
        return;
      }
      // Past the deadline a connection is not ours (ours closes as soon as it has its answer).
      if (state && Date.now() - started < GIVE_UP_MS) {
        setTimeout(check, POLL_MS).unref();
        return;
      }
      // The socket is gone; one more turn lets the main thread drop the session it served.
      setTimeout(end, POLL_MS).unref();
    } catch {
      setTimeout(end, FALLBACK_MS).unref();
    }
  };
  // Not now: this runs inside our own evaluation, whose answer must still be sent.
  setTimeout(check, POLL_MS).unref();
  return true;
}

/** The expression that makes the target close its inspector on `port` once no session is attached. */
export function closeExpression(port: number): string {
  return `(${closeWhenDetached.toString()})(${port})`;
}
