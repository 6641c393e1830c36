/** Argument checks and errno tests shared by this package's proactors. */
import { EAGAIN, EWOULDBLOCK } from '@loopkit/uv';

export function wouldBlock(r: number): boolean {
  return r === -EAGAIN || r === -EWOULDBLOCK;
}

export function checkSize(n: unknown, name: string): number {
  if (typeof n !== 'number' || !Number.isInteger(n)) throw new TypeError(`${name} must be an integer, got ${String(n)}`);
  if (n < 0) throw new RangeError(`${name} must be >= 0, got ${n}`);
  return n;
}

export function checkBytes(data: unknown, name: string): Uint8Array {
  if (!(data instanceof Uint8Array)) {
    throw new TypeError(`${name} must be a Uint8Array or Buffer, got ${typeof data === 'string' ? 'a string' : String(data)}`);
  }
  return data;
}
