/**
 * A stream transport's extra info made when first asked for (NetProactor's and uring's, as the
 * selector's): most connections never ask, and the info with its address objects was ~150
 * bytes of each idle connection. Until then the transport keeps the addresses it read when the
 * connection was made (a peer that reset can no longer be asked), as an IP address's host text
 * (shared with the other connections from that host) and its port.
 */
import type { Address } from './proactor.js';

/** A transport's extra info until first asked for (frozen: it is every such transport's). */
export const EXTRA_NOT_READ: Record<string, unknown> = Object.freeze({});

/** An address as kept: an IP address's host text (its port apart), another address as read, undefined for none. */
export type KeptAddress = string | Address | undefined;

/** `read()`'s address split for keeping: [host text or address or undefined, port]. */
export function keptAddress(read: () => Address): [KeptAddress, number] {
  let address: Address;
  try {
    address = read();
  } catch {
    return [undefined, 0]; // unbound, not connected or reset already: nothing to report
  }
  return 'port' in address && typeof address.address === 'string' ? [address.address, address.port] : [address, 0];
}

/** The kept address as the socket gave it (an object with its properties in their order). */
export function addressOf(kept: KeptAddress, port: number, family: string): Address | undefined {
  return typeof kept === 'string' ? { address: kept, family: family === 'inet6' ? 'IPv6' : 'IPv4', port } : kept;
}
