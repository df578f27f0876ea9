/**
 * The reply table (src/replies): every entry renders to one well-formed reply line whose code and
 * enhanced code agree, under a stable dotted code. A new entry needs a sample here (the type of
 * SAMPLES makes the compiler ask for it).
 */
import { describe, expect, it } from 'vitest';
import { SmtpReply } from '../src/errors.js';
import { namedReply, renderReply, REPLIES, show, type NamedReply, type ReplyArgs, type ReplyName } from '../src/replies/index.js';

const SAMPLES: { [N in ReplyName]: ReplyArgs<N> } = {
  clientNotAllowed: { address: '192.0.2.7' },
  tooManyConnections: {},
  tooManyFromClient: { address: '192.0.2.7' },
  shuttingDown: {},
  proxyOnly: {},
  proxyHeaderMissing: {},
  badSequence: {},
  localError: {},
  practiceDisabled: { workspace: 'clinic' },
  senderUnplaced: { sender: 'scanner@clinic.example' },
  practiceQueueFull: { workspace: 'clinic' },
  practiceRate: { workspace: 'clinic', max: 500 },
  commandTimeout: { seconds: 60 },
  dataTooSlow: { rate: 1024 },
  authFailed: {},
  authzidRefused: {},
  authThrottled: { minutes: 1 },
  authThrottledUser: { minutes: 10 },
  authPracticeDisabled: { workspace: 'clinic' },
  authPracticeUnreadable: {},
  authUnavailable: {},
  authRequired: { tlsFirst: true },
  smtpUtf8: {},
  spoolDiskFull: {},
  spoolQueueFull: {},
  deviceRate: { device: 'scanner', max: 60 },
  deviceSender: { device: 'scanner', sender: 'alice@clinic.example' },
  listenerSender: { sender: 'alice@clinic.example' },
  senderNotServed: { sender: 'x@elsewhere.example' },
  nullSenderNoDefault: {},
  senderDefaultAmbiguous: { sender: 'x@elsewhere.example', workspaces: ['clinic', 'north'] },
  senderMappedTwice: { sender: 'fax@legacy.local', workspaces: ['clinic', 'north'] },
  senderOtherWorkspace: { sender: 'nina@north.example', owner: 'north', workspaces: ['clinic'] },
  senderUnqualified: { sender: 'scanner2' },
  senderInvalid: { sender: 'a b@clinic.example', reason: 'the address has more than one @' },
  recipientInvalid: { rcpt: '"a"@clinic.example', reason: 'quoted local parts are not accepted' },
  recipientOutside: { workspace: 'clinic', rcpt: 'bob@evil.example' },
  recipientUnknown: { rcpt: 'bbo@clinic.example' },
  tooManyRecipients: { max: 100 },
  deviceRecipient: { device: 'scanner', rcpt: 'bob@clinic.example' },
  messageTooLarge: { max: 26_214_400 },
  messageTooLargeToSend: { size: 36_700_177, max: 36_700_160 },
  headerTooLarge: { max: 1_048_576 },
  spoolWriteFailed: {},
  bareLineEnding: { kind: 'LF' },
  headerMalformed: { reason: 'the header section has a bare CR: header lines must end in CRLF' },
  headerLongRun: { field: 'to', max: 990 },
  headerRecipientUnreadable: { field: 'cc', reason: 'a comment inside a comment', near: 'a@clinic.example' },
  headerRecipientOutside: { field: 'bcc', workspace: 'clinic', rcpt: 'bob@evil.example' },
  headerRecipientAmbiguous: { field: 'resent-to' },
  envelopeRecipientOutside: { workspace: 'clinic', rcpt: 'bob@evil.example' },
  headerTooManyRecipients: { header: 90, bcc: 20, max: 100 },
  deviceHeaderRecipient: { device: 'scanner', rcpt: 'bob@clinic.example', field: 'resent-cc' },
  actionHeaderOutside: { field: 'Reply-To', workspace: 'clinic', address: 'x@evil.example', automatic: false },
  actionHeaderUnreadable: { field: 'List-Unsubscribe', reason: 'text outside <...> (write each URI in angle brackets)' },
  senderHeaderNotUsable: { address: 'alice@clinic.example', sender: 'scans@clinic.example' },
  senderHeaderUnreadable: { sender: 'scans@clinic.example' },
  fromNotUsable: { from: 'doctor@clinic.example', sender: 'scans@clinic.example' },
  fromUnreadable: { several: true, sender: 'scans@clinic.example' },
  fromNotSender: { from: 'doctor@clinic.example', sender: 'scans@clinic.example', aliasesKnown: true },
  fromUnverifiable: { from: 'doctor@clinic.example', sender: 'scans@clinic.example' },
  accepted: { queueId: '01J0000000000000000000000' },
};

const names = Object.keys(REPLIES) as ReplyName[];
const render = (name: ReplyName) => renderReply({ name, args: SAMPLES[name] } as NamedReply);

describe('the reply table', () => {
  it('has a sample for every entry, and nothing else', () => {
    expect(Object.keys(SAMPLES).sort()).toEqual([...names].sort());
  });

  it.each(names)('%s: reply code and enhanced code agree (2xx with 2.x.x, 4xx with 4.x.x, 5xx with 5.x.x)', (name) => {
    const r = render(name);
    expect(r).toBeInstanceOf(SmtpReply);
    expect(String(r.responseCode)).toMatch(/^[245][0-5]\d$/);
    expect(r.enhanced).toMatch(/^[245]\.\d{1,3}\.\d{1,3}$/);
    expect(r.enhanced[0]).toBe(String(r.responseCode)[0]);
  });

  it.each(names)('%s: a stable dotted code and one printable line of text', (name) => {
    const r = render(name);
    expect(r.code).toMatch(/^[a-z][a-z0-9]*(\.[a-z][a-z0-9_]*)+$/);
    expect(r.reason.length).toBeGreaterThan(0);
    expect(r.reason).toMatch(/^[\x20-\x7e]+$/);
    expect(r.message).toBe(`${r.enhanced} ${r.reason}`);
  });

  it('renders a named reply with its arguments', () => {
    const r = renderReply(namedReply('recipientOutside', { workspace: 'clinic', rcpt: 'Bob@Evil.Example' }));
    expect([r.responseCode, r.enhanced, r.code]).toEqual([550, '5.7.1', 'policy.recipient_refused']);
    expect(r.reason).toBe('recipient <Bob@Evil.Example> outside clinic: mail is only relayed inside the organisation');
    expect(renderReply(namedReply('accepted', { queueId: 'Q1' })).message).toBe('2.0.0 Ok: queued as Q1');
  });

  it('shows addresses as printable ASCII, cut short: a hostile address cannot split the reply', () => {
    const hostile = `evil@x.example\r\n250 ok\u00e9${'a'.repeat(300)}`;
    for (const r of [
      renderReply(namedReply('recipientOutside', { workspace: 'clinic', rcpt: hostile })),
      renderReply(namedReply('headerRecipientUnreadable', { field: 'to', reason: 'x', near: hostile })),
      renderReply(namedReply('senderNotServed', { sender: hostile })),
      renderReply(namedReply('fromNotSender', { from: hostile, sender: hostile, aliasesKnown: false })),
    ]) {
      expect(r.reason).toMatch(/^[\x20-\x7e]+$/);
      expect(r.reason).toContain(show(hostile));
      expect(r.reason).not.toContain('a'.repeat(200));
    }
  });

  it('never echoes a quoted local part: it may hold anything (a name, a date of birth)', () => {
    const quoted = '"John Smith DOB 1970-01-01"@clinic.example';
    for (const r of [
      renderReply(namedReply('recipientInvalid', { rcpt: quoted, reason: 'quoted local parts are not accepted' })),
      renderReply(namedReply('headerRecipientUnreadable', { field: 'to', reason: 'quoted local parts are not accepted', near: quoted })),
      renderReply(namedReply('senderInvalid', { sender: `x${quoted}`, reason: 'quoted local parts are not accepted' })),
    ]) {
      expect(r.reason).toContain('"..."@clinic.example');
      expect(r.reason).not.toMatch(/Smith|1970/);
    }
  });
});
