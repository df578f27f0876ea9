import fc from 'fast-check';
import { simpleParser, type AddressObject, type EmailAddress } from 'mailparser';
import addressparser from 'nodemailer/lib/addressparser';
import { describe, expect, it } from 'vitest';
import { parseConfig, type WorkspaceConfig } from '../src/config/index.js';
import { checkHeaders, parseAddressList, POLICY_CODES, splitHeaderFields, type HeaderDecision } from '../src/policy/index.js';
import { renderReply } from '../src/replies/index.js';

const config = parseConfig({
  queue: { dir: '/tmp/unused' },
  workspaces: [
    { name: 'clinic', domains: ['clinic.example', 'bücher.example'], transport: 'outbox', outbox: { dir: '/tmp/unused-outbox' } },
  ],
});
const clinic: WorkspaceConfig = config.workspaces[0]!;

const block = (...lines: string[]) => Buffer.from(`${lines.join('\r\n')}\r\n\r\n`);
const check = (headers: Buffer, envelope: string[] = [], max = 100) => checkHeaders(clinic, headers, envelope, max);

function accepted(d: HeaderDecision) {
  if (!d.ok) throw new Error(`expected acceptance, got ${renderReply(d.reply).message}`);
  return d;
}
function refused(d: HeaderDecision) {
  if (d.ok) throw new Error(`expected a refusal, got ${JSON.stringify(d)}`);
  return renderReply(d.reply);
}

describe('checkHeaders accepts header recipients inside the workspace', () => {
  it.each([
    ['plain', 'To: a@clinic.example', ['a@clinic.example']],
    ['list', 'To: a@clinic.example, B@Clinic.Example,c@clinic.example', ['a@clinic.example', 'b@clinic.example', 'c@clinic.example']],
    ['display name holding an outside address', 'To: "x@evil.example" <a@clinic.example>', ['a@clinic.example']],
    ['comment holding an outside address', 'To: a@clinic.example (b@evil.example)', ['a@clinic.example']],
    ['comment inside the angle brackets after the address', 'To: <a@clinic.example (b@evil.example)>', ['a@clinic.example']],
    ['encoded-word display name', 'To: =?utf-8?q?Dr=2E_M=C3=BCller?= <a@clinic.example>', ['a@clinic.example']],
    ['UTF-8 display name', 'To: Dr. Müller <a@clinic.example>', ['a@clinic.example']],
    ['quoted display name with comma', 'To: "Smith, John" <j@clinic.example>', ['j@clinic.example']],
    ['apostrophes', "To: O'Brien <o@clinic.example>, d'arcy@clinic.example", ['o@clinic.example', "d'arcy@clinic.example"]],
    ['empty group', 'To: undisclosed-recipients:;', []],
    ['group with members', 'To: team: a@clinic.example, Bee <b@clinic.example>;', ['a@clinic.example', 'b@clinic.example']],
    ['group then mailbox', 'To: team: a@clinic.example;, c@clinic.example', ['a@clinic.example', 'c@clinic.example']],
    ['empty list elements', 'To: a@clinic.example, , b@clinic.example,', ['a@clinic.example', 'b@clinic.example']],
    ['empty field', 'To:', []],
    ['IDN domain as U-label', 'To: x@bücher.example', ['x@xn--bcher-kva.example']],
    ['IDN domain as A-label', 'To: x@xn--bcher-kva.example', ['x@xn--bcher-kva.example']],
    ['field name in any case', 'tO: a@clinic.example', ['a@clinic.example']],
  ])('%s', (_name, line, recipients) => {
    expect(accepted(check(block('From: dev@printer.local', line, 'Subject: x'))).headerRecipients).toEqual(recipients);
  });

  it('collects To, Cc and Bcc (every occurrence) once each, in order', () => {
    const d = accepted(
      check(block('To: a@clinic.example', 'Cc: b@clinic.example, A@clinic.example', 'To: c@clinic.example', 'Bcc: d@clinic.example', 'bcc: b@clinic.example')),
    );
    expect(d.headerRecipients).toEqual(['a@clinic.example', 'b@clinic.example', 'c@clinic.example', 'd@clinic.example']);
  });

  it('unfolds folded fields (CRLF or bare LF) and checks what follows the fold', () => {
    const folded = accepted(check(Buffer.from('To: a@clinic.example,\r\n\tb@clinic.example,\n c@clinic.example\r\nSubject: x\r\n\r\n')));
    expect(folded.headerRecipients).toEqual(['a@clinic.example', 'b@clinic.example', 'c@clinic.example']);
    const reply = refused(check(Buffer.from('To: a@clinic.example,\r\n evil@outside.example\r\n\r\n')));
    expect(reply.reason).toMatch(/<evil@outside\.example> in To/);
    const lf = refused(check(Buffer.from('Subject: x\nTo: evil@outside.example\n\n')));
    expect(lf.reason).toMatch(/<evil@outside\.example> in To/);
  });

  it('puts envelope recipients missing from To/Cc/Bcc into bcc (normalized, once)', () => {
    const d = accepted(
      check(block('To: a@clinic.example', 'Cc: Bee <b@clinic.example>'), ['A@Clinic.Example', 'c@clinic.example', 'C@clinic.example', 'x@bücher.example', 'b@clinic.example']),
    );
    expect(d.bcc).toEqual(['c@clinic.example', 'x@xn--bcher-kva.example']);
    const hidden = accepted(check(block('To: undisclosed-recipients:;'), ['a@clinic.example', 'b@clinic.example']));
    expect(hidden).toMatchObject({ headerRecipients: [], bcc: ['a@clinic.example', 'b@clinic.example'] });
  });

  it('checks Resent-To/-Cc/-Bcc, but an envelope recipient named only there still goes into bcc', () => {
    const d = accepted(check(block('To: a@clinic.example', 'Resent-To: r@clinic.example', 'Resent-Cc: s@clinic.example', 'Resent-Bcc:'), ['r@clinic.example']));
    expect(d).toMatchObject({ headerRecipients: ['a@clinic.example'], bcc: ['r@clinic.example'] });
    for (const field of ['Resent-To', 'Resent-Cc', 'Resent-Bcc']) {
      const reply = refused(check(block('To: a@clinic.example', `${field}: r@clinic.example, evil@outside.example`)));
      expect(reply.reason).toBe(`header recipient <evil@outside.example> in ${field} refused: outside workspace clinic, mail is only relayed inside the organisation`);
    }
  });

  it('reads only the header section: a To in the body is not a header', () => {
    const d = accepted(check(Buffer.from('To: a@clinic.example\r\n\r\nTo: evil@outside.example\r\n')));
    expect(d.headerRecipients).toEqual(['a@clinic.example']);
    expect(accepted(check(Buffer.alloc(0), ['a@clinic.example']))).toMatchObject({ headerRecipients: [], bcc: ['a@clinic.example'] });
  });

  it('returns the From address (first mailbox, normalized) or null, leniently', () => {
    expect(accepted(check(block('From: "Front Desk" <Desk@Clinic.Example>, other@x.example', 'To: a@clinic.example'))).from).toBe('desk@clinic.example');
    expect(accepted(check(block('From: scanner@printer.local'))).from).toBe('scanner@printer.local');
    expect(accepted(check(block('To: a@clinic.example'))).from).toBeNull();
    expect(accepted(check(block('From: Scanner'))).from).toBeNull();
    expect(accepted(check(block('From: "odd"@printer.local'))).from).toBeNull();
    expect(accepted(check(block('From: first@x.example', 'From: second@x.example'))).from).toBe('first@x.example');
  });

  it('returns the Message-ID without angle brackets, or null', () => {
    expect(accepted(check(block('Message-ID: <abc.123@host.example>'))).messageId).toBe('abc.123@host.example');
    expect(accepted(check(block('message-id:\r\n  <abc@host>  '))).messageId).toBe('abc@host');
    expect(accepted(check(block('Message-ID: bare@host'))).messageId).toBe('bare@host');
    expect(accepted(check(block('Message-ID: not an id'))).messageId).toBeNull();
    expect(accepted(check(block('Subject: x'))).messageId).toBeNull();
  });
});

describe('checkHeaders refuses header recipients outside the workspace', () => {
  it.each([
    ['To: evil@outside.example', 'To', 'evil@outside.example'],
    ['Cc: a@clinic.example, Bob <bob@outside.example>', 'Cc', 'bob@outside.example'],
    ['Bcc: x@clinic.example.evil.com', 'Bcc', 'x@clinic.example.evil.com'],
    ['To: x@evilclinic.example', 'To', 'x@evilclinic.example'],
    ['To: x@sub.clinic.example', 'To', 'x@sub.clinic.example'],
    ['To: x@\u0441linic.example', 'To', 'x@xn--linic-0ye.example'],
    ['To: team: a@clinic.example, b@outside.example;', 'To', 'b@outside.example'],
    ['TO: evil@outside.example', 'To', 'evil@outside.example'],
    ['To : evil@outside.example', 'To', 'evil@outside.example'],
  ])('%j', (line, field, address) => {
    const reply = refused(check(block('To: a@clinic.example', line)));
    expect([reply.responseCode, reply.enhanced, reply.code]).toEqual([554, '5.7.1', POLICY_CODES.headerRecipientRefused]);
    expect(reply.reason).toBe(`header recipient <${address}> in ${field} refused: outside workspace clinic, mail is only relayed inside the organisation`);
  });

  it('checks every To field, not just the first', () => {
    const reply = refused(check(block('To: a@clinic.example', 'Subject: x', 'To: evil@outside.example')));
    expect(reply.reason).toMatch(/<evil@outside\.example> in To/);
  });

  it('never shows the subject or a display name in the reply', () => {
    const reply = refused(check(block('Subject: Lab results for Jane Patient', 'To: "Jane Patient" <jane@outside.example>')));
    expect(reply.reason).not.toMatch(/Jane|Patient|Lab results/);
    const noAddr = refused(check(block('Subject: Lab results', 'To: Jane Patient')));
    expect(noAddr.reason).not.toMatch(/Jane|Patient|Lab/);
  });

  it('refuses an envelope recipient outside the workspace (a caller mistake cannot add an outside Bcc)', () => {
    const reply = refused(check(block('To: a@clinic.example'), ['evil@outside.example']));
    expect([reply.responseCode, reply.enhanced]).toEqual([554, '5.7.1']);
  });
});

describe('checkHeaders fails closed on anything that does not parse cleanly', () => {
  it.each([
    ['encoded-word instead of an address', 'To: =?utf-8?q?evil=40outside.example?=', /encoded-word/],
    ['encoded-word as local part', 'To: <=?utf-8?q?evil=40outside.example?=@clinic.example>', /encoded-word/],
    ['comment instead of an address', 'To: (evil@outside.example)', /comment stands where an address belongs/],
    ['comment after the last comma', 'To: a@clinic.example, (evil@outside.example)', /comment stands where/],
    ['comment as a group member', 'To: team: (evil@outside.example);', /comment stands where/],
    ['name without an address', 'To: Front Desk', /display name but no address/],
    ['quoted address without brackets', 'To: "evil@outside.example"', /display name but no address/],
    ['unquoted comma in a display name', 'To: Smith, John <j@clinic.example>', /display name but no address.*double quotes/],
    // readers disagree on quotes in comments: mailparser finds the address ")a"@clinic.example; here
    ['a quote inside a comment', 'To:team: (a@clinic.example;")a@clinic.example;', /quote or backslash inside a comment/],
    ['a backslash inside a comment', 'To: a@clinic.example (x\\) b@outside.example)', /quote or backslash inside a comment/],
    ['empty angle address', 'To: Someone <>', /empty address/],
    ['junk after an address', 'To: a@clinic.example junk', /unexpected text after an address/],
    ['a second address without a comma', 'To: a@clinic.example b@outside.example', /unexpected text/],
    ['two angle addresses', 'To: Joe <a@clinic.example> <b@outside.example>', /unexpected "<"/],
    ['address used as a display name', 'To: a@clinic.example <b@outside.example>', /unexpected "<"/],
    ['address then name without brackets', 'To: Name a@clinic.example', /text before an address/],
    ['unclosed angle bracket', 'To: Name <a@clinic.example', /not closed/],
    ['stray closing bracket', 'To: Name a@clinic.example>', /text before an address/],
    ['comment between addresses', 'To: a@outside.example(c)@clinic.example', /unexpected "@"/],
    ['semicolon outside a group', 'To: a@clinic.example;b@outside.example', /unexpected ";"/],
    ['source route', 'To: <@relay.example:a@clinic.example>', /source routes/],
    ['quoted local part', 'To: "a@outside.example"@clinic.example', /quoted local parts/],
    ['quoted local part in brackets', 'To: <"a@outside.example"@clinic.example>', /quoted local parts/],
    ['percent hack', 'To: a%outside.example@clinic.example', /percent-hack/],
    ['bang path', 'To: outside.example!a@clinic.example', /bang-path/],
    ['IP literal', 'To: a@[127.0.0.1]', /IP address literals/],
    ['IP literal in brackets', 'To: <a@[127.0.0.1]>', /IP address literals/],
    ['whitespace around @', 'To: a @ clinic.example', /whitespace inside an address/],
    ['whitespace inside brackets', 'To: <a @clinic.example>', /inside <...>/],
    ['trailing dot', 'To: a@clinic.example.', /ends with a dot/],
    ['unclosed quote', 'To: "Front Desk <a@clinic.example>', /quoted string is not closed/],
    ['unclosed comment', 'To: a@clinic.example (note', /comment is not closed/],
    ['stray )', 'To: a@clinic.example)', /\) without its \(/],
    ['nested group', 'To: g: h: a@clinic.example;;', /group inside a group/],
    // readers disagree on nested comments (addressparser ends one at the first ")"): found by
    // the property below, whose reader saw y@clinic.example.outside.example here
    ['nested comment', 'To: a@clinic.example (x (b@evil.example) y)', /comment inside a comment/],
    ['nested comment hiding a group', 'To:team: Name <a@clinic.example>(,(note)a@clinic.example;,team: (note)y@clinic.example.outside.example,);', /comment inside a comment/],
    ['group without name', 'To: : a@clinic.example;', /group without a name/],
    ['control character', 'To: a@clinic.example,\u0000b@outside.example', /control character/],
    ['backslash outside quotes', 'To: a\\@clinic.example', /unexpected/],
    ['full-width dot', 'To: a@clinic\u3002example', /canonical/],
  ])('%s', (_name, line, why) => {
    const reply = refused(check(block('From: dev@printer.local', line)));
    expect([reply.responseCode, reply.enhanced, reply.code]).toEqual([554, '5.7.1', POLICY_CODES.headerRecipientRefused]);
    expect(reply.reason).toMatch(/^header recipient( <[\x20-\x7e]+>)? in To refused: /);
    expect(reply.reason).toMatch(why);
  });

  it('refuses a bare CR in the header section (554 5.6.0): another reader may split a field there', () => {
    const reply = refused(check(Buffer.from('Subject: x\rBcc: evil@outside.example\r\nTo: a@clinic.example\r\n\r\n')));
    expect([reply.responseCode, reply.enhanced, reply.code]).toEqual([554, '5.6.0', POLICY_CODES.headerMalformed]);
  });

  it('a line of spaces does not end the header section, so fields after it are still checked', () => {
    const reply = refused(check(Buffer.from('To: a@clinic.example\r\n   \r\nBcc: evil@outside.example\r\n\r\n')));
    expect(reply.reason).toMatch(/<evil@outside\.example> in Bcc/);
  });

  it('checks a field hidden behind a leading space, a BOM or invisible characters in its name', () => {
    expect(refused(check(Buffer.from(' To: evil@outside.example\r\n\r\n'))).reason).toMatch(/in To/);
    expect(refused(check(Buffer.from('\ufeffTo: evil@outside.example\r\n\r\n'))).reason).toMatch(/in To/);
    expect(refused(check(Buffer.from('B\u200bcc: evil@outside.example\r\n\r\n'))).reason).toMatch(/in Bcc/);
  });

  it('refuses an address whose bytes are not UTF-8', () => {
    const latin1 = Buffer.concat([Buffer.from('To: a@b'), Buffer.from([0xfc]), Buffer.from('cher.example\r\n\r\n')]);
    expect(refused(check(latin1)).code).toBe(POLICY_CODES.headerRecipientRefused);
  });

  it('accepts 8-bit text outside the address fields', () => {
    const d = accepted(check(Buffer.concat([Buffer.from('Subject: '), Buffer.from([0xfc, 0xe4]), Buffer.from('\r\nTo: a@clinic.example\r\n\r\n')])));
    expect(d.headerRecipients).toEqual(['a@clinic.example']);
  });
});

describe('checkHeaders recipient limit (Gmail takes at most 100)', () => {
  const addrs = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}${i}@clinic.example`);

  it('counts unique header recipients plus envelope-only recipients', () => {
    const header = addrs(60, 'h');
    const envelope = [...addrs(40, 'e'), ...header.slice(0, 10)];
    const at = accepted(check(block(`To: ${header.join(', ')}`, `Cc: ${header.slice(0, 5).join(', ')}`), envelope));
    expect(at.headerRecipients).toHaveLength(60);
    expect(at.bcc).toHaveLength(40);

    const reply = refused(check(block(`To: ${header.join(', ')}`), [...envelope, 'one.more@clinic.example']));
    expect([reply.responseCode, reply.enhanced, reply.code]).toEqual([554, '5.5.3', POLICY_CODES.headerTooManyRecipients]);
    expect(reply.reason).toBe('too many recipients for Gmail: 60 header recipients plus 41 envelope-only recipients exceed 100');
  });

  it('uses the configured maximum', () => {
    expect(refused(check(block('To: a@clinic.example, b@clinic.example'), ['c@clinic.example'], 2)).reason).toMatch(/2 header recipients plus 1 envelope-only recipients exceed 2/);
  });
});

describe('splitHeaderFields and parseAddressList', () => {
  it('splits fields, unfolds continuations and stops at the empty line', () => {
    const r = splitHeaderFields(Buffer.from('To: a@x.example,\r\n b@x.example\r\nX-Empty:\r\nno colon line\r\n\r\nCc: c@x.example'));
    expect(r).toEqual({
      ok: true,
      fields: [
        { key: 'to', value: ' a@x.example, b@x.example' },
        { key: 'x-empty', value: '' },
      ],
    });
  });

  it('returns group members as mailboxes and skips names and comments', () => {
    const r = parseAddressList('"Desk (front)" <desk@x.example> (note), team: a@x.example;');
    expect(r.ok && r.mailboxes.map((m) => m.address)).toEqual(['desk@x.example', 'a@x.example']);
  });
});

/** Every address an independent reader (mailparser, nodemailer's addressparser) finds in To/Cc/Bcc. */
async function addressesOthersSee(headers: Buffer): Promise<string[]> {
  const out: string[] = [];
  const mail = await simpleParser(Buffer.concat([headers, Buffer.from('body\r\n')]));
  const walk = (list: EmailAddress[]) => {
    for (const a of list) {
      if (a.group) walk(a.group);
      else if (a.address) out.push(a.address);
    }
  };
  for (const field of [mail.to, mail.cc, mail.bcc]) {
    for (const obj of ([] as (AddressObject | undefined)[]).concat(field)) if (obj) walk(obj.value);
  }
  for (const line of headers.toString('utf8').replace(/\r?\n[ \t]/g, ' ').split(/\r?\n/)) {
    const m = /^(to|cc|bcc)\s*:(.*)$/i.exec(line);
    if (m) for (const a of addressparser(m[2], { flatten: true })) if (a.address) out.push(a.address);
  }
  return out;
}

// PROPERTY_RUNS=60000 npx vitest run test/policy-headers.test.ts -t properties: a deeper search than CI's.
describe('checkHeaders properties', () => {
  const pieces = [
    'a@clinic.example', 'b@clinic.example', 'evil@outside.example', 'clinic.example', 'outside.example', 'x', '@', '<', '>', '"',
    '(', ')', ',', ';', ':', ' ', '\t', '\r\n ', '.', '\\', "'", '=?utf-8?q?evil=40outside.example?=', '=?utf-8?b?ZXZpbEBvdXRzaWRlLmV4YW1wbGU=?=',
    'Name', '[', ']', '%', '!', '\u0441', 'ü', '\u00a0', '\u3002',
  ];
  const junk = fc.array(fc.constantFrom(...pieces), { maxLength: 12 }).map((p) => p.join(''));
  // near-valid lists: real mailboxes in every form, with outside addresses hidden in names,
  // comments and encoded-words, and now and then a piece of junk or a wrong separator
  const addr = fc.constantFrom('a@clinic.example', 'B@Clinic.Example', 'evil@outside.example', 'x@bücher.example', 'y@clinic.example.outside.example');
  const phrase = fc.constantFrom('Name', '"Smith, J"', '"x@outside.example"', 'x@outside.example', '=?utf-8?q?x=40outside.example?=', '(x@outside.example) Dr.', '');
  const comment = fc.constantFrom('(note)', '(b@outside.example)', '(a (evil@outside.example) b)', '', '(');
  const mailboxText = fc.oneof(
    addr,
    fc.tuple(phrase, addr, comment).map(([p, a, c]) => `${p} <${a}>${c}`),
    fc.tuple(addr, comment).map(([a, c]) => `${a} ${c}`),
    fc.tuple(comment, addr).map(([c, a]) => `${c}${a}`),
    junk,
  );
  const separator = fc.constantFrom(',', ', ', ',\r\n ', ' ', ';', ',,');
  const entries = fc.array(fc.tuple(mailboxText, separator), { minLength: 1, maxLength: 4 }).map((es) => es.map(([m, sep], i) => (i ? sep : '') + m).join(''));
  const entry = fc.oneof(mailboxText, fc.tuple(fc.constantFrom('team', 'undisclosed-recipients'), fc.option(entries)).map(([g, es]) => `${g}: ${es ?? ''};`));
  const structured = fc.array(fc.tuple(entry, separator), { minLength: 1, maxLength: 4 }).map((es) => es.map(([m, sep], i) => (i ? sep : '') + m).join(''));
  const value = fc.oneof(junk, structured, structured);
  const field = fc.constantFrom('To', 'Cc', 'Bcc', 'Resent-To', 'Subject', 'From', 'tO', 'To ');
  const headerBlock = fc.array(fc.tuple(field, value), { maxLength: 4 }).map((fs) => Buffer.from(`${fs.map(([f, v]) => `${f}:${v}`).join('\r\n')}\r\n\r\n`));

  it('whatever the header section, it never throws and decides', () => {
    fc.assert(
      fc.property(fc.oneof(headerBlock, fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b))), (headers) => {
        const d = checkHeaders(clinic, headers, ['a@clinic.example'], 100);
        if (!d.ok) expect(renderReply(d.reply).reason).toMatch(/^[\x20-\x7e]+$/);
        else expect(d.headerRecipients.every((a) => /@(clinic\.example|xn--bcher-kva\.example)$/.test(a))).toBe(true);
      }),
      { numRuns: Number(process.env.PROPERTY_RUNS ?? 3000) },
    );
  });

  it('when it accepts, no other reader of the headers finds an address outside the workspace', async () => {
    await fc.assert(
      fc.asyncProperty(headerBlock, async (headers) => {
        const d = checkHeaders(clinic, headers, [], 100);
        if (!d.ok) return;
        for (const a of await addressesOthersSee(headers)) {
          expect(a.toLowerCase()).toMatch(/@(clinic\.example|bücher\.example|xn--bcher-kva\.example)$/);
        }
      }),
      { numRuns: Number(process.env.PROPERTY_RUNS ?? 3000) },
    );
  });

  it('a list of inside addresses in any common format is accepted, and one outside address anywhere refuses it', () => {
    const local = fc.stringMatching(/^[a-z0-9][a-z0-9._+-]{0,8}[a-z0-9]$/).filter((s) => !s.includes('..'));
    const display = fc.constantFrom('', 'Dr. Smith', '"Smith, John"', '=?utf-8?q?M=C3=BCller?=', '"x@outside.example"', "O'Brien");
    const mailbox = (domain: string) =>
      fc.tuple(local, display, fc.constantFrom('bare', 'angle', 'comment')).map(([l, n, form]) =>
        form === 'bare' ? `${l}@${domain}` : form === 'comment' ? `${l}@${domain} (${n.replace(/"/g, '') || 'note'})` : `${n} <${l}@${domain}>`.trim(),
      );
    fc.assert(
      fc.property(fc.array(mailbox('clinic.example'), { minLength: 1, maxLength: 6 }), fc.option(mailbox('outside.example')), fc.nat(), (inside, outside, at) => {
        const list = [...inside];
        if (outside !== null) list.splice(at % (list.length + 1), 0, outside);
        const d = check(block(`To: ${list.join(',\r\n ')}`));
        expect(d.ok).toBe(outside === null);
        if (d.ok) expect(d.headerRecipients.every((a) => a.endsWith('@clinic.example'))).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});
