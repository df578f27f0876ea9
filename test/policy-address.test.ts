import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkMailbox, normalizeDomain, parseMailbox } from '../src/policy/index.js';

describe('parseMailbox accepts plain addresses and normalizes them', () => {
  it.each([
    ['user@clinic.example', 'user@clinic.example', 'user', 'clinic.example'],
    ['User.Name@Clinic.Example', 'user.name@clinic.example', 'user.name', 'clinic.example'],
    ['ANNA@CLINIC.EXAMPLE', 'anna@clinic.example', 'anna', 'clinic.example'],
    ['first.middle.last@clinic.example', 'first.middle.last@clinic.example', 'first.middle.last', 'clinic.example'],
    ["o'brien+scans@clinic.example", "o'brien+scans@clinic.example", "o'brien+scans", 'clinic.example'],
    ['a#b$c&d*e/f=g?h^i_j`k{l|m}n~o-p@clinic.example', 'a#b$c&d*e/f=g?h^i_j`k{l|m}n~o-p@clinic.example', 'a#b$c&d*e/f=g?h^i_j`k{l|m}n~o-p', 'clinic.example'],
    ['x@bücher.example', 'x@xn--bcher-kva.example', 'x', 'xn--bcher-kva.example'],
    ['x@BÜCHER.example', 'x@xn--bcher-kva.example', 'x', 'xn--bcher-kva.example'],
    ['x@xn--bcher-kva.example', 'x@xn--bcher-kva.example', 'x', 'xn--bcher-kva.example'],
    ['x@XN--BCHER-KVA.EXAMPLE', 'x@xn--bcher-kva.example', 'x', 'xn--bcher-kva.example'],
    ['x@faß.example', 'x@xn--fa-hia.example', 'x', 'xn--fa-hia.example'],
    ['root@localhost', 'root@localhost', 'root', 'localhost'],
    ['x@a-b.c-d.example', 'x@a-b.c-d.example', 'x', 'a-b.c-d.example'],
    ['x@123.example', 'x@123.example', 'x', '123.example'],
  ])('%s → %s', (input, address, local, domain) => {
    expect(parseMailbox(input)).toEqual({ local, domain, address });
  });
});

describe('parseMailbox refuses what could be routed differently elsewhere', () => {
  it.each([
    ['', /empty/],
    ['"a@b"@clinic.example', /quoted local parts/],
    ['"user"@clinic.example', /quoted local parts/],
    ['@a,@b:u@clinic.example', /source routes/],
    ['@relay.example:u@clinic.example', /source routes/],
    ['u%evil.com@clinic.example', /percent-hack/],
    ['evil.com!u@clinic.example', /bang-path/],
    ['u@evil.example@clinic.example', /more than one @/],
    ['user', /no @domain/],
    ['@clinic.example', /source routes/],
    ['user@', /domain is empty/],
    ['.user@clinic.example', /empty dot-separated part/],
    ['user.@clinic.example', /empty dot-separated part/],
    ['us..er@clinic.example', /empty dot-separated part/],
    ['us er@clinic.example', /not allowed/],
    [' user@clinic.example', /not allowed/],
    ['user@clinic.example ', /characters other than/],
    ['us\ter@clinic.example', /not allowed/],
    ['us\u0000er@clinic.example', /not allowed/],
    ['user\r\n@clinic.example', /not allowed/],
    ['us(er)@clinic.example', /not allowed/],
    ['us,er@clinic.example', /not allowed/],
    ['<user@clinic.example>', /not allowed/],
    ['müller@clinic.example', /not allowed/],
    ['=?utf-8?q?evil=40outside.example?=@clinic.example', /encoded-word/],
    ['user@clinic.example.', /ends with a dot/],
    ['user@.clinic.example', /label/],
    ['user@clinic..example', /label/],
    ['user@-clinic.example', /label/],
    ['user@clinic-.example', /label/],
    ['user@cli_nic.example', /characters other than/],
    ['user@[127.0.0.1]', /IP address literals/],
    ['user@[IPv6:::1]', /IP address literals/],
    ['user@127.0.0.1', /IP addresses/],
    ['user@127.1', /./],
    ['user@0x7f.1', /./],
    ['user@clinic.example%2f', /characters other than/],
    ['user@clinic%2eexample', /characters other than/],
    ['user@evil.example/clinic.example', /characters other than/],
    ['user@evil.example?clinic.example', /characters other than/],
    ['user@evil.example:25', /characters other than/],
    ['user@clinic\u3002example', /canonical/],
    ['user@ｃｌｉｎｉｃ.example', /canonical/],
    ['user@cli\u00adnic.example', /canonical/],
    ['user@cli\u200bnic.example', /canonical/],
    ['user@clinic.example\u00a0', /./],
    ['user@b\u0075\u0308cher.example', /canonical/],
    ['user@xn--zz.example', /not a valid/],
    ['user@😀.example', /characters other than/],
    [`${'a'.repeat(65)}@clinic.example`, /longer than 64/],
    [`a@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}.${'e'.repeat(61)}`, /longer than 254/],
    [`a@${'b'.repeat(64)}.example`, /label/],
  ])('%j is refused', (input, why) => {
    const r = checkMailbox(input);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(why);
    expect(parseMailbox(input)).toBeNull();
  });

  it('accepts the longest legal local part and address', () => {
    expect(parseMailbox(`${'a'.repeat(64)}@clinic.example`)?.local).toHaveLength(64);
    const longest = `a@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}.${'e'.repeat(60)}`;
    expect(longest).toHaveLength(254);
    expect(parseMailbox(longest)?.address).toBe(longest);
  });
});

describe('normalizeDomain', () => {
  it('gives U-label and A-label spellings the same form, and a Cyrillic lookalike another', () => {
    const u = normalizeDomain('bücher.example');
    const a = normalizeDomain('xn--bcher-kva.example');
    expect(u).toEqual({ ok: true, domain: 'xn--bcher-kva.example' });
    expect(a).toEqual(u);
    // "сlinic" with a Cyrillic с (U+0441) is a different domain from "clinic".
    expect(normalizeDomain('\u0441linic.example')).toEqual({ ok: true, domain: 'xn--linic-0ye.example' });
  });
});

describe('parseMailbox properties', () => {
  const label = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?$/);
  const localAtom = fc.stringMatching(/^[a-z0-9#$&'*+\-/=^_`{|}~]{1,8}$/).filter((s) => !/=\?.*\?=/.test(s));
  const local = fc.array(localAtom, { minLength: 1, maxLength: 3 }).map((a) => a.join('.'));
  const domain = fc.array(label, { minLength: 2, maxLength: 4 }).map((a) => `${a.join('.')}example`);

  it('never throws, whatever the input', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (s) => {
        const r = checkMailbox(s);
        expect(typeof r.ok).toBe('boolean');
      }),
      { numRuns: 3000 },
    );
  });

  it('anything accepted is normalized: lowercase, one @, LDH labels, within length limits, stable', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme-ascii', maxLength: 40 }), (s) => {
        const m = parseMailbox(s);
        if (!m) return;
        expect(m.address).toBe(m.address.toLowerCase());
        expect(m.address.split('@')).toEqual([m.local, m.domain]);
        expect(m.domain.split('.').every((l) => /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/.test(l))).toBe(true);
        expect(m.local.length).toBeLessThanOrEqual(64);
        expect(m.address.length).toBeLessThanOrEqual(254);
        expect(parseMailbox(m.address)).toEqual(m);
      }),
      { numRuns: 3000 },
    );
  });

  it('is case-insensitive and accepts every plain dot-atom address', () => {
    fc.assert(
      fc.property(local, domain, fc.boolean(), (l, d, upper) => {
        const input = `${l}@${d}`;
        const spelled = upper ? input.toUpperCase() : input;
        expect(parseMailbox(spelled)?.address).toBe(input);
      }),
    );
  });

  it('an IDN domain in U-labels and in A-labels gives the same address', () => {
    const uLabel = fc.stringMatching(/^[a-zäöüéñß]{1,6}$/).filter((s) => /[^a-z]/.test(s));
    fc.assert(
      fc.property(local, uLabel, label, (l, u, tld) => {
        const fromU = parseMailbox(`${l}@${u}.${tld}.example`);
        expect(fromU).not.toBeNull();
        expect(fromU!.domain).toMatch(/^xn--/);
        expect(parseMailbox(`${l}@${fromU!.domain}`)).toEqual(fromU);
        expect(parseMailbox(`${l}@${fromU!.domain.toUpperCase()}`)).toEqual(fromU);
      }),
    );
  });

  it('refuses any local part holding %, !, quotes, whitespace or a second @', () => {
    fc.assert(
      fc.property(local, fc.constantFrom('%', '!', '"', ' ', '\t', '@', '\r\n', '\u0000'), local, domain, (a, bad, b, d) => {
        expect(parseMailbox(`${a}${bad}${b}@${d}`)).toBeNull();
      }),
    );
  });
});
