import { describe, expect, it } from 'vitest';
import { parseConfig, type WorkspaceConfig } from '../src/config/index.js';
import {
  decideFrom,
  FROM_POLICY_CODES,
  planRewrite,
  readHeaderFacts,
  rfc5322Date,
  type FromDecision,
  type FromPolicy,
  type FromPolicyInput,
} from '../src/policy/index.js';
import { renderReply } from '../src/replies/index.js';
import { messageIdLeft } from '../src/smtp/identity.js';

const config = parseConfig({
  queue: { dir: '/tmp/unused' },
  workspaces: [
    { name: 'clinic', domains: ['clinic.example', 'bücher.example'], transport: 'outbox', outbox: { dir: '/tmp/unused-outbox' } },
    { name: 'other', domains: ['other.example'], transport: 'outbox', outbox: { dir: '/tmp/unused-outbox2' } },
  ],
});
const clinic: WorkspaceConfig = config.workspaces[0]!;

const SENDER = 'scans@clinic.example';
const h = (s: string) => Buffer.from(s.replace(/\n/g, '\r\n'), 'utf8');

/** Decide for a header block as the listener will: facts first, then the policy. */
function decide(header: string, fromPolicy: FromPolicy, extra: Partial<FromPolicyInput> = {}): FromDecision {
  const facts = readHeaderFacts(h(header));
  return decideFrom({
    ...facts,
    workspace: clinic,
    sender: SENDER,
    fromPolicy,
    mayUse: (a) => a !== 'locked@clinic.example',
    ...extra,
  });
}

/** A compact view of a decision for the tables. */
function view(d: FromDecision): string {
  if (!d.ok) return `${renderReply(d.reply).responseCode} ${renderReply(d.reply).enhanced}`;
  const parts = [d.outcome, `as ${d.sendAs}`];
  if (d.rewriteFrom) parts.push(`From ${d.rewriteFrom.address}`);
  if (d.replyTo) parts.push(`Reply-To ${d.replyTo}`);
  return parts.join(', ');
}

const ALIASES = new Set(['front@clinic.example', 'Billing@Clinic.Example']);

// Each case: header, then the outcome under rewrite, impersonate and reject (with replyToOriginal,
// the sender's verified aliases known, and the client allowed every sender but locked@).
const TABLE: [string, string, string, string, string][] = [
  ['From = sender', 'From: scans@clinic.example\n', 'unchanged, as scans@clinic.example', 'unchanged, as scans@clinic.example', 'unchanged, as scans@clinic.example'],
  ['From = sender, other case', 'From: "Scanner" <SCANS@Clinic.Example>\n', 'unchanged, as scans@clinic.example', 'unchanged, as scans@clinic.example', 'unchanged, as scans@clinic.example'],
  ['From = verified alias', 'From: Front <front@clinic.example>\n', 'alias, as scans@clinic.example', 'alias, as scans@clinic.example', 'alias, as scans@clinic.example'],
  ['From = alias (case)', 'From: billing@CLINIC.example\n', 'alias, as scans@clinic.example', 'alias, as scans@clinic.example', 'alias, as scans@clinic.example'],
  [
    'From = other user inside',
    'From: "Dr. M\u00fcller" <doctor@clinic.example>\n',
    'rewritten, as scans@clinic.example, From scans@clinic.example, Reply-To doctor@clinic.example',
    'impersonated, as doctor@clinic.example',
    '550 5.7.1',
  ],
  [
    'From = other user inside (IDN domain)',
    'From: lab@b\u00fccher.example\n',
    'rewritten, as scans@clinic.example, From scans@clinic.example, Reply-To lab@xn--bcher-kva.example',
    'impersonated, as lab@xn--bcher-kva.example',
    '550 5.7.1',
  ],
  ['From = user the client may not use', 'From: locked@clinic.example\n', 'rewritten, as scans@clinic.example, From scans@clinic.example, Reply-To locked@clinic.example', '550 5.7.1', '550 5.7.1'],
  ['From outside', 'From: "EHR" <noreply@ehr-vendor.example>\n', 'rewritten, as scans@clinic.example, From scans@clinic.example', 'rewritten, as scans@clinic.example, From scans@clinic.example', '550 5.7.1'],
  ['From in another workspace', 'From: x@other.example\n', 'rewritten, as scans@clinic.example, From scans@clinic.example', 'rewritten, as scans@clinic.example, From scans@clinic.example', '550 5.7.1'],
  ['From on a lookalike subdomain', 'From: doctor@mail.clinic.example\n', 'rewritten, as scans@clinic.example, From scans@clinic.example', 'rewritten, as scans@clinic.example, From scans@clinic.example', '550 5.7.1'],
  ['no From', 'To: a@clinic.example\n', 'added, as scans@clinic.example, From scans@clinic.example', 'added, as scans@clinic.example, From scans@clinic.example', 'added, as scans@clinic.example, From scans@clinic.example'],
  ['unreadable From', 'From: Front Desk\n', 'rewritten, as scans@clinic.example, From scans@clinic.example', 'rewritten, as scans@clinic.example, From scans@clinic.example', '550 5.7.1'],
  ['empty From', 'From:\n', 'rewritten, as scans@clinic.example, From scans@clinic.example', 'rewritten, as scans@clinic.example, From scans@clinic.example', '550 5.7.1'],
  ['encoded-word as the address', 'From: =?utf-8?q?doctor=40clinic.example?=\n', 'rewritten, as scans@clinic.example, From scans@clinic.example', 'rewritten, as scans@clinic.example, From scans@clinic.example', '550 5.7.1'],
  ['several mailboxes (first = sender)', 'From: scans@clinic.example, doctor@clinic.example\n', 'rewritten, as scans@clinic.example, From scans@clinic.example', 'rewritten, as scans@clinic.example, From scans@clinic.example', '550 5.7.1'],
  ['two From fields', 'From: scans@clinic.example\nFrom: doctor@clinic.example\n', 'rewritten, as scans@clinic.example, From scans@clinic.example', 'rewritten, as scans@clinic.example, From scans@clinic.example', '550 5.7.1'],
  ['a group', 'From: Team: scans@clinic.example;\n', 'rewritten, as scans@clinic.example, From scans@clinic.example', 'rewritten, as scans@clinic.example, From scans@clinic.example', '550 5.7.1'],
  [
    'quoted display name with an address in it',
    'From: "scans@clinic.example" <doctor@clinic.example>\n',
    'rewritten, as scans@clinic.example, From scans@clinic.example, Reply-To doctor@clinic.example',
    'impersonated, as doctor@clinic.example',
    '550 5.7.1',
  ],
  [
    'encoded-word display name',
    'From: =?UTF-8?B?RHIuIE3DvGxsZXI=?= <doctor@clinic.example>\n',
    'rewritten, as scans@clinic.example, From scans@clinic.example, Reply-To doctor@clinic.example',
    'impersonated, as doctor@clinic.example',
    '550 5.7.1',
  ],
];

describe('decideFrom: every policy against every kind of From', () => {
  for (const [name, header, rewrite, impersonate, reject] of TABLE) {
    it(name, () => {
      const extra = { replyToOriginal: true, sendAsAliases: ALIASES };
      expect({
        rewrite: view(decide(header, 'rewrite', extra)),
        impersonate: view(decide(header, 'impersonate', extra)),
        reject: view(decide(header, 'reject', extra)),
      }).toEqual({ rewrite, impersonate, reject });
    });
  }
});

describe('decideFrom details', () => {
  it('without alias knowledge (verifySendAs off) an alias From is treated like any other user', () => {
    expect(view(decide('From: front@clinic.example\n', 'rewrite'))).toBe('rewritten, as scans@clinic.example, From scans@clinic.example');
    expect(view(decide('From: front@clinic.example\n', 'reject'))).toBe('550 5.7.1');
  });

  it('pending (unverified) aliases are not in the set, so they are rewritten', () => {
    expect(view(decide('From: pending@clinic.example\n', 'rewrite', { sendAsAliases: ALIASES }))).toMatch(/^rewritten/);
  });

  it('reject names both addresses and the fix; the sender mapping is not echoed with display names', () => {
    const d = decide('From: "Patient Jane Roe" <doctor@clinic.example>\n', 'reject');
    expect(d.ok).toBe(false);
    if (d.ok) return;
    expect(renderReply(d.reply).code).toBe(FROM_POLICY_CODES.fromRefused);
    expect(renderReply(d.reply).message).toMatch(/^5\.7\.1 From <doctor@clinic\.example> is not the sending user <scans@clinic\.example>/);
    expect(renderReply(d.reply).message).toMatch(/fromPolicy rewrite/);
    expect(renderReply(d.reply).message).not.toMatch(/Jane/);
  });

  it('reject answers 451 (try later), not 550, when the aliases could not be listed', () => {
    const d = decide('From: front@clinic.example\n', 'reject', { aliasesUnavailable: true });
    expect(view(d)).toBe('451 4.4.3');
    if (!d.ok) expect(renderReply(d.reply).code).toBe(FROM_POLICY_CODES.fromUnverifiable);
    // ...but From = sender needs no aliases, and rewrite still delivers (From rewritten).
    expect(view(decide('From: scans@clinic.example\n', 'reject', { aliasesUnavailable: true }))).toBe('unchanged, as scans@clinic.example');
    expect(view(decide('From: front@clinic.example\n', 'rewrite', { aliasesUnavailable: true }))).toMatch(/^rewritten/);
  });

  it('impersonate refuses a colleague the client may not use, naming the fix', () => {
    const d = decide('From: locked@clinic.example\n', 'impersonate');
    expect(d.ok).toBe(false);
    if (!d.ok) expect(renderReply(d.reply).message).toMatch(/locked@clinic\.example.*senders/);
  });

  it('impersonate asks mayUse with the normalized From address only', () => {
    const asked: string[] = [];
    decide('From: Doctor@CLINIC.example\n', 'impersonate', { mayUse: (a) => (asked.push(a), true) });
    decide('From: x@outside.example\n', 'impersonate', { mayUse: (a) => (asked.push(a), true) });
    expect(asked).toEqual(['doctor@clinic.example']);
  });

  it('Reply-To: only with replyToOriginal, only when the message has none, only for an address inside the workspace', () => {
    const inside = 'From: doctor@clinic.example\n';
    expect(decide(inside, 'rewrite')).not.toHaveProperty('replyTo');
    expect(decide(inside, 'rewrite', { replyToOriginal: true })).toMatchObject({ replyTo: 'doctor@clinic.example' });
    expect(decide(`${inside}Reply-To: x@clinic.example\n`, 'rewrite', { replyToOriginal: true })).not.toHaveProperty('replyTo');
    expect(decide('From: evil@outside.example\n', 'rewrite', { replyToOriginal: true })).not.toHaveProperty('replyTo');
  });

  it('works from the meta fields alone (from: null means no From)', () => {
    const base = { workspace: clinic, sender: 'Scans@Clinic.Example', fromPolicy: 'rewrite' as const, mayUse: () => true };
    expect(view(decideFrom({ ...base, from: null }))).toBe('added, as scans@clinic.example, From scans@clinic.example');
    expect(view(decideFrom({ ...base, from: 'scans@clinic.example' }))).toBe('unchanged, as scans@clinic.example');
  });
});

describe('readHeaderFacts', () => {
  it('sees field presence, whatever the case of the field name', () => {
    expect(readHeaderFacts(h('FROM: a@clinic.example\nreply-TO: b@clinic.example\nDATE: x\nmessage-id: <1@x>\nSENDER: C@clinic.example\n\nbody'))).toEqual({
      fromField: 'mailbox',
      from: 'a@clinic.example',
      senderField: 'mailbox',
      sender: 'c@clinic.example',
      hasReplyTo: true,
      hasDate: true,
      hasMessageId: true,
    });
    expect(readHeaderFacts(h('Subject: s\n'))).toEqual({ fromField: 'none', from: null, senderField: 'none', sender: null, hasReplyTo: false, hasDate: false, hasMessageId: false });
    expect(readHeaderFacts(h('Sender: a@clinic.example, b@clinic.example\n'))).toMatchObject({ senderField: 'several', sender: null });
  });

  it('reads a folded From with 8-bit display name', () => {
    expect(readHeaderFacts(h('From: "Z\u00f6e \\"Doc\\" Roe"\n <Zoe@Clinic.Example>\n'))).toMatchObject({ fromField: 'mailbox', from: 'zoe@clinic.example' });
  });
});

describe('planRewrite', () => {
  const now = new Date(Date.UTC(2026, 10, 2, 9, 5, 7));
  const accepted = (header: string) => {
    const d = decide(header, 'rewrite', { replyToOriginal: true });
    if (!d.ok) throw new Error('refused');
    return d;
  };

  it('adds Date and Message-ID only when missing, Message-ID in the sending domain', () => {
    const facts = readHeaderFacts(h('From: scans@clinic.example\n'));
    expect(planRewrite({ from: accepted('From: scans@clinic.example\n'), facts, now, randomId: () => 'r1' })).toEqual({
      addDate: 'Mon, 2 Nov 2026 09:05:07 +0000',
      addMessageId: 'r1@clinic.example',
    });
    const full = 'From: scans@clinic.example\nDate: Sun, 1 Nov 2026 00:00:00 +0100\nMessage-ID: <a@b>\n';
    expect(planRewrite({ from: accepted(full), facts: readHeaderFacts(h(full)), now, randomId: () => 'r1' })).toBeUndefined();
  });

  it('carries the From decision', () => {
    const header = 'From: doctor@clinic.example\nDate: x\nMessage-ID: <a@b>\n';
    expect(planRewrite({ from: accepted(header), facts: readHeaderFacts(h(header)), now, randomId: () => 'r1' })).toEqual({
      from: 'scans@clinic.example',
      replyTo: 'doctor@clinic.example',
    });
  });

  it('makes distinct Message-IDs with the listener\'s generator (policy brings no randomness of its own)', () => {
    const facts = { hasDate: true, hasMessageId: false };
    const a = planRewrite({ from: accepted('From: scans@clinic.example\n'), facts, now, randomId: messageIdLeft })!.addMessageId!;
    const b = planRewrite({ from: accepted('From: scans@clinic.example\n'), facts, now, randomId: messageIdLeft })!.addMessageId!;
    expect(a).toMatch(/^[0-9a-f]{32}@clinic\.example$/);
    expect(a).not.toBe(b);
  });

  it('formats dates as RFC 5322 in UTC', () => {
    expect(rfc5322Date(new Date(Date.UTC(2027, 0, 31, 23, 59, 0)))).toBe('Sun, 31 Jan 2027 23:59:00 +0000');
  });
});
