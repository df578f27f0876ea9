/**
 * Is a listener open only to loopback and private networks? Decides listen[].greetingDelay's
 * default: the early-talker delay protects a listener the internet can reach, and on a device
 * network it only slows down clients that open one connection per message.
 */
import { BlockList } from 'node:net';

/** The part of a parsed listener network (listener-schema.ts Cidr) this file reads. */
export interface Network {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/**
 * Loopback, RFC 1918, IPv4 link-local, IPv6 unique-local and link-local, and the IPv4 ones again
 * as IPv4-mapped IPv6. Not 100.64.0.0/10 (carrier-grade NAT: other customers of the provider).
 */
const PRIVATE: readonly [string, number, 'ipv4' | 'ipv6'][] = [
  ['127.0.0.0', 8, 'ipv4'],
  ['10.0.0.0', 8, 'ipv4'],
  ['172.16.0.0', 12, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['169.254.0.0', 16, 'ipv4'],
  ['::1', 128, 'ipv6'],
  ['fc00::', 7, 'ipv6'],
  ['fe80::', 10, 'ipv6'],
  ['::ffff:127.0.0.0', 104, 'ipv6'],
  ['::ffff:10.0.0.0', 104, 'ipv6'],
  ['::ffff:172.16.0.0', 108, 'ipv6'],
  ['::ffff:192.168.0.0', 112, 'ipv6'],
  ['::ffff:169.254.0.0', 112, 'ipv6'],
];

const RANGES = PRIVATE.map(([address, prefix, family]) => {
  const list = new BlockList();
  list.addSubnet(address, prefix, family);
  return { list, prefix, family };
});

/** True when the network lies wholly inside one private range (its prefix at least as long). */
export function isPrivateNetwork(n: Network): boolean {
  return RANGES.some((r) => r.family === n.family && n.prefix >= r.prefix && r.list.check(n.address, n.family));
}

/** True when every allowed network is loopback or private. */
export function privateNetworksOnly(allow: readonly Network[]): boolean {
  return allow.every(isPrivateNetwork);
}
