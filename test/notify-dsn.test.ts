/** Building delivery-status notices and admin alerts, parsed back with mailparser. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { simpleParser, type ParsedMail } from 'mailparser';
import { afterAll, describe, expect, it } from 'vitest';
import { AlertLimiter, buildAlert, buildDsn, readHeaderSection, safeHeadersOf, type DsnInput } from '../src/notify/index.js';
import { SpoolKeys } from '../src/crypt/index.js';
import { messageSource } from '../src/spool/index.js';
import { TestClock } from './support/test-clock.js';

const ORIGINAL = Buffer.from(
  [
    'Received: from ehr.local (10.0.0.5) by relay',
    'From: "Jane Patient" <Alice@Clinic.Example>',
    'To: "Dr Bob (re: Jane Patient)" <bob@clinic.example>,',
    ' carol@clinic.example',
    'Cc: Care team: dan@clinic.example;',
    'Bcc: erin@clinic.example',
    'Subject: Lab results for Jane Patient, DOB 1970-01-01',
    'Date: Tue, 1 Sep 2026 10:00:00 +0200',
    'Message-ID: <m1@clinic.example>',
    'X-EHR-Patient: Jane Patient',
    'MIME-Version: 1.0',
    'Content-Type: application/pdf; name="jane-patient-labs.pdf"',
    'Content-Disposition: attachment; filename="jane-patient-labs.pdf"',
    '',
    'Potassium 6.1 mmol/L (high)',
    '',
  ].join('\r\n'),
);
const PHI = [/Lab results/i, /Jane/i, /Patient/i, /1970-01-01/, /Potassium/i, /labs\.pdf/i, /Care team/i, /10\.0\.0\.5/];
const arrival = new Date('2026-09-01T08:00:05Z');

function input(overrides: Partial<DsnInput> = {}): DsnInput {
  return {
    kind: 'failure',
    reportingMta: 'relay.clinic.example',
    from: 'postmaster@clinic.example',
    to: 'alice@clinic.example',
    messageId: '0ABC.failure@relay.clinic.example',
    date: new Date('2026-09-01T08:05:00Z'),
    original: {
      queueId: '0QUEUEID',
      arrivalDate: arrival,
      sender: 'alice@clinic.example',
      recipients: ['bob@clinic.example', 'carol@clinic.example'],
      headers: safeHeadersOf(ORIGINAL, { messageId: 'm1@clinic.example', from: 'alice@clinic.example' }),
      attempts: 3,
    },
    status: '5.6.0',
    code: 'delivery.message_rejected',
    reason: 'Gmail refused the message itself (Gmail: 400 INVALID_ARGUMENT invalidArgument)',
    fix: 'ask your administrator → check the message',
    lastAttempt: new Date('2026-09-01T08:04:59Z'),
    ...overrides,
  };
}

const parse = (raw: Buffer) => simpleParser(raw, { keepDeliveryStatus: true } as Parameters<typeof simpleParser>[1]);

function part(mail: ParsedMail, type: string): string {
  const a = mail.attachments.filter((x) => x.contentType === type);
  expect(a, `one ${type} part`).toHaveLength(1);
  return a[0]!.content.toString('utf8');
}

/** message/delivery-status content → [per-message fields, ...per-recipient fields]. */
function statusBlocks(text: string): Record<string, string>[] {
  return text
    .split(/\r?\n\r?\n/)
    .filter((b) => b.trim())
    .map((b) =>
      Object.fromEntries(
        b
          .split(/\r?\n/)
          .filter(Boolean)
          .map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
      ),
    );
}

describe('delivery-status notices (RFC 3464)', () => {
  it('builds a failure report with the three parts, our diagnostic per recipient, and no subject, body or attachment name', async () => {
    const raw = buildDsn(input());
    const mail = await parse(raw);
    const ctype = mail.headers.get('content-type') as { value: string; params: Record<string, string> };
    expect(ctype.value).toBe('multipart/report');
    expect(ctype.params['report-type']).toBe('delivery-status');
    expect(mail.headers.get('auto-submitted')).toBe('auto-replied');
    expect(mail.from?.value[0]?.address).toBe('postmaster@clinic.example');
    expect((mail.to as { value: { address: string }[] }).value.map((v) => v.address)).toEqual(['alice@clinic.example']);
    expect(mail.subject).toBe('Undeliverable: your message could not be delivered');
    expect(mail.inReplyTo).toBe('<m1@clinic.example>');
    expect(mail.text).toMatch(/could not be delivered/);
    expect(mail.text).toMatch(/delivery\.message_rejected/);
    expect(mail.text).toContain('For your administrator: ask your administrator → check the message');

    const [perMessage, ...recipients] = statusBlocks(part(mail, 'message/delivery-status'));
    expect(perMessage).toMatchObject({ 'reporting-mta': 'dns; relay.clinic.example', 'arrival-date': 'Tue, 01 Sep 2026 08:00:05 +0000' });
    expect(recipients.map((r) => r['final-recipient'])).toEqual(['rfc822; bob@clinic.example', 'rfc822; carol@clinic.example']);
    for (const r of recipients) {
      expect(r).toMatchObject({ action: 'failed', status: '5.6.0' });
      expect(r['diagnostic-code']).toBe('X-workspace-relay; delivery.message_rejected: Gmail refused the message itself (Gmail: 400 INVALID_ARGUMENT invalidArgument)');
      expect(r['will-retry-until']).toBeUndefined();
    }

    expect(part(mail, 'text/rfc822-headers').split('\r\n').filter(Boolean)).toEqual([
      'Message-ID: <m1@clinic.example>',
      'Date: Tue, 1 Sep 2026 10:00:00 +0200',
      'From: alice@clinic.example',
      'To: bob@clinic.example, carol@clinic.example',
      'Cc: dan@clinic.example',
    ]);
    const everything = raw.toString('utf8') + (mail.text ?? '');
    for (const p of PHI) expect(everything).not.toMatch(p);
    expect(everything).not.toMatch(/erin@/); // Bcc recipients are not listed in the headers part
  });

  it('builds a delayed notice: Action delayed, 4.x.x status and Will-Retry-Until', async () => {
    const until = new Date(arrival.getTime() + 5 * 86_400_000);
    const mail = await parse(buildDsn(input({ kind: 'delay', status: '4.7.0', code: 'delivery.mail_disabled', reason: 'Gmail is not enabled for alice@clinic.example', willRetryUntil: until })));
    expect(mail.subject).toBe('Delayed: your message has not been delivered yet');
    expect(mail.headers.get('auto-submitted')).toBe('auto-replied');
    const [, ...recipients] = statusBlocks(part(mail, 'message/delivery-status'));
    expect(recipients).toHaveLength(2);
    for (const r of recipients) {
      expect(r).toMatchObject({ action: 'delayed', status: '4.7.0', 'will-retry-until': 'Sun, 06 Sep 2026 08:00:05 +0000' });
    }
    expect(mail.text).toMatch(/not been delivered yet/);
    expect(mail.text).toContain('until Sun, 06 Sep 2026 08:00:05 +0000');
  });

  it('keeps a reason with line breaks on one line: it cannot add a header or a DSN field', async () => {
    const raw = buildDsn(input({ reason: 'bad\r\nBcc: mallory@outside.example\r\nAction: delivered' }));
    const mail = await parse(raw);
    expect(mail.headers.has('bcc')).toBe(false);
    const [, ...recipients] = statusBlocks(part(mail, 'message/delivery-status'));
    expect(recipients.map((r) => r.action)).toEqual(['failed', 'failed']);
    expect(recipients[0]!['diagnostic-code']).toBe('X-workspace-relay; delivery.message_rejected: bad Bcc: mallory@outside.example Action: delivered');
    expect(() => buildDsn(input({ to: 'alice@clinic.example>\r\nBcc: x@outside.example' }))).toThrow(/refusing/);
  });

  it('falls back to what the metadata knows when the header section is unreadable', () => {
    expect(safeHeadersOf(null, { messageId: 'm2@clinic.example', from: 'alice@clinic.example' })).toEqual({
      messageId: 'm2@clinic.example',
      date: null,
      from: ['alice@clinic.example'],
      to: [],
      cc: [],
    });
    const bareCr = Buffer.from('To: bob@clinic.example\rSubject: x\r\nDate: not a date\r\n\r\n');
    expect(safeHeadersOf(bareCr, { messageId: null, from: null })).toMatchObject({ to: [], date: null });
    const junkDate = Buffer.from('Date: Mon, 1 Jan 2026 10:00:00 +0000 (Jane Patient)x\r\nDate: later\r\n\r\n');
    expect(safeHeadersOf(junkDate, { messageId: 'bad id', from: null }).messageId).toBeNull();
  });

  it('never copies words from a Date field: a comment or a name in it goes, the time stays', () => {
    const dateOf = (value: string) => safeHeadersOf(Buffer.from(`Date: ${value}\r\n\r\n`), { messageId: null, from: null }).date;
    expect(dateOf('Tue, 1 Sep 2026 10:00:00 +0200')).toBe('Tue, 1 Sep 2026 10:00:00 +0200'); // plain: as written
    expect(dateOf('Tue, 1 Sep 2026 10:00:00 +0200 (Jane Doe HIV test)')).toBe('Tue, 01 Sep 2026 08:00:00 +0000');
    const named = dateOf('Jane Doe 2024');
    expect(named === null || !/Jane|Doe/.test(named)).toBe(true);
    expect(dateOf('not a date')).toBeNull();
  });
});

describe('reading the header section of a stored message', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wr-notify-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('stops at the empty line and never returns body bytes', async () => {
    const file = path.join(dir, 'a.eml');
    writeFileSync(file, Buffer.concat([ORIGINAL, Buffer.alloc(300_000, 'BODYBYTES ')]));
    const head = await readHeaderSection(messageSource(file, ORIGINAL.length + 300_000, SpoolKeys.none()));
    expect(head!.toString()).toContain('Message-ID: <m1@clinic.example>');
    expect(head!.toString()).not.toMatch(/Potassium|BODYBYTES/);
    const lf = path.join(dir, 'b.eml');
    const lfBytes = 'To: bob@clinic.example\nFrom: alice@clinic.example\n\nsecret body\n';
    writeFileSync(lf, lfBytes);
    expect((await readHeaderSection(messageSource(lf, lfBytes.length, SpoolKeys.none())))!.toString()).toBe('To: bob@clinic.example\nFrom: alice@clinic.example\n');
    expect(await readHeaderSection(messageSource(path.join(dir, 'missing.eml'), 100, SpoolKeys.none()))).toBeNull();
    // a message that is all header: the spool's metadata after it is not read as header fields
    const headerOnly = Buffer.from('To: bob@clinic.example\r\nFrom: alice@clinic.example\r\n');
    const spooled = path.join(dir, 'c.eml');
    writeFileSync(spooled, Buffer.concat([headerOnly, Buffer.from('{"sender": "x@clinic.example"}\n')]));
    expect((await readHeaderSection(messageSource(spooled, headerOnly.length, SpoolKeys.none())))!.equals(headerOnly)).toBe(true);
  });
});

describe('admin alerts', () => {
  it('names the error and the fix, counts what the rate limit held back, and carries no content', async () => {
    const raw = buildAlert({
      kind: 'held',
      workspace: 'clinic',
      hostname: 'relay.clinic.example',
      from: 'postmaster@clinic.example',
      to: 'it@clinic.example',
      messageId: '0X.alert@relay.clinic.example',
      date: new Date('2026-09-01T09:00:00Z'),
      about: { queueId: '0QUEUEID', sender: 'alice@clinic.example', recipients: ['bob@clinic.example'], attempts: 2, nextAttemptAt: '2026-09-01T09:15:00.000Z' },
      code: 'delivery.mail_disabled',
      reason: 'Gmail is not enabled for alice@clinic.example',
      fix: 'turn Gmail on for alice@clinic.example (Admin console → Apps)',
      suppressed: 4,
      interval: 3_600_000,
    });
    const mail = await simpleParser(raw);
    expect(mail.subject).toBe('[workspace-relay] Mail held in workspace clinic: delivery.mail_disabled');
    expect(mail.headers.get('auto-submitted')).toBe('auto-replied');
    expect(mail.text).toContain('Fix:             turn Gmail on for alice@clinic.example (Admin console → Apps)');
    expect(mail.text).toContain('4 more like this since the last alert');
    expect(mail.text).toContain('at most one alert per error every 1h');
  });

  it('rate-limits per key and reports the suppressed count when the interval has passed', () => {
    const clock = new TestClock(0);
    const l = new AlertLimiter(60_000, clock);
    expect(l.take('clinic/held/a')).toEqual({ ok: true, suppressed: 0 });
    expect(l.take('clinic/held/a')).toEqual({ ok: false });
    expect(l.take('clinic/held/b')).toEqual({ ok: true, suppressed: 0 });
    clock.set(59_999);
    expect(l.take('clinic/held/a')).toEqual({ ok: false });
    clock.set(60_000);
    expect(l.take('clinic/held/a')).toEqual({ ok: true, suppressed: 2 });
    l.undo('clinic/held/a', 2);
    expect(l.take('clinic/held/a')).toEqual({ ok: true, suppressed: 2 });
  });
});
