/** PROXY protocol headers as balancers write them (HAProxy's spec), for the proxy tests. */
import { isIPv4 } from 'node:net';

export const SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

/** `PROXY TCP4|TCP6 src dst sport dport\r\n`. */
export function proxyV1(src: string, sport = 40000, dst?: string, dport = 25): Buffer {
  const v4 = isIPv4(src);
  return Buffer.from(`PROXY ${v4 ? 'TCP4' : 'TCP6'} ${src} ${dst ?? (v4 ? '127.0.0.1' : '::1')} ${sport} ${dport}\r\n`, 'latin1');
}

function ipv6Bytes(address: string): Buffer {
  const [head, tail] = address.includes('::') ? address.split('::') : [address, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g || '0', 16), i * 2));
  return out;
}

export interface V2Options {
  command?: 'LOCAL' | 'PROXY';
  /** Default: the family of `src`; UNSPEC carries no addresses. */
  family?: 'INET' | 'INET6' | 'UNSPEC' | 'UNIX';
  /** TLVs appended after the addresses (skipped by the relay). */
  tlvs?: Buffer;
}

/** The binary v2 header for a TCP client `src:sport` (to `dst:dport`). */
export function proxyV2(src = '0.0.0.0', sport = 40000, options: V2Options = {}, dst?: string, dport = 25): Buffer {
  const family = options.family ?? (isIPv4(src) ? 'INET' : 'INET6');
  let addresses = Buffer.alloc(0);
  if (family === 'INET') {
    addresses = Buffer.alloc(12);
    src.split('.').forEach((o, i) => (addresses[i] = Number(o)));
    (dst ?? '127.0.0.1').split('.').forEach((o, i) => (addresses[4 + i] = Number(o)));
    addresses.writeUInt16BE(sport, 8);
    addresses.writeUInt16BE(dport, 10);
  } else if (family === 'INET6') {
    addresses = Buffer.concat([ipv6Bytes(src), ipv6Bytes(dst ?? '::1'), Buffer.alloc(4)]);
    addresses.writeUInt16BE(sport, 32);
    addresses.writeUInt16BE(dport, 34);
  } else if (family === 'UNIX') {
    addresses = Buffer.alloc(216);
  }
  const body = Buffer.concat([addresses, options.tlvs ?? Buffer.alloc(0)]);
  const fixed = Buffer.alloc(4);
  fixed[0] = 0x20 | (options.command === 'LOCAL' ? 0 : 1);
  fixed[1] = ({ UNSPEC: 0, INET: 1, INET6: 2, UNIX: 3 } as const)[family] * 16 + (family === 'UNSPEC' ? 0 : 1);
  fixed.writeUInt16BE(body.length, 2);
  return Buffer.concat([SIGNATURE, fixed, body]);
}

/** A TLV (type, 16-bit length, value). */
export function tlv(type: number, value: Buffer): Buffer {
  const head = Buffer.alloc(3);
  head[0] = type;
  head.writeUInt16BE(value.length, 1);
  return Buffer.concat([head, value]);
}
