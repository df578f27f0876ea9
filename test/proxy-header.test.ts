/**
 * The PROXY header parser (src/smtp/proxy-header.ts): every form a balancer sends, every
 * malformed one refused with a reason, never a byte read past the header, never a throw; then
 * fuzzed (fast-check): any bytes, any cut, any byte changed.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_V1_BYTES, MAX_V2_BYTES, parseProxyHeader } from '../src/smtp/proxy-header.js';
import { SIGNATURE, proxyV1, proxyV2, tlv } from './support/proxy-header.js';

const b = (s: string) => Buffer.from(s, 'latin1');
const SMTP = b('EHLO client.example\r\n');

describe('PROXY header: the forms balancers send', () => {
  it.each([
    ['v1 TCP4', proxyV1('192.0.2.7', 51234), '192.0.2.7', 51234, 1],
    ['v1 TCP6', proxyV1('2001:db8::7', 443), '2001:db8::7', 443, 1],
    ['v1 TCP6 upper case', b('PROXY TCP6 2001:DB8::7 ::1 1 2\r\n'), '2001:db8::7', 1, 1],
    ['v1 at the 107-byte limit', b(`PROXY TCP6 ${'ffff:'.repeat(7)}ffff ${'ffff:'.repeat(7)}ffff 65535 65535\r\n`), 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 65535, 1],
    ['v2 IPv4', proxyV2('192.0.2.7', 51234), '192.0.2.7', 51234, 2],
    ['v2 IPv6', proxyV2('2001:db8::7', 1025), '2001:db8::7', 1025, 2],
    ['v2 IPv6 no zero run', proxyV2('2001:db8:1:2:3:4:5:6', 1), '2001:db8:1:2:3:4:5:6', 1, 2],
    ['v2 IPv4-mapped IPv6', proxyV2('::ffff:c000:207', 7), '::ffff:c000:207', 7, 2],
    ['v2 with TLVs (skipped)', proxyV2('192.0.2.7', 2, { tlvs: Buffer.concat([tlv(0x05, b('unique-id-123')), tlv(0x20, Buffer.alloc(40, 1))]) }), '192.0.2.7', 2, 2],
  ])('%s: the client, and not a byte more', (_name, header, address, port, version) => {
    expect(parseProxyHeader(header)).toEqual({ kind: 'proxied', version, length: header.length, address, port });
    // what follows the header (SMTP, or a TLS ClientHello) is left where it is
    expect(parseProxyHeader(Buffer.concat([header, SMTP]))).toEqual({ kind: 'proxied', version, length: header.length, address, port });
  });

  it.each([
    ['v1 UNKNOWN', b('PROXY UNKNOWN\r\n')],
    ['v1 UNKNOWN with addresses', b('PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n')],
    ['v2 LOCAL (health check)', proxyV2('0.0.0.0', 0, { command: 'LOCAL', family: 'UNSPEC' })],
    ['v2 LOCAL with addresses', proxyV2('192.0.2.7', 5, { command: 'LOCAL' })],
    ['v2 PROXY UNSPEC', proxyV2('0.0.0.0', 0, { family: 'UNSPEC' })],
  ])("%s: the balancer's own connection", (_name, header) => {
    expect(parseProxyHeader(Buffer.concat([header, SMTP]))).toMatchObject({ kind: 'local', length: header.length });
  });

  it('every cut of a header short of its end asks for more bytes', () => {
    for (const header of [proxyV1('192.0.2.7'), proxyV1('2001:db8::1'), proxyV2('192.0.2.7'), proxyV2('2001:db8::1', 9, { tlvs: tlv(1, b('h2')) })]) {
      for (let n = 0; n < header.length; n++) expect(parseProxyHeader(header.subarray(0, n)), `${n} bytes`).toEqual({ kind: 'incomplete' });
    }
  });
});

const v2With = (patch: (h: Buffer) => void, base = proxyV2('192.0.2.7')) => {
  const h = Buffer.from(base);
  patch(h);
  return h;
};

describe('PROXY header: malformed ones are refused', () => {
  it.each([
    ['SMTP instead', SMTP, 'not a PROXY protocol header'],
    ['TLS ClientHello instead', Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01]), 'not a PROXY protocol header'],
    ['lower-case proxy', b('proxy TCP4 192.0.2.7 127.0.0.1 1 2\r\n'), 'not a PROXY protocol header'],
    ['PROXY without space', b('PROXYTCP4 192.0.2.7 127.0.0.1 1 2\r\n'), 'not a PROXY protocol header'],
    ['v1 bare LF', b('PROXY TCP4 192.0.2.7 127.0.0.1 1 2\n'), 'v1 line ends without CR'],
    ['v1 no CRLF in 107 bytes', b(`PROXY TCP4 ${'1'.repeat(120)}`), 'v1 line longer than 107 bytes'],
    ['v1 UDP4', b('PROXY UDP4 192.0.2.7 127.0.0.1 1 2\r\n'), 'v1 protocol is not TCP4, TCP6 or UNKNOWN'],
    ['v1 lower-case tcp4', b('PROXY tcp4 192.0.2.7 127.0.0.1 1 2\r\n'), 'v1 protocol is not TCP4, TCP6 or UNKNOWN'],
    ['v1 missing port', b('PROXY TCP4 192.0.2.7 127.0.0.1 1\r\n'), 'v1 line is not PROXY <proto> <src> <dst> <sport> <dport>'],
    ['v1 extra field', b('PROXY TCP4 192.0.2.7 127.0.0.1 1 2 3\r\n'), 'v1 line is not PROXY <proto> <src> <dst> <sport> <dport>'],
    ['v1 double space', b('PROXY TCP4  192.0.2.7 127.0.0.1 1 2\r\n'), 'v1 line is not PROXY <proto> <src> <dst> <sport> <dport>'],
    ['v1 TCP4 with IPv6', b('PROXY TCP4 ::1 ::1 1 2\r\n'), 'v1 addresses are not IPv4'],
    ['v1 IPv6 with a zone', b('PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n'), 'v1 addresses are not IPv6'],
    ['v1 IPv6 zone only (found by the fuzz test)', b('PROXY TCP6 00::%00.10.10.0 ::1 0 25\r\n'), 'v1 addresses are not IPv6'],
    ['v1 TCP6 with IPv4', b('PROXY TCP6 192.0.2.7 127.0.0.1 1 2\r\n'), 'v1 addresses are not IPv6'],
    ['v1 host name', b('PROXY TCP4 evil.example 127.0.0.1 1 2\r\n'), 'v1 addresses are not IPv4'],
    ['v1 address with a newline payload', b('PROXY TCP4 192.0.2.7\r\nMAIL FROM:<x@y> 127.0.0.1 1 2\r\n'), 'v1 line is not PROXY <proto> <src> <dst> <sport> <dport>'],
    ['v1 octet over 255', b('PROXY TCP4 192.0.2.256 127.0.0.1 1 2\r\n'), 'v1 addresses are not IPv4'],
    ['v1 leading-zero octet', b('PROXY TCP4 192.0.02.7 127.0.0.1 1 2\r\n'), 'v1 addresses are not IPv4'],
    ['v1 port over 65535', b('PROXY TCP4 192.0.2.7 127.0.0.1 65536 2\r\n'), 'v1 port is not 0-65535'],
    ['v1 negative port', b('PROXY TCP4 192.0.2.7 127.0.0.1 -1 2\r\n'), 'v1 port is not 0-65535'],
    ['v1 leading-zero port', b('PROXY TCP4 192.0.2.7 127.0.0.1 01 2\r\n'), 'v1 port is not 0-65535'],
    ['v1 tab', b('PROXY TCP4\t192.0.2.7 127.0.0.1 1 2\r\n'), 'v1 line holds a byte that is not printable ASCII'],
    ['v1 NUL', b('PROXY TCP4 192.0.2.7\0 127.0.0.1 1 2\r\n'), 'v1 line holds a byte that is not printable ASCII'],
    ['v1 UTF-8', b('PROXY TCP4 192.0.2.7 127.0.0.1 1 2 \xc3\xa9\r\n'), 'v1 line holds a byte that is not printable ASCII'],
    ['v2 bad signature', v2With((h) => (h[7] = 0x71)), 'not a PROXY protocol header'],
    ['v2 version 1', v2With((h) => (h[12] = 0x11)), 'v2 version 1 is not 2'],
    ['v2 version 3', v2With((h) => (h[12] = 0x31)), 'v2 version 3 is not 2'],
    ['v2 command 2', v2With((h) => (h[12] = 0x22)), 'v2 command 2 is neither LOCAL nor PROXY'],
    ['v2 UDP', v2With((h) => (h[13] = 0x12)), 'v2 transport is not a stream (TCP)'],
    ['v2 transport 0', v2With((h) => (h[13] = 0x10)), 'v2 transport is not a stream (TCP)'],
    ['v2 UNIX', proxyV2('0.0.0.0', 0, { family: 'UNIX' }), 'v2 address family is not IPv4 or IPv6'],
    ['v2 family 4', v2With((h) => (h[13] = 0x41)), 'v2 address family is not IPv4 or IPv6'],
    ['v2 IPv4 cut short', v2With((h) => h.writeUInt16BE(11, 14)), 'v2 IPv4 addresses cut short'],
    ['v2 IPv6 cut short', v2With((h) => h.writeUInt16BE(35, 14), proxyV2('::1')), 'v2 IPv6 addresses cut short'],
    ['v2 IPv6 family, IPv4 length', v2With((h) => (h[13] = 0x21)), 'v2 IPv6 addresses cut short'],
    ['v2 too long', v2With((h) => h.writeUInt16BE(65535, 14)), `v2 header of ${16 + 65535} bytes is longer than ${MAX_V2_BYTES}`],
  ])('%s', (_name, bytes, reason) => {
    expect(parseProxyHeader(bytes)).toEqual({ kind: 'invalid', reason });
  });

  it('a v2 header that says it is longer than the bytes sent waits (the reader times it out)', () => {
    expect(parseProxyHeader(v2With((h) => h.writeUInt16BE(200, 14)))).toEqual({ kind: 'incomplete' });
  });
});

describe('PROXY header: fuzzed', () => {
  const valid = fc.oneof(
    fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 65535 })).map(([a, p]) => proxyV1(a, p)),
    fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 65535 })).map(([a, p]) => proxyV1(a, p)),
    fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 65535 })).map(([a, p]) => proxyV2(a, p)),
    fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 65535 }), fc.uint8Array({ maxLength: 300 })).map(([a, p, t]) => proxyV2(a, p, { tlvs: Buffer.from(t) })),
  );
  const sane = (r: ReturnType<typeof parseProxyHeader>, input: Buffer) => {
    if (r.kind === 'proxied' || r.kind === 'local') {
      expect(r.length).toBeGreaterThan(0);
      expect(r.length).toBeLessThanOrEqual(Math.min(input.length, MAX_V2_BYTES));
    }
    if (r.kind === 'proxied') {
      expect(r.address).toMatch(/^[0-9a-f.:]+$/);
      expect(r.port).toBeGreaterThanOrEqual(0);
      expect(r.port).toBeLessThanOrEqual(65535);
    }
  };

  it('any bytes: an answer, never a throw, never past the input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 400 }), fc.uint8Array({ maxLength: 64 }).map((t) => Buffer.concat([SIGNATURE, Buffer.from(t)])), fc.string().map((s) => b(`PROXY ${s}\r\n`))), (bytes) => {
        const input = Buffer.from(bytes);
        sane(parseProxyHeader(input), input);
      }),
      { numRuns: 3000 },
    );
  });

  it('a valid header gives back its client; any one byte changed is refused, waited for, or still read within the header', () => {
    fc.assert(
      fc.property(valid, fc.nat(), fc.integer({ min: 0, max: 255 }), (header, at, value) => {
        const r = parseProxyHeader(Buffer.concat([header, SMTP]));
        expect(r).toMatchObject({ kind: 'proxied', length: header.length });
        const changed = Buffer.from(header);
        changed[at % header.length] = value;
        const input = Buffer.concat([changed, SMTP]);
        sane(parseProxyHeader(input), input);
      }),
      { numRuns: 3000 },
    );
  });

  it('v1 never takes more than 107 bytes', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        const r = parseProxyHeader(b(`PROXY TCP4 ${s}\r\n`));
        if (r.kind !== 'incomplete' && r.kind !== 'invalid') expect(r.length).toBeLessThanOrEqual(MAX_V1_BYTES);
      }),
    );
  });
});
