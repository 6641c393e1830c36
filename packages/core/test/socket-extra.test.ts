/** socketExtra: what a socket transport reports as its extra info, with and without each address. */
import { describe, expect, it } from 'vitest';
import { socketExtra } from '../src/base-transport.js';

/** A socket whose address calls answer or throw as told. */
function fakeSocket(sockname: unknown, peername: unknown) {
  const answer = (value: unknown) => () => {
    if (value instanceof Error) throw value;
    return value;
  };
  return { getsockname: answer(sockname), getpeername: answer(peername) };
}

describe('socketExtra', () => {
  const local = { address: '127.0.0.1', family: 'IPv4', port: 8080 };
  const remote = { address: '127.0.0.2', family: 'IPv4', port: 50000 };
  const notConnected = Object.assign(new Error('not connected'), { code: 'ENOTCONN' });

  it('a connected socket: the socket, sockname and peername, as its calls returned them', () => {
    const sock = fakeSocket(local, remote);
    const extra = socketExtra(sock);
    expect(Object.keys(extra)).toEqual(['socket', 'sockname', 'peername']);
    expect(extra.socket).toBe(sock);
    expect(extra.sockname).toBe(local);
    expect(extra.peername).toBe(remote);
  });

  it('leaves out what the socket cannot tell (no key, so getExtraInfo gives its default)', () => {
    expect(Object.keys(socketExtra(fakeSocket(local, notConnected)))).toEqual(['socket', 'sockname']);
    expect(Object.keys(socketExtra(fakeSocket(notConnected, remote)))).toEqual(['socket', 'peername']);
    expect(Object.keys(socketExtra(fakeSocket(notConnected, notConnected)))).toEqual(['socket']);
  });
});
