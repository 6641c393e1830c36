/**
 * @internal Node's Buffer class (`Buffer[Symbol.species]`, the object `subarray` makes): a chunk
 * made with it from a receive slab's ArrayBuffer is the Buffer `subarray` makes, without the
 * `buffer` getter `subarray` calls (a call into V8's C++) for every chunk read or harvested:
 * 300-1,300 instructions less per read (bench/README.md, "Session 19 (s19-netproactor)" and
 * "Session 22 (s22-uring)"). NetProactor's reads and uring's chunks are made with it.
 */
export const NodeBuffer = (Buffer as unknown as Record<symbol, new (memory: ArrayBuffer, byteOffset: number, length: number) => Buffer>)[Symbol.species]!;
