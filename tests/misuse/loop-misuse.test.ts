/**
 * Loop misuse checked against Python 3.13.0 (session 17): each gives asyncio's error and
 * leaves the loop running with its queued callbacks and registrations intact.
 */
import { expect, it } from 'vitest';
import { NotImplementedError, RuntimeError, socket, socketpair, type Socket } from 'loopkit';
import { onEachLoop, runIn } from '../contract/loops.js';

onEachLoop('loop misuse', (make, name) => {
  it('close() while running throws RuntimeError; the loop runs on and its queued callbacks run', () =>
    runIn(make, async (loop) => {
      const seen: string[] = [];
      loop.callSoon(() => seen.push('queued'));
      expect(() => loop.close()).toThrow(RuntimeError);
      expect(() => loop.close()).toThrow('Cannot close a running event loop');
      expect(loop.isClosed()).toBe(false);
      await new Promise<void>((resolve) => loop.callSoon(resolve));
      expect(seen).toEqual(['queued']);
    }));

  it('addReader on a closed fd: EBADF (asyncio: OSError), nothing registered; the number works once reused', () =>
    runIn(make, async (loop) => {
      const closed = socket();
      const fd = closed.fileno();
      closed.close();
      let error: unknown = null;
      try {
        loop.addReader(fd, () => {});
      } catch (thrown) {
        error = thrown;
      }
      if (name === 'newEventLoop()') {
        expect((error as { code?: string }).code).toBe('EBADF');
        expect(loop.removeReader(fd)).toBe(false);
        const [a, b]: Socket[] = socketpair();
        try {
          const readable = loop.createFuture<string>();
          loop.addReader(a.fileno(), () => {
            loop.removeReader(a.fileno());
            readable.setResult(Buffer.from(a.recv(16)).toString());
          });
          b.send(Buffer.from('after'));
          expect(await readable).toBe('after');
        } finally {
          a.close();
          b.close();
        }
      } else {
        // completion loops have no readiness callbacks (asyncio's proactor: NotImplementedError)
        expect(error).toBeInstanceOf(NotImplementedError);
      }
    }));
});
