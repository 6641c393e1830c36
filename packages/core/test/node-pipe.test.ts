/** NodePipeTransport (the default pipe transport on Node streams): what arrives before the stream closes is never dropped. */
import { PassThrough } from 'node:stream';
import { expect, it } from 'vitest';
import { NodePipeTransport, Protocol, TestLoop, sleep, type Transport } from '@loopkit/core';

class Reader extends Protocol {
  transport: Transport | null = null;
  events: string[] = [];
  override connectionMade(transport: Transport): void {
    this.transport = transport;
  }
  override dataReceived(data: Uint8Array): void {
    this.events.push(`data:${Buffer.from(data).toString()}`);
  }
  override eofReceived(): void {
    this.events.push('eof');
  }
  override connectionLost(exc: unknown): void {
    this.events.push(exc === null ? 'lost' : `lost:${String(exc)}`);
  }
}

it('a read pipe whose stream ends and closes while held data waits for delivery delivers it all, then EOF', async () => {
  const loop = new TestLoop();
  const events = await loop.runUntilComplete(async () => {
    const stream = new PassThrough();
    const reader = new Reader();
    const waiter = loop.createFuture<void>();
    new NodePipeTransport(loop, stream, reader, waiter, 'read');
    await waiter;
    // Data that came while reading was paused waits in the transport...
    reader.transport!.pauseReading();
    stream.emit('data', Buffer.from('abc'));
    // ...and resuming delivers it on the next iteration; the child's pipe ends and closes
    // before that (a child that wrote and exited at once, as `echo` does).
    reader.transport!.resumeReading();
    stream.emit('end');
    stream.emit('close');
    await sleep(0.01);
    return reader.events;
  });
  loop.close();
  expect(events).toEqual(['data:abc', 'eof', 'lost']);
});
