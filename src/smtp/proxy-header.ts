/**
 * The PROXY protocol header (HAProxy's spec, versions 1 and 2) read from the first bytes of a
 * connection: a pure function of the bytes so far, so every malformed form is a table test.
 *
 * - v1: one ASCII line, at most 107 bytes with its CRLF: `PROXY TCP4|TCP6 src dst sport dport`,
 *   or `PROXY UNKNOWN …` (the balancer's own connection, e.g. a health check).
 * - v2: the 12-byte signature `\r\n\r\n\0\r\nQUIT\n`, version/command, family/transport, a
 *   16-bit length, then the addresses and TLVs (skipped). Command LOCAL (a health check) and
 *   family UNSPEC carry no client: the connection is the balancer's own.
 *
 * Only a TCP client (IPv4 or IPv6) is taken as proxied; UDP and UNIX sources, a v2 header longer
 * than MAX_V2_BYTES, a v1 line without its CRLF within 107 bytes, and anything else malformed
 * are invalid. The parser never reads past the header: `length` says where SMTP (or the TLS
 * handshake of an implicit TLS listener) begins.
 */
import { isIPv4, isIPv6 } from 'node:net';

export const V2_SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
/** The longest v1 line the spec allows, CRLF included. */
export const MAX_V1_BYTES = 107;
/** Signature, fixed part and addresses plus room for the TLVs a balancer adds (unique id, TLS facts). */
export const MAX_V2_BYTES = 16 + 2048;
/** The most bytes the reader ever needs to decide. */
export const MAX_HEADER_BYTES = MAX_V2_BYTES;

export type ProxyHeader =
  /** Not enough bytes yet to decide. */
  | { kind: 'incomplete' }
  | { kind: 'invalid'; reason: string }
  /** A proxied TCP client: its address and port. */
  | { kind: 'proxied'; version: 1 | 2; length: number; address: string; port: number }
  /** The balancer speaking for itself (v2 LOCAL or UNSPEC, v1 UNKNOWN): use the connection's own address. */
  | { kind: 'local'; version: 1 | 2; length: number };

const invalid = (reason: string): ProxyHeader => ({ kind: 'invalid', reason });

/** Does `buf` (so far) agree with `prefix` over their common length? */
function agrees(buf: Buffer, prefix: Buffer): boolean {
  const n = Math.min(buf.length, prefix.length);
  return buf.subarray(0, n).equals(prefix.subarray(0, n));
}

export function parseProxyHeader(buf: Buffer): ProxyHeader {
  if (buf.length === 0) return { kind: 'incomplete' };
  if (buf[0] === V2_SIGNATURE[0]) {
    return agrees(buf, V2_SIGNATURE) ? parseV2(buf) : invalid('not a PROXY protocol header');
  }
  return agrees(buf, V1_PREFIX) ? parseV1(buf) : invalid('not a PROXY protocol header');
}

const PORT = /^(?:0|[1-9]\d{0,4})$/;

function parseV1(buf: Buffer): ProxyHeader {
  const end = buf.subarray(0, MAX_V1_BYTES).indexOf('\r\n');
  if (end < 0) {
    if (buf.subarray(0, MAX_V1_BYTES).includes(0x0a)) return invalid('v1 line ends without CR');
    return buf.length >= MAX_V1_BYTES ? invalid('v1 line longer than 107 bytes') : { kind: 'incomplete' };
  }
  const length = end + 2;
  const line = buf.subarray(0, end);
  // printable ASCII only (the spec's line is US-ASCII; nothing else may reach a log or a header)
  if (line.some((b) => b < 0x20 || b > 0x7e)) return invalid('v1 line holds a byte that is not printable ASCII');
  const parts = line.toString('latin1').split(' ');
  const proto = parts[1];
  if (proto === 'UNKNOWN') return { kind: 'local', version: 1, length };
  if (proto !== 'TCP4' && proto !== 'TCP6') return invalid('v1 protocol is not TCP4, TCP6 or UNKNOWN');
  if (parts.length !== 6) return invalid('v1 line is not PROXY <proto> <src> <dst> <sport> <dport>');
  const [, , src, dst, sport, dport] = parts as [string, string, string, string, string, string];
  // plain addresses only: Node's isIPv6 also takes a zone (fe80::1%eth0), which names no client
  const isAddress = proto === 'TCP4' ? isIPv4 : (a: string) => isIPv6(a) && !a.includes('%');
  if (!isAddress(src) || !isAddress(dst)) return invalid(`v1 addresses are not ${proto === 'TCP4' ? 'IPv4' : 'IPv6'}`);
  for (const p of [sport, dport]) if (!PORT.test(p) || Number(p) > 65535) return invalid('v1 port is not 0-65535');
  return { kind: 'proxied', version: 1, length, address: src.toLowerCase(), port: Number(sport) };
}

const AF_UNSPEC = 0;
const AF_INET = 1;
const AF_INET6 = 2;
const STREAM = 1;

function parseV2(buf: Buffer): ProxyHeader {
  if (buf.length < 16) return { kind: 'incomplete' };
  const version = buf[12]! >> 4;
  const command = buf[12]! & 0x0f;
  if (version !== 2) return invalid(`v2 version ${version} is not 2`);
  if (command > 1) return invalid(`v2 command ${command} is neither LOCAL nor PROXY`);
  const family = buf[13]! >> 4;
  const transport = buf[13]! & 0x0f;
  const length = 16 + buf.readUInt16BE(14);
  if (length > MAX_V2_BYTES) return invalid(`v2 header of ${length} bytes is longer than ${MAX_V2_BYTES}`);
  if (buf.length < length) return { kind: 'incomplete' };
  if (command === 0 || family === AF_UNSPEC) return { kind: 'local', version: 2, length };
  if (transport !== STREAM) return invalid('v2 transport is not a stream (TCP)');
  if (family === AF_INET) {
    if (length < 16 + 12) return invalid('v2 IPv4 addresses cut short');
    const address = [...buf.subarray(16, 20)].join('.');
    return { kind: 'proxied', version: 2, length, address, port: buf.readUInt16BE(24) };
  }
  if (family === AF_INET6) {
    if (length < 16 + 36) return invalid('v2 IPv6 addresses cut short');
    const groups: string[] = [];
    for (let i = 16; i < 32; i += 2) groups.push(buf.readUInt16BE(i).toString(16));
    return { kind: 'proxied', version: 2, length, address: compressIPv6(groups), port: buf.readUInt16BE(48) };
  }
  return invalid('v2 address family is not IPv4 or IPv6');
}

/** The canonical text form (RFC 5952: lowercase, the longest run of zero groups as ::). */
function compressIPv6(groups: string[]): string {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}
