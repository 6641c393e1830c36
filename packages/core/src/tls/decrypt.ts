/**
 * Taking plaintext out of an engine (engine.ts's read contract) for SSLProtocol: each
 * function keeps what was decrypted before an engine failure, so the app gets those bytes
 * before the connection closes with the error.
 */
import { paceReceived } from '../young-pacing.js';
import type { TLSEngine } from './engine.js';

/** Plaintext taken from the engine per read() call. */
export const READ_MAX = 256 * 1024;

export interface Decrypted {
  /** The plaintext ready now (one buffer), or null. */
  data: Uint8Array | null;
  /** The peer's close_notify was read (nothing after it is taken). */
  end: boolean;
  /** The engine's failure after `data`, or null. */
  error: unknown;
}

/**
 * Everything the engine can decrypt without more input, after feeding it `input` (in one
 * call with the first read when the engine has feedAndRead); a failure to feed is an error here.
 */
export function decryptAll(engine: TLSEngine, input: Uint8Array | null = null): Decrypted {
  // One read gives everything in the common case: an array only for a second chunk.
  let first: Uint8Array | null = null;
  let more: Uint8Array[] | null = null;
  let end = false;
  let error: unknown = null;
  try {
    let chunk: Uint8Array | null;
    if (input === null) chunk = engine.read(READ_MAX);
    else if (engine.feedAndRead !== undefined) chunk = engine.feedAndRead(input, READ_MAX);
    else {
      engine.feed(input);
      chunk = engine.read(READ_MAX);
    }
    for (; chunk !== null; chunk = engine.read(READ_MAX)) {
      if (chunk.length === 0) {
        end = true;
        break;
      }
      if (first === null) first = chunk;
      else (more ??= [first]).push(chunk);
    }
  } catch (err) {
    error = err;
  }
  const data = more !== null ? Buffer.concat(more) : first;
  // each plaintext chunk is fresh memory the app may keep: pace scavenges by it
  paceReceived(data === null ? 0 : data.length);
  return { data, end, error };
}

export interface Filled {
  /** Bytes put at the start of the buffer. */
  filled: number;
  end: boolean;
  /** The buffer is full: more may be ready. */
  full: boolean;
  error: unknown;
}

/** Decrypt into `buf` (a BufferedProtocol's buffer) until it is full or the engine has no more. */
export function decryptInto(engine: TLSEngine, buf: Uint8Array): Filled {
  let filled = 0;
  let last = 1;
  let error: unknown = null;
  try {
    while (filled < buf.length) {
      last = engine.readInto(filled === 0 ? buf : buf.subarray(filled));
      if (last <= 0) break;
      filled += last;
    }
  } catch (err) {
    error = err;
  }
  return { filled, end: last === 0, full: filled === buf.length, error };
}
