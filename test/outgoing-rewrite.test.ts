import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DeliveryError } from '../src/errors.js';
import { applyHeaderChanges, MAX_LINE, rewriteChanges, type OutgoingChanges } from '../src/delivery/outgoing.js';
import { readHeaderFacts } from '../src/policy/index.js';

const b = (s: string) => Buffer.from(s, 'latin1');
const BODY = b('\r\nLine one\r\nFrom: body@clinic.example\r\nDate: in the body\r\n\xff\xfe tail');
const out = (raw: Buffer, c: OutgoingChanges) => applyHeaderChanges(raw, c).toString('latin1');

describe('rewriteFrom', () => {
  const cases: [string, string, string][] = [
    ['quoted 8-bit display name', 'From: "Dr. M\xe9ller" <front@clinic.example>\r\n', 'From: "Dr. M\xe9ller" <scans@clinic.example>\r\n'],
    ['raw UTF-8 display name', 'From: Zo\xc3\xab Roe <zoe@clinic.example>\r\n', 'From: Zo\xc3\xab Roe <scans@clinic.example>\r\n'],
    ['encoded-word display name', 'From: =?UTF-8?Q?M=C3=BCller?= <m@clinic.example>\r\n', 'From: =?UTF-8?Q?M=C3=BCller?= <scans@clinic.example>\r\n'],
    ['quotes with escapes, <, > and @ inside', 'From: "a \\"b\\" <c@d> e" <x@clinic.example>\r\n', 'From: "a \\"b\\" <c@d> e" <scans@clinic.example>\r\n'],
    ['folded display name', 'From: "Front Desk of a Very Long Practice Name"\r\n\t<front@clinic.example>\r\n', 'From: "Front Desk of a Very Long Practice Name"\r\n\t<scans@clinic.example>\r\n'],
    ['bare address with an old-style comment name', 'From: front@clinic.example (Front desk)\r\n', 'From: scans@clinic.example (Front desk)\r\n'],
    // readers disagree on nested comments, and the policy refuses them: replaced whole
    ['nested comment name: replaced whole', 'From: front@clinic.example (Front (desk))\r\n', 'From: scans@clinic.example\r\n'],
    ['bare address', 'From:front@clinic.example\r\n', 'From:scans@clinic.example\r\n'],
    ['field name in odd case', 'FROM: <front@clinic.example>\r\n', 'FROM: <scans@clinic.example>\r\n'],
    ['several mailboxes: replaced whole', 'From: a@clinic.example, "B" <b@clinic.example>\r\n', 'From: scans@clinic.example\r\n'],
    ['group: replaced whole', 'From: Team: a@clinic.example;\r\n', 'From: scans@clinic.example\r\n'],
    ['unclosed quote: replaced whole', 'From: "Front <front@clinic.example>\r\n', 'From: scans@clinic.example\r\n'],
    ['no address: replaced whole', 'From: Front Desk\r\n', 'From: scans@clinic.example\r\n'],
    ['text after the address: replaced whole', 'From: <a@clinic.example> junk\r\n', 'From: scans@clinic.example\r\n'],
    ['empty: replaced whole', 'From:\r\n', 'From: scans@clinic.example\r\n'],
  ];
  for (const [name, from, expected] of cases) {
    it(name, () => {
      const raw = Buffer.concat([b('Received: x\r\n'), b(from), b('Subject: s\xe9\r\n'), BODY]);
      expect(out(raw, { rewriteFrom: 'scans@clinic.example' })).toBe(`Received: x\r\n${expected}Subject: s\xe9\r\n${BODY.toString('latin1')}`);
    });
  }

  it('rewrites the first From in place and drops later ones', () => {
    const raw = b('From: <a@clinic.example>\r\nTo: t@clinic.example\r\nfrom: b@clinic.example\r\n folded\r\n\r\nbody');
    expect(out(raw, { rewriteFrom: 'scans@clinic.example' })).toBe('From: <scans@clinic.example>\r\nTo: t@clinic.example\r\n\r\nbody');
  });

  it('adds From when the message has none (an mbox "From " line is not a From field)', () => {
    const raw = b('From scanner Mon Nov  2 10:00:00 2026\r\nTo: t@clinic.example\r\n\r\nbody');
    expect(out(raw, { rewriteFrom: 'scans@clinic.example' })).toBe(
      'From scanner Mon Nov  2 10:00:00 2026\r\nTo: t@clinic.example\r\nFrom: scans@clinic.example\r\n\r\nbody',
    );
  });

  it('whatever the From holds, the message goes out with one From that reads as exactly the sending user (property)', () => {
    const piece = fc.constantFrom('"', '\\', '<', '>', ',', ';', ':', '(', ')', '@', 'a', ' ', 'x@clinic.example', 'evil@outside.example', '=?utf-8?q?a?=', '\xe9', '\r\n ', '[');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 14 }), fc.boolean(), (pieces, twice) => {
        const from = `From: ${pieces.join('')}\r\n`;
        const raw = b(`${from}To: t@clinic.example\r\n${twice ? from : ''}\r\nbody`);
        const sent = applyHeaderChanges(raw, { rewriteFrom: 'scans@clinic.example' });
        const header = sent.subarray(0, sent.indexOf('\r\n\r\n') + 2);
        expect(readHeaderFacts(header)).toMatchObject({ fromField: 'mailbox', from: 'scans@clinic.example' });
        expect(sent.toString('latin1').endsWith('\r\n\r\nbody')).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('keeps an LF-only message LF-only', () => {
    expect(out(b('From: "A" <a@clinic.example>\nTo: t@clinic.example\n\nbody\n'), { rewriteFrom: 'scans@clinic.example', addDate: 'D' })).toBe(
      'From: "A" <scans@clinic.example>\nTo: t@clinic.example\nDate: D\n\nbody\n',
    );
    expect(out(b('From: a, b\nTo: t@clinic.example\n\nbody\n'), { rewriteFrom: 'scans@clinic.example' })).toBe(
      'From: scans@clinic.example\nTo: t@clinic.example\n\nbody\n',
    );
  });
});

describe('Reply-To, Date and Message-ID', () => {
  const raw = b('From: a@clinic.example\r\nReply-To: old@clinic.example,\r\n  older@clinic.example\r\nTo: t@clinic.example\r\n\r\nbody');

  it('setReplyTo replaces every Reply-To with one', () => {
    expect(out(raw, { setReplyTo: 'doctor@clinic.example' })).toBe(
      'From: a@clinic.example\r\nTo: t@clinic.example\r\nReply-To: doctor@clinic.example\r\n\r\nbody',
    );
  });

  it('adds Date and Message-ID when missing', () => {
    expect(out(raw, { addDate: 'Mon, 2 Nov 2026 09:05:07 +0000', addMessageId: 'r1@clinic.example' })).toBe(
      `${raw.subarray(0, raw.indexOf('\r\n\r\n') + 2).toString('latin1')}Date: Mon, 2 Nov 2026 09:05:07 +0000\r\nMessage-ID: <r1@clinic.example>\r\n\r\nbody`,
    );
  });

  it('never adds a second Date or Message-ID', () => {
    const has = b('DATE: Sun, 1 Nov 2026 00:00:00 +0100\r\nmessage-id: <own@x>\r\n\r\nbody');
    expect(applyHeaderChanges(has, { addDate: 'Mon, 2 Nov 2026 09:05:07 +0000', addMessageId: 'r1@clinic.example' }).equals(has)).toBe(true);
  });

  it('maps meta.rewrite to changes, and the same meta gives the same bytes on every attempt', () => {
    const rewrite = { from: 'scans@clinic.example', replyTo: 'doctor@clinic.example', addDate: 'Mon, 2 Nov 2026 09:05:07 +0000', addMessageId: 'r1@clinic.example' };
    expect(rewriteChanges(rewrite)).toEqual({ rewriteFrom: rewrite.from, setReplyTo: rewrite.replyTo, addDate: rewrite.addDate, addMessageId: rewrite.addMessageId });
    expect(rewriteChanges(undefined)).toEqual({});
    const first = applyHeaderChanges(raw, { ...rewriteChanges(rewrite), addBcc: ['x@clinic.example'] });
    const retry = applyHeaderChanges(raw, { ...rewriteChanges(rewrite), addBcc: ['x@clinic.example'] });
    expect(first.equals(retry)).toBe(true);
    expect(first.toString('latin1')).toMatch(/^From: scans@clinic\.example\r\n/);
    expect(first.toString('latin1')).toMatch(/Message-ID: <r1@clinic\.example>\r\nBcc: x@clinic\.example\r\n\r\nbody$/);
  });
});

describe('header injection', () => {
  const raw = b('From: a@clinic.example\r\nTo: t@clinic.example\r\n\r\nbody');
  const attempts: OutgoingChanges[] = [
    { rewriteFrom: 'scans@clinic.example\r\nBcc: evil@outside.example' },
    { rewriteFrom: 'scans@clinic.example\nBcc: evil@outside.example' },
    { rewriteFrom: 'scans@clinic.example\0' },
    { rewriteFrom: '"x" <scans@clinic.example>, evil@outside.example' },
    { rewriteFrom: '' },
    { setReplyTo: 'a@clinic.example\rTo: evil@outside.example' },
    { setReplyTo: 'a@clinic.example, evil@outside.example' },
    { addDate: 'Mon, 2 Nov 2026\r\nBcc: evil@outside.example' },
    { addDate: '' },
    { addMessageId: 'r1@clinic.example>\r\nBcc: evil@outside.example' },
    { addMessageId: 'r1@clinic.example> <x@y' },
    { addBcc: ['x@clinic.example\r\nTo: evil@outside.example'] },
  ];
  for (const c of attempts) {
    it(`refuses ${JSON.stringify(c)} with a permanent DeliveryError`, () => {
      let err: unknown;
      try {
        applyHeaderChanges(raw, c);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DeliveryError);
      expect((err as DeliveryError).kind).toBe('permanent');
    });
  }
});

describe('folding lines over 998 octets', () => {
  const unfold = (s: string) => s.replace(/\r?\n(?=[ \t])/g, '');
  const lines = (s: string) => s.split(/\r?\n/);

  it('folds a long Subject at whitespace; unfolding gives back the very same line', () => {
    const subject = `Subject: ${Array.from({ length: 400 }, (_, i) => `word${i}`).join(' ')}`;
    const raw = b(`From: a@clinic.example\r\n${subject}\r\nTo: t@clinic.example\r\n\r\nbody`);
    const text = out(raw, {});
    const header = text.slice(0, text.indexOf('\r\n\r\n'));
    for (const l of lines(header)) expect(l.length).toBeLessThanOrEqual(MAX_LINE);
    expect(lines(header).length).toBeGreaterThan(3);
    expect(unfold(text)).toBe(raw.toString('latin1'));
    expect(text.endsWith('\r\n\r\nbody')).toBe(true);
  });

  it('splits a line with no whitespace hard, with CRLF SP, never inside a UTF-8 character', () => {
    const value = '\xc3\xa9'.repeat(1500); // 3000 octets of é, no whitespace; the cut at 998 falls mid-character
    const raw = b(`Subject: x\r\nX-Scan-Id: ${value}\r\n\r\nbody`);
    const text = out(raw, {});
    const header = text.slice(0, text.indexOf('\r\n\r\n'));
    const utf8 = new TextDecoder('utf-8', { fatal: true });
    const folded = lines(header).slice(1);
    // First at the only whitespace (after the colon), then hard splits.
    expect(folded[0]).toBe('X-Scan-Id:');
    expect(folded.length).toBe(5);
    for (const l of folded) {
      expect(l.length).toBeLessThanOrEqual(MAX_LINE);
      expect(() => utf8.decode(Buffer.from(l, 'latin1'))).not.toThrow();
    }
    expect(folded.slice(1).every((l) => l.startsWith(' ') && l[1] !== ' ')).toBe(true);
    // Unfolded, the only change is one space per hard split.
    const unfolded = unfold(text);
    expect(unfolded.replace(/(?<=\xa9) (?=\xc3)/g, '')).toBe(raw.toString('latin1'));
    expect(unfolded.length - raw.length).toBe(3);
  });

  it('leaves lines of exactly 998 octets and the body (even long body lines) alone', () => {
    const exact = `X-A: ${'a'.repeat(MAX_LINE - 5)}`;
    const raw = b(`${exact}\r\n\r\n${'b'.repeat(5000)}\r\n`);
    expect(applyHeaderChanges(raw, {})).toBe(raw);
  });

  it('folds long fields the relay writes too, and LF-only lines with LF (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constantFrom(' ', '\t', ' '), fc.string({ unit: fc.constantFrom('a', 'Z', '\xe9', '=', '?', '@'), minLength: 1, maxLength: 400 })), {
          minLength: 1,
          maxLength: 40,
        }),
        fc.boolean(),
        (pieces, crlf) => {
          const eol = crlf ? '\r\n' : '\n';
          const value = pieces.join('');
          const raw = b(`Subject: ${value}${eol}To: t@clinic.example${eol}${eol}body`);
          const text = out(raw, {});
          const header = text.slice(0, text.indexOf(`${eol}${eol}`) + eol.length);
          for (const l of header.split(eol).slice(0, -1)) {
            expect(l.length).toBeLessThanOrEqual(MAX_LINE);
            expect(l.includes('\r') || l.includes('\n')).toBe(false);
          }
          // With whitespace to fold at, unfolding restores the line exactly; each hard split adds one space.
          const restored = text.split(eol).length - raw.toString('latin1').split(eol).length;
          const spacesAdded = unfold(text).length - raw.length;
          expect(spacesAdded).toBeGreaterThanOrEqual(0);
          expect(spacesAdded).toBeLessThanOrEqual(restored);
          expect(text.endsWith(`${eol}${eol}body`)).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });
});
