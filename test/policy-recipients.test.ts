import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig, type WorkspaceConfig } from '../src/config/index.js';
import { checkRecipient, isWorkspaceDomain, POLICY_CODES, recipientLimitReply } from '../src/policy/index.js';
import { renderReply } from '../src/replies/index.js';

const config = parseConfig({
  queue: { dir: '/tmp/unused' },
  workspaces: [
    {
      name: 'clinic',
      domains: ['clinic.example', 'bücher.example', 'clinic-lab.example'],
      transport: 'outbox',
      outbox: { dir: '/tmp/unused-outbox' },
    },
  ],
});
const clinic: WorkspaceConfig = config.workspaces[0]!;

describe('checkRecipient', () => {
  it.each([
    ['anna@clinic.example', 'anna@clinic.example'],
    ['Anna@CLINIC.EXAMPLE', 'anna@clinic.example'],
    ['lab@clinic-lab.example', 'lab@clinic-lab.example'],
    ['x@bücher.example', 'x@xn--bcher-kva.example'],
    ['x@BÜCHER.EXAMPLE', 'x@xn--bcher-kva.example'],
    ['x@xn--bcher-kva.example', 'x@xn--bcher-kva.example'],
    ['x@XN--BCHER-KVA.example', 'x@xn--bcher-kva.example'],
  ])('%s is inside (as %s)', (rcpt, address) => {
    expect(checkRecipient(clinic, rcpt)).toEqual({ ok: true, address, domain: address.split('@')[1] });
  });

  it.each([
    'a@clinic.example.evil.com',
    'a@evilclinic.example',
    'a@sub.clinic.example',
    'a@clinic.examplex',
    'a@clinicexample',
    'a@clinic.exampl',
    'a@lab.example',
    'a@bucher.example',
    'a@xn--bcher-kva.example.evil.com',
    'a@\u0441linic.example', // Cyrillic с
    'a@c\u04cfinic.example', // Cyrillic palochka for l
    'a@gmail.com',
    'a@localhost',
  ])('%s is outside: 550 5.7.1', (rcpt) => {
    const d = checkRecipient(clinic, rcpt);
    expect(d.ok).toBe(false);
    if (d.ok) return;
    expect([renderReply(d.reply).responseCode, renderReply(d.reply).enhanced, renderReply(d.reply).code]).toEqual([550, '5.7.1', POLICY_CODES.recipientRefused]);
    expect(renderReply(d.reply).reason).toMatch(/^recipient <[\x20-\x7e]+> outside clinic: mail is only relayed inside the organisation$/);
  });

  it('names the refused recipient in the reply', () => {
    const d = checkRecipient(clinic, 'Bob@Evil.Example');
    expect(!d.ok && renderReply(d.reply).reason).toBe('recipient <bob@evil.example> outside clinic: mail is only relayed inside the organisation');
  });

  it.each([
    '"a@b"@clinic.example',
    '@evil.example:a@clinic.example',
    'a%evil.example@clinic.example',
    'evil.example!a@clinic.example',
    'a@evil.example@clinic.example',
    'a@clinic.example.',
    'a@[127.0.0.1]',
    'a@clinic\u3002example',
    '',
    'clinic.example',
    'a b@clinic.example',
    '.a@clinic.example',
    '=?utf-8?q?evil=40outside.example?=@clinic.example',
  ])('%j does not parse: refused with 553 5.1.3', (rcpt) => {
    const d = checkRecipient(clinic, rcpt);
    expect(d.ok).toBe(false);
    if (d.ok) return;
    expect([renderReply(d.reply).responseCode, renderReply(d.reply).enhanced, renderReply(d.reply).code]).toEqual([553, '5.1.3', POLICY_CODES.recipientInvalid]);
    expect(renderReply(d.reply).reason).toMatch(/is not a valid address: /);
    expect(renderReply(d.reply).reason).toMatch(/^[\x20-\x7e]+$/);
  });
});

describe('isWorkspaceDomain', () => {
  it('is an exact match on the normalized domain', () => {
    expect(['clinic.example', 'CLINIC.EXAMPLE', 'bücher.example', 'xn--bcher-kva.example'].map((d) => isWorkspaceDomain(clinic, d))).toEqual([true, true, true, true]);
    expect(['sub.clinic.example', 'clinic.example.', 'clinic.example.evil.com', 'clinic\u3002example', ''].map((d) => isWorkspaceDomain(clinic, d))).toEqual([false, false, false, false, false]);
  });
});

describe('recipientLimitReply', () => {
  it('tells the client to send the rest in another transaction (452 4.5.3)', () => {
    const r = renderReply(recipientLimitReply(100));
    expect([r.responseCode, r.enhanced, r.code]).toEqual([452, '4.5.3', POLICY_CODES.tooManyRecipients]);
    expect(r.reason).toBe('too many recipients: at most 100 per message, send the rest in another transaction');
    expect(renderReply(recipientLimitReply(7)).reason).toMatch(/at most 7 per message/);
  });
});

describe('checkRecipient properties', () => {
  const label = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,8}[a-z0-9])?$/);
  const junk = fc.oneof(
    fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 12 }),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 6 }),
    label.map((l) => `.${l}`),
    label.map((l) => `${l}.`),
    label,
  );

  it('anything prepended or appended to a workspace domain is outside (or does not parse)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...clinic.domains), junk, junk, fc.boolean(), fc.boolean(), (d, pre, post, usePre, usePost) => {
        const domain = `${usePre ? pre : ''}${d}${usePost ? post : ''}`;
        const r = checkRecipient(clinic, `user@${domain}`);
        // no spelling trick (soft hyphen, full-width dot, zero-width space...) brings it back inside
        expect(r.ok).toBe(!usePre && !usePost);
        if (r.ok) expect(r.address).toBe(`user@${d}`);
      }),
      { numRuns: 2000 },
    );
  });

  it('every accepted recipient has a domain exactly in the list, and never throws', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 60 }),
          fc.emailAddress(),
          fc.tuple(fc.string({ maxLength: 10 }), fc.constantFrom(...clinic.domains, 'BÜCHER.example', 'Clinic.Example')).map(([l, d]) => `${l}@${d}`),
        ),
        (rcpt) => {
          const r = checkRecipient(clinic, rcpt);
          if (r.ok) {
            expect(clinic.domains).toContain(r.domain);
            expect(r.address.endsWith(`@${r.domain}`)).toBe(true);
            expect(r.address.split('@')).toHaveLength(2);
          } else {
            expect([550, 553]).toContain(renderReply(r.reply).responseCode);
            expect(renderReply(r.reply).reason).not.toMatch(/[\r\n]/);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('the decision does not depend on letter case', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z0-9._+-]{1,10}$/), fc.constantFrom('clinic.example', 'evil.example', 'bücher.example'), (l, d) => {
        const a = checkRecipient(clinic, `${l}@${d}`);
        const b = checkRecipient(clinic, `${l}@${d}`.toUpperCase());
        expect(b.ok).toBe(a.ok);
        if (a.ok && b.ok) expect(b.address).toBe(a.address);
      }),
    );
  });
});
