/**
 * Where SSLProtocol lets the socket transport read: one buffer shared by the process while
 * it is free (a readiness transport reads and calls bufferUpdated at once), a connection's
 * own while another connection holds the shared one across an asynchronous read, and a
 * new shared one after a connection was lost with its read still posted (that read may
 * still write into the old one).
 */
import { expect, it } from 'vitest';
import { App, pattern, tlsPair, until, withTLSLoop, type FakeTLSLoop } from './tls-helpers.js';

async function connected(loop: FakeTLSLoop) {
  const clientApp = new App(loop);
  const serverApp = new App(loop);
  const pair = tlsPair(loop, clientApp, serverApp);
  await pair.handshake;
  return { ...pair, clientApp, serverApp };
}

it('connections read through one shared buffer, each giving it back after its read', () =>
  withTLSLoop(async (loop) => {
    const one = await connected(loop);
    const two = await connected(loop);
    const first = one.server.getBuffer(-1);
    one.server.bufferUpdated(0);
    const second = two.server.getBuffer(-1);
    two.server.bufferUpdated(0);
    expect(second).toBe(first);
    // Traffic through both connections goes through it and arrives intact.
    const messages = [pattern(40_000, 1), pattern(3000, 2)];
    one.clientApp.transport!.write(messages[0]!);
    two.clientApp.transport!.write(messages[1]!);
    await until(() => one.serverApp.received.length === 40_000 && two.serverApp.received.length === 3000);
    expect(one.serverApp.received).toEqual(messages[0]);
    expect(two.serverApp.received).toEqual(messages[1]);
    expect(two.server.getBuffer(-1)).toBe(first);
    two.server.bufferUpdated(0);
  }));

it('a connection holding the shared buffer across a read keeps it; the others read into their own', () =>
  withTLSLoop(async (loop) => {
    const one = await connected(loop);
    const two = await connected(loop);
    const held = one.server.getBuffer(-1);
    const own = two.server.getBuffer(-1);
    expect(own).not.toBe(held);
    expect(one.server.getBuffer(-1)).toBe(held); // asked again before its read completed
    two.server.bufferUpdated(0);
    expect(two.server.getBuffer(-1)).toBe(own); // still held by the first: its own again
    two.server.bufferUpdated(0);
    one.server.bufferUpdated(0);
    expect(two.server.getBuffer(-1)).toBe(held); // given back: shared again
    two.server.bufferUpdated(0);
  }));

it('a connection lost while holding the shared buffer leaves it to its read', () =>
  withTLSLoop(async (loop) => {
    const one = await connected(loop);
    const two = await connected(loop);
    const held = one.server.getBuffer(-1);
    one.rawServer.abort();
    await until(() => one.serverApp.events.includes('lost'));
    const next = two.server.getBuffer(-1);
    expect(next).not.toBe(held);
    held.fill(0x55); // the posted read writing late changes nothing the others read
    two.server.bufferUpdated(0);
    expect(two.server.getBuffer(-1)).toBe(next); // the new shared buffer
    two.server.bufferUpdated(0);
    two.clientApp.transport!.write(pattern(20_000, 3));
    await until(() => two.serverApp.received.length === 20_000);
    expect(two.serverApp.received).toEqual(pattern(20_000, 3));
  }));
