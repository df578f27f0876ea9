/**
 * Property: no header a mail client acts on (Reply-To, the receipt headers, Errors-To, the List-*
 * mailto: links, …: ACTION_HEADERS) reaches the outgoing bytes with an address outside the
 * workspace. Random header sections, some clean and some hiding outside addresses in every place
 * a reader might look, go through the policy (checkHeaders); whatever it accepts is turned into
 * the bytes a transport sends (applyHeaderChanges with the Gmail API's changes) and read back by
 * readers other than the policy's: mailparser, nodemailer's address parser, and a lenient
 * mailto: reader.
 *
 * PROPERTY_RUNS=20000 npx vitest run test/action-headers-property.test.ts: a deeper search than CI's.
 */
import fc from 'fast-check';
import { simpleParser, type AddressObject, type EmailAddress } from 'mailparser';
import { domainToASCII } from 'node:url';
import addressparser from 'nodemailer/lib/addressparser';
import { describe, expect, it } from 'vitest';
import { parseConfig, type WorkspaceConfig } from '../src/config/index.js';
import { applyHeaderChanges } from '../src/delivery/outgoing.js';
import { ACTION_HEADERS, checkHeaders, readUriList } from '../src/policy/index.js';
import { renderReply } from '../src/replies/index.js';

const clinic: WorkspaceConfig = parseConfig({
  queue: { dir: '/tmp/unused' },
  workspaces: [{ name: 'clinic', domains: ['clinic.example', 'bücher.example'], transport: 'outbox', outbox: { dir: '/tmp/unused-outbox' } }],
}).workspaces[0]!;
const INSIDE = new Set(['clinic.example', 'xn--bcher-kva.example']);
const RUNS = Number(process.env.PROPERTY_RUNS ?? 1500);

const insideAddr = ['a@clinic.example', 'B@Clinic.Example', 'x@bücher.example', 'y@xn--bcher-kva.example'];
const outsideAddr = ['evil@outside.example', 'y@clinic.example.outside.example', 'z@sub.clinic.example', 'w@xn--linic-0ye.example'];
const addr = fc.constantFrom(...insideAddr, ...insideAddr, ...outsideAddr);

// address lists: real mailboxes in every form, outside addresses hidden in names and comments, junk
const phrase = fc.constantFrom('Name', '"Smith, J"', '"x@outside.example"', '=?utf-8?q?x=40outside.example?=', '(x@outside.example) Dr.', '');
const comment = fc.constantFrom('(note)', '(b@outside.example)', '');
const mailbox = fc.oneof(
  addr,
  fc.tuple(phrase, addr, comment).map(([p, a, c]) => `${p} <${a}>${c}`),
  fc.tuple(addr, comment).map(([a, c]) => `${a} ${c}`),
);
const junkPiece = fc.constantFrom('evil@outside.example', 'a@clinic.example', '<', '>', '"', '(', ')', ',', ';', ':', ' ', '\r\n ', '@', '=?utf-8?q?evil=40outside.example?=', 'mailto:');
const junk = fc.array(junkPiece, { maxLength: 8 }).map((p) => p.join(''));
const sep = fc.constantFrom(', ', ',\r\n ', ',');
const list = fc.array(mailbox, { minLength: 1, maxLength: 3 }).chain((ms) => sep.map((s) => ms.join(s)));
const group = list.map((l) => `team: ${l};`);
const addressValue = fc.oneof(list, list, group, junk, fc.constantFrom('never', 'poster', 'Nobody'));

// List-* values: <URI> lists, mailto: with addresses in the path and in to=/cc=/bcc= fields
const spelled = (a: string) => fc.constantFrom(a, a.replace('@', '%40'), encodeURIComponent(a), a.toUpperCase());
const hfield = fc.tuple(fc.constantFrom('to', 'cc', 'bcc', 'CC', 'Reply-To', 'subject', 'body', 'x-other'), addr.chain(spelled)).map(([n, v]) => `${n}=${v}`);
const mailto = fc
  .tuple(fc.constantFrom('mailto:', 'MAILTO:', 'mailto: '), fc.array(addr.chain(spelled), { maxLength: 2 }), fc.array(hfield, { maxLength: 2 }))
  .map(([scheme, to, hf]) => `${scheme}${to.join(',')}${hf.length ? `?${hf.join('&')}` : ''}`);
const uri = fc.oneof(
  mailto.map((m) => `<${m}>`),
  mailto.map((m) => `<${m}>`),
  addr.map((a) => `<https://lists.example/unsubscribe?u=${a}>`),
  fc.tuple(comment, mailto).map(([c, m]) => `${c} <${m}>`),
  mailto, // not in <...>
  fc.constantFrom('NO', 'NO (posting not allowed)'),
);
const uriValue = fc.array(uri, { minLength: 1, maxLength: 3 }).map((us) => us.join(', '));

const actionNames = [...ACTION_HEADERS.values()].map((h) => h.name);
const spelling = (name: string) => fc.constantFrom(name, name.toLowerCase(), name.toUpperCase(), `${name} `);
const actionField = fc
  .constantFrom(...actionNames)
  .chain((name) => fc.tuple(spelling(name), ACTION_HEADERS.get(name.toLowerCase())!.holds === 'uris' ? uriValue : addressValue));
const headerSection = fc.array(actionField, { minLength: 1, maxLength: 3 }).map((fields) =>
  Buffer.from(['From: dev@printer.local', 'To: a@clinic.example', ...fields.map(([n, v]) => `${n}: ${v}`), 'Subject: s'].join('\r\n') + '\r\n\r\nbody\r\n'),
);

const LISTED = new Set(ACTION_HEADERS.keys());
const domainOf = (a: string) => domainToASCII(a.slice(a.lastIndexOf('@') + 1).toLowerCase());

/** Every address a lenient reader finds in the listed headers of the outgoing bytes. */
async function actionAddresses(raw: Buffer): Promise<string[]> {
  const out: string[] = [];
  const mail = await simpleParser(raw);
  const walk = (l: EmailAddress[]) => l.forEach((a) => (a.group ? walk(a.group) : a.address && out.push(a.address)));
  for (const f of [mail.replyTo, mail.headers.get('disposition-notification-to') as AddressObject | undefined]) if (f) walk(f.value);
  const end = raw.indexOf('\r\n\r\n');
  const header = raw.subarray(0, end).toString('utf8').replace(/\r?\n[ \t]/g, ' ');
  for (const line of header.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).replace(/\s+/g, '').toLowerCase();
    if (!LISTED.has(name)) continue;
    const value = line.slice(colon + 1);
    // a List-* header sends mail only through its mailto: links (an https: link sends none)
    const lists = name.startsWith('list-') ? [] : [value];
    for (const m of value.matchAll(/mailto:\s*([^\s>]*)/gi)) {
      const [path = '', query = ''] = m[1]!.split('?');
      lists.push(path);
      for (const pair of query.split('&')) {
        const [n = '', v = ''] = pair.split('=');
        if (!/^(subject|body)$/i.test(n)) lists.push(v);
      }
    }
    for (const l of lists) {
      let text = l;
      try {
        text = decodeURIComponent(l);
      } catch {
        /* as written */
      }
      for (const a of addressparser(text, { flatten: true })) if (a.address?.includes('@')) out.push(a.address);
    }
  }
  return out;
}

describe('headers a mail client acts on never go out with an outside address', () => {
  it('whatever such a header holds, an accepted message carries only inside addresses in it (property)', async () => {
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(headerSection, async (raw) => {
        const end = raw.indexOf('\r\n\r\n') + 4;
        const d = checkHeaders(clinic, raw.subarray(0, end), ['a@clinic.example'], 100);
        if (!d.ok) {
          expect(renderReply(d.reply).reason).toMatch(/^[\x20-\x7e]+$/);
          return;
        }
        accepted++;
        const sent = applyHeaderChanges(raw, { addBcc: d.bcc, rewriteFrom: 'scans@clinic.example', addMessageId: 'm1@clinic.example', addDate: 'Mon, 2 Nov 2026 10:00:00 +0000' });
        for (const a of await actionAddresses(sent)) expect(INSIDE.has(domainOf(a)), `${a} in ${sent.toString('latin1')}`).toBe(true);
      }),
      { numRuns: RUNS },
    );
    expect(accepted).toBeGreaterThan(RUNS / 20); // not a vacuous pass: clean sections are accepted
  });

  it('one outside address in any listed header refuses the message with 550 5.7.1 naming that header (property)', () => {
    const insideList = fc.array(fc.constantFrom(...insideAddr), { minLength: 0, maxLength: 3 });
    fc.assert(
      fc.property(fc.constantFrom(...actionNames), insideList, fc.constantFrom(...outsideAddr), fc.nat(), (name, inside, evil, at) => {
        const header = ACTION_HEADERS.get(name.toLowerCase())!;
        const all = [...inside];
        all.splice(at % (all.length + 1), 0, evil);
        const value = header.holds === 'uris' ? `<mailto:${all.join(',')}>` : all.join(', ');
        const d = checkHeaders(clinic, Buffer.from(`From: dev@printer.local\r\nTo: a@clinic.example\r\n${name}: ${value}\r\n\r\n`), [], 100);
        expect(d.ok).toBe(false);
        if (d.ok) return;
        const r = renderReply(d.reply);
        expect([r.responseCode, r.enhanced]).toEqual([550, '5.7.1']);
        expect(r.reason).toContain(`the ${name} header names <${parseOutside(evil)}>`);
      }),
      { numRuns: 500 },
    );
  });
});

/** How the reply names an outside address: normalized (lowercase, A-labels). */
function parseOutside(a: string): string {
  return `${a.slice(0, a.lastIndexOf('@')).toLowerCase()}@${domainOf(a)}`;
}

describe('reading List-* values (RFC 2369 <URI> lists, RFC 6068 mailto:)', () => {
  const read = (value: string, noAllowed = false) => {
    const r = readUriList(value, noAllowed);
    return r.ok ? r.mailboxes.map((m) => m.address) : r.reason;
  };
  it.each([
    ['<mailto:a@clinic.example>, <https://lists.example/u>', false, ['a@clinic.example']],
    ['(comment) <mailto:a@clinic.example,B%40Clinic.Example?subject=x%40outside.example&body=hi>', false, ['a@clinic.example', 'b@clinic.example']],
    ['<mailto:?to=x%40outside.example&CC=y@outside.example>', false, ['x@outside.example', 'y@outside.example']],
    ['<mailto:a@clinic.example?reply-to=x@outside.example>', false, ['a@clinic.example', 'x@outside.example']],
    ['<mailto:list@clinic.example?subject=un\tsubscribe>', false, ['list@clinic.example']],
    ['NO (posting not allowed)', true, []],
    ['NO', false, 'text outside <...> (write each URI in angle brackets)'],
    ['mailto:x@outside.example', false, 'text outside <...> (write each URI in angle brackets)'],
    ['<mailto:a@clinic.example?x-mailer=1>', false, 'a mailto: field "x-mailer" that is not read here'],
    ['<mailto:a@clinic.example#top>', false, 'a fragment (#) in a mailto: URI'],
    ['<mailto:a%ZZ@clinic.example>', false, 'bad percent-encoding in a mailto: URI'],
    ['<mailto:a@clinic.example', false, 'a < is not closed with >'],
    ['<mailto:%22x%22@clinic.example>', false, 'a mailto: address cannot be read: quoted local parts are not accepted'],
  ])('%s', (value, noAllowed, expected) => {
    expect(read(value, noAllowed)).toEqual(expected);
  });
});
