/** Argument checks and errno tests shared by this package's proactors. */
import { EAGAIN, EWOULDBLOCK } from '@loopkit/uv';

export function wouldBlock(r: number): boolean {
  return r === -EAGAIN || r === -EWOULDBLOCK;
}

export function checkBytes(data: unknown, name: string): Uint8Array {
  if (!(data instanceof Uint8Array)) {
    throw new TypeError(`${name} must be a Uint8Array or Buffer, got ${typeof data === 'string' ? 'a string' : String(data)}`);
  }
  return data;
}
