import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DeliveryError } from '../src/errors.js';
import { applyHeaderChanges, bccField, findHeaderEnd } from '../src/delivery/outgoing.js';
import { readOutgoing } from './support/outgoing.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'wr-out-'));
let n = 0;
function stored(bytes: Buffer | string): string {
  const file = path.join(dir, `m${n++}.eml`);
  writeFileSync(file, bytes);
  return file;
}
const b = (s: string) => Buffer.from(s, 'latin1');

// 8-bit header bytes (latin1 é, raw UTF-8), odd order and spacing, a folded Subject.
const HEADER = Buffer.concat([
  b('Received: from scanner (10.0.0.5)\r\n\tby relay; Mon, 2 Nov 2026 10:00:00 +0000\r\n'),
  b('From: "Dr. M\xe9ller" <front@clinic.example>\r\n'),
  Buffer.from('To: Zoë <zoe@clinic.example>\r\n', 'utf8'),
  b('Subject:  folded\r\n  subject line\r\n'),
  b('X-Bcc-Info: not a bcc\r\n'),
]);
const BODY = b('\r\nLine one\r\nBcc: in-the-body@clinic.example\r\n\r\n\xff\xfe binary tail');

describe('readOutgoing', () => {
  it('returns the stored bytes unchanged when there is nothing to change', async () => {
    const raw = Buffer.concat([HEADER, BODY]);
    const file = stored(raw);
    expect((await readOutgoing(file, {}, raw.length)).equals(raw)).toBe(true);
    expect((await readOutgoing(file, { addBcc: [] }, raw.length)).equals(raw)).toBe(true);
  });

  it('sends only the message, not the spool metadata after it, and refuses a file cut short', async () => {
    const raw = Buffer.concat([HEADER, BODY]);
    const file = stored(Buffer.concat([raw, b('{"version":1}\n\n#workspace-relay-meta 0000000014\n')]));
    expect((await readOutgoing(file, {}, raw.length)).equals(raw)).toBe(true);
    await expect(readOutgoing(file, {}, raw.length + 1000)).rejects.toMatchObject({ code: 'delivery.spool_unreadable', kind: 'held', message: expect.stringContaining('(EIO)') });
  });

  it('adds one Bcc field at the end of the header and leaves every other byte as stored', async () => {
    const raw = Buffer.concat([HEADER, BODY]);
    const file = stored(raw);
    const out = await readOutgoing(file, { addBcc: ['a@clinic.example', 'b@clinic.example'] }, raw.length);
    expect(out.equals(Buffer.concat([HEADER, b('Bcc: a@clinic.example, b@clinic.example\r\n'), BODY]))).toBe(true);
    expect(readFileSync(file).equals(raw)).toBe(true); // the spool file is never rewritten
  });

  it('adds a second Bcc field when the message already has one (Gmail merges them)', () => {
    const raw = b('To: a@clinic.example\r\nBcc: x@clinic.example\r\n\r\nhi\r\n');
    expect(applyHeaderChanges(raw, { addBcc: ['y@clinic.example'] }).toString('latin1')).toBe(
      'To: a@clinic.example\r\nBcc: x@clinic.example\r\nBcc: y@clinic.example\r\n\r\nhi\r\n',
    );
  });

  it('folds a long Bcc list between addresses, every line within 78 octets', () => {
    const addresses = Array.from({ length: 40 }, (_, i) => `recipient.number.${i}@clinic.example`);
    const field = bccField(addresses);
    const lines = field.split('\r\n');
    expect(lines.pop()).toBe('');
    for (const line of lines) expect(Buffer.byteLength(line)).toBeLessThanOrEqual(78);
    expect(lines.slice(1).every((l) => l.startsWith(' '))).toBe(true);
    const unfolded = field.replace(/\r\n /g, ' ').replace(/^Bcc: /, '').trim();
    expect(unfolded.split(', ')).toEqual(addresses);
  });

  it('strips every Bcc and Resent-Bcc field with its continuation lines, and nothing else', () => {
    const raw = Buffer.concat([
      b('From: front@clinic.example\r\n'),
      b('Bcc: one@clinic.example,\r\n two@clinic.example,\r\n\tthree@clinic.example\r\n'),
      b('To: a@clinic.example\r\n'),
      b('BCC : four@clinic.example\r\n'),
      b('Resent-Bcc: five@clinic.example\r\n'),
      b('X-Bcc-Info: keep\r\n'),
      BODY,
    ]);
    const out = applyHeaderChanges(raw, { stripBcc: true });
    expect(out.equals(Buffer.concat([b('From: front@clinic.example\r\nTo: a@clinic.example\r\nX-Bcc-Info: keep\r\n'), BODY]))).toBe(true);
  });

  it('handles a message with no body and no empty line', () => {
    expect(applyHeaderChanges(b('To: a@clinic.example\r\n'), { addBcc: ['c@clinic.example'] }).toString('latin1')).toBe(
      'To: a@clinic.example\r\nBcc: c@clinic.example\r\n',
    );
    // last header line without its line ending
    expect(applyHeaderChanges(b('Subject: x\r\nTo: a@clinic.example'), { addBcc: ['c@clinic.example'] }).toString('latin1')).toBe(
      'Subject: x\r\nTo: a@clinic.example\r\nBcc: c@clinic.example\r\n',
    );
    expect(applyHeaderChanges(b('Bcc: x@clinic.example\r\n'), { stripBcc: true }).length).toBe(0);
  });

  it('handles a message that starts with the empty line (no header at all)', () => {
    expect(findHeaderEnd(b('\r\nbody'))).toBe(0);
    expect(applyHeaderChanges(b('\r\nbody'), { addBcc: ['c@clinic.example'] }).toString('latin1')).toBe('Bcc: c@clinic.example\r\n\r\nbody');
  });

  it('keeps LF-only messages LF-only', () => {
    const raw = b('From: f@clinic.example\nBcc: x@clinic.example,\n y@clinic.example\nTo: t@clinic.example\n\nbody\r\nmixed\n');
    expect(applyHeaderChanges(raw, { stripBcc: true }).toString('latin1')).toBe(
      'From: f@clinic.example\nTo: t@clinic.example\n\nbody\r\nmixed\n',
    );
    expect(applyHeaderChanges(raw, { addBcc: ['z@clinic.example'] }).toString('latin1')).toBe(
      'From: f@clinic.example\nBcc: x@clinic.example,\n y@clinic.example\nTo: t@clinic.example\nBcc: z@clinic.example\n\nbody\r\nmixed\n',
    );
  });

  it('refuses an address that would inject header lines', () => {
    expect(() => applyHeaderChanges(b('To: a@clinic.example\r\n\r\n'), { addBcc: ['x@clinic.example\r\nTo: evil@outside.example'] })).toThrow(
      DeliveryError,
    );
  });

  it('never touches the body, whatever its bytes (property)', () => {
    const headerLine = fc.constantFrom('To: a@clinic.example', 'Bcc: b@clinic.example', 'Subject: \xe9t\xe9', 'X-A: 1', ' folded');
    fc.assert(
      fc.property(fc.array(headerLine, { minLength: 1, maxLength: 6 }), fc.uint8Array({ maxLength: 200 }), fc.boolean(), (lines, body, crlf) => {
        const eol = crlf ? '\r\n' : '\n';
        const header = b(lines.map((l) => l + eol).join(''));
        const tail = Buffer.concat([b(eol), Buffer.from(body)]);
        const raw = Buffer.concat([header, tail]);
        for (const changes of [{ addBcc: ['z@clinic.example'] }, { stripBcc: true }, { addBcc: ['z@clinic.example'], stripBcc: true }]) {
          const out = applyHeaderChanges(raw, changes);
          expect(out.subarray(out.length - tail.length).equals(tail)).toBe(true);
          const outHeader = out.subarray(0, out.length - tail.length).toString('latin1');
          if (changes.stripBcc) expect(outHeader).not.toMatch(/^Bcc: b@/m);
          if (changes.addBcc) expect(outHeader.endsWith(`Bcc: z@clinic.example${eol}`)).toBe(true);
        }
      }),
    );
  });
});
