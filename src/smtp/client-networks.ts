/**
 * listen[].allow: the client networks that may connect, as a net.BlockList (CIDR, IPv4 and
 * IPv6). An IPv4 client seen on a dual-stack socket as ::ffff:a.b.c.d matches its IPv4 networks
 * (and an IPv4-mapped network in the list matches the IPv4 client), so the list means the same
 * whichever way the listener is bound.
 */
import { BlockList, isIP, isIPv4 } from 'node:net';
import type { Cidr } from '../config/index.js';

export type ClientFilter = (address: string) => boolean;

const MAPPED_DOTTED = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i;
const MAPPED_HEX = /^(?:0{0,4}:){5}ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i;

/** The IPv4 address inside an IPv4-mapped IPv6 address (any spelling), or null. */
export function unmapIPv4(address: string): string | null {
  const dotted = MAPPED_DOTTED.exec(address);
  if (dotted && isIPv4(dotted[1]!)) return dotted[1]!;
  const expanded = address.startsWith('::') ? `0:0:0:0:0:${address.slice(2)}` : address;
  const hex = MAPPED_HEX.exec(expanded);
  if (!hex) return null;
  const hi = parseInt(hex[1]!, 16);
  const lo = parseInt(hex[2]!, 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

export function clientFilter(networks: readonly Cidr[]): ClientFilter {
  const list = new BlockList();
  for (const n of networks) {
    const v4 = n.family === 'ipv6' ? unmapIPv4(n.address) : null;
    if (v4 !== null && n.prefix >= 96) list.addSubnet(v4, n.prefix - 96, 'ipv4');
    else list.addSubnet(n.address, n.prefix, n.family);
  }
  return (address: string) => {
    const family = isIP(address);
    if (family === 4) return list.check(address, 'ipv4');
    if (family !== 6) return false;
    const v4 = unmapIPv4(address);
    return v4 !== null ? list.check(v4, 'ipv4') : list.check(address, 'ipv6');
  };
}
