/**
 * What DATA may contain: no bare LF / CR line endings (SMTP smuggling) unless a listener opts
 * out (then they become CRLF before anything reads the message), no SMTPUTF8, but 8-bit headers
 * pass byte-exact and long header lines are accepted.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LineEndingCheck, LineEndingNormalizer } from '../src/smtp/line-endings.js';
import { EdgeClient, mail } from './support/edge-client.js';
import { headerAddresses, startEdge, type EdgeEnv } from './support/edge.js';
import { sleep, waitUntil } from './support/harness.js';

describe('bare line ending check', () => {
  const check = (...chunks: string[]) => {
    const c = new LineEndingCheck();
    for (const s of chunks) c.write(Buffer.from(s, 'latin1'));
    return c.bare;
  };
  it('finds bare LF and bare CR, wherever chunks split a CRLF', () => {
    expect(check('a\r\nb\r\n')).toBeNull();
    expect(check('a\r', '\nb\r\n')).toBeNull();
    expect(check('a\r', '', '\nb')).toBeNull();
    expect(check('\n')).toBe('LF');
    expect(check('a\r\n', '\nb')).toBe('LF');
    expect(check('a\rb')).toBe('CR');
    expect(check('a\r', 'b')).toBe('CR');
    expect(check('a\r')).toBe('CR');
    expect(check('a\r\r\n')).toBe('CR');
    expect(check('x'.repeat(70_000) + '\n')).toBe('LF');
  });
});

describe('line ending normaliser (allowBareLineEndings)', () => {
  it('turns every bare LF and bare CR into CRLF and keeps CRLF, however the chunks split (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('a', '\r', '\n', '\r\n', '.'), { maxLength: 40 }), fc.array(fc.nat(), { maxLength: 6 }), (pieces, cuts) => {
        const input = pieces.join('');
        const at = [...new Set(cuts.map((c) => c % (input.length + 1)))].sort((a, b) => a - b);
        const n = new LineEndingNormalizer();
        const out: Buffer[] = [];
        let from = 0;
        for (const to of [...at, input.length]) {
          out.push(n.write(Buffer.from(input.slice(from, to), 'latin1')));
          from = to;
        }
        out.push(n.end());
        expect(Buffer.concat(out).toString('latin1')).toBe(input.replace(/\r\n|\r|\n/g, '\r\n'));
      }),
      { numRuns: 2000 },
    );
  });
});

/** The SMTP smuggling end-of-data variants (Postfix's list): each must stay inside one message. */
const SMUGGLE_ENDINGS: [string, string][] = [
  ['<LF>.<LF>', '\n.\n'],
  ['<CR>.<CR>', '\r.\r'],
  ['<LF>.<CR><LF>', '\n.\r\n'],
  ['<CR><LF>.<LF>', '\r\n.\n'],
  ['<CR>.<CR><LF>', '\r.\r\n'],
  ['<CR><LF>.<CR>', '\r\n.\r'],
];

describe('message hygiene at the listener', () => {
  let env: EdgeEnv;
  let strict: number;
  let lenient: number;

  beforeAll(async () => {
    env = await startEdge({
      listen: () => [
        { port: 0, greetingDelay: 0 },
        { port: 0, allowBareLineEndings: true, greetingDelay: 0 },
      ],
    });
    [strict, lenient] = env.ports as [number, number];
  });
  afterAll(async () => {
    await env.stop();
  });

  it('refuses bare LF and bare CR in DATA with 554 5.6.0, stores nothing, and the session goes on', async () => {
    const { client } = await EdgeClient.open(strict);
    for (const [kind, body] of [
      ['LF', 'line one\nline two\r\n'],
      ['CR', 'line one\rline two\r\n'],
    ] as const) {
      const r = await client.send('alice@clinic.example', ['bob@clinic.example'], mail({ From: 'alice@clinic.example', To: 'bob@clinic.example' }, body));
      expect(r.code).toBe(554);
      expect(r.text).toBe(`5.6.0 message refused: bare <${kind}> line ending; lines must end with <CR><LF>`);
    }
    expect(env.spoolFiles()).toEqual([]);
    expect(env.logs.events('message.rejected').filter((l) => l.enhanced === '5.6.0')).toHaveLength(2);
    expect((await client.send('alice@clinic.example', ['bob@clinic.example'], mail({ From: 'alice@clinic.example', To: 'bob@clinic.example' }))).code).toBe(250);
    await client.quit();
  });

  async function smuggle(port: number, ending: string, tag: string) {
    const { client } = await EdgeClient.open(port);
    expect((await client.cmd('MAIL FROM:<alice@clinic.example>')).code).toBe(250);
    expect((await client.cmd('RCPT TO:<bob@clinic.example>')).code).toBe(250);
    expect((await client.cmd('DATA')).code).toBe(354);
    // the attacker's "lines" end the way its fake end of data does
    const nl = ending.at(-1)!;
    const smuggled = ['MAIL FROM:<alice@clinic.example>', 'RCPT TO:<bob@clinic.example>', 'DATA', `Subject: smuggled ${tag}`, '', 'inner'].join(nl);
    client.write(`From: alice@clinic.example\r\nTo: bob@clinic.example\r\nSubject: outer ${tag}\r\n\r\nouter body${ending}${smuggled}${ending}\r\n.\r\nHELP\r\n`);
    const first = await client.read();
    const second = await client.read();
    await sleep(50);
    await client.quit();
    return { first, second };
  }

  for (const [name, ending] of SMUGGLE_ENDINGS) {
    it(`${name} never ends DATA: one reply for the whole message (refused), then the next command`, async () => {
      const { first, second } = await smuggle(strict, ending, name);
      expect(first.code).toBe(554);
      expect(first.text).toMatch(/^5\.6\.0 /);
      expect(second.code).toBe(214); // HELP: the "smuggled" MAIL/RCPT/DATA were never commands
    });
  }

  it('with allowBareLineEndings the smuggled part is content of the one message, never a second message', async () => {
    const { first, second } = await smuggle(lenient, '\n.\n', 'lenient');
    expect(first.code).toBe(250);
    expect(second.code).toBe(214);
    const mine = () => env.google.fake.sent.filter((s) => s.raw.toString('latin1').includes('lenient'));
    await waitUntil(() => mine().length > 0);
    await sleep(300); // room for a second message, were there one
    expect(mine()).toHaveLength(1);
    expect(mine()[0]!.raw.toString('latin1')).toMatch(/outer lenient[\s\S]*smuggled lenient/);
  });

  it('with allowBareLineEndings every bare LF and CR becomes CRLF before the policy reads the headers: it checks what Gmail gets', async () => {
    const send = async (message: string) => {
      const { client } = await EdgeClient.open(lenient);
      const r = await client.send('alice@clinic.example', ['bob@clinic.example'], message);
      await client.quit();
      return r;
    };
    // "\r\n\n" ends the header section for everyone once it is "\r\n\r\n": the Bcc is body text
    const split = await send('From: alice@clinic.example\r\nTo: bob@clinic.example\r\nMessage-ID: <bare-1@test>\r\n\nBcc: x@evil.example\r\n\r\nline\nline\rend\n');
    expect(split.code).toBe(250);
    await waitUntil(() => env.google.fake.sentWithMessageId('bare-1@test') !== undefined);
    const raw = env.google.fake.sentWithMessageId('bare-1@test')!.raw;
    const text = raw.toString('latin1');
    expect(text).not.toMatch(/[^\r]\n|\r[^\n]/); // no bare line ending left in what Gmail gets
    expect(text.slice(0, text.indexOf('\r\n\r\n'))).not.toContain('evil');
    expect(text).toContain('\r\n\r\nBcc: x@evil.example\r\n\r\nline\r\nline\r\nend\r\n');
    expect(headerAddresses(raw)).not.toContain('x@evil.example');
    expect(env.logs.events('message.accepted').at(-1)).toMatchObject({ lineEndingsNormalized: 4 });
    // a header hidden behind bare LFs or a bare CR is read as a header, as Gmail will read it: refused
    for (const hidden of ['From: alice@clinic.example\nTo: bob@clinic.example\nBcc: x@evil.example\n\nbody\n', 'From: alice@clinic.example\r\nTo: bob@clinic.example\rBcc: x@evil.example\r\n\r\nbody\r\n']) {
      const r = await send(hidden);
      expect(r.code).toBe(554);
      expect(r.text).toMatch(/^5\.7\.1 header recipient <x@evil\.example> in Bcc refused/);
    }
  });

  it('refuses SMTPUTF8 at MAIL FROM with 555 5.6.7 and does not advertise it', async () => {
    const { client, ehlo } = await EdgeClient.open(strict);
    expect(ehlo.lines).not.toContain('SMTPUTF8');
    const r = await client.cmd('MAIL FROM:<alice@clinic.example> SMTPUTF8');
    expect(r.code).toBe(555);
    expect(r.text).toMatch(/^5\.6\.7 SMTPUTF8 is not supported/);
    expect((await client.cmd('MAIL FROM:<alice@clinic.example> BODY=8BITMIME')).code).toBe(250);
    await client.quit();
  });

  it('8-bit header and body bytes reach Gmail exactly as received', async () => {
    const subject = Buffer.from('Subject: Befund für Müller – 診断\r\n', 'utf8');
    const latin1 = Buffer.from([...Buffer.from('X-Note: caf', 'latin1'), 0xe9, 0x0d, 0x0a]);
    const head = Buffer.from('From: alice@clinic.example\r\nTo: bob@clinic.example\r\nMessage-ID: <eight-bit@test>\r\n', 'latin1');
    const body = Buffer.from('Grüße\r\n', 'utf8');
    const msg = Buffer.concat([head, subject, latin1, Buffer.from('\r\n'), body]);
    const { client } = await EdgeClient.open(strict);
    expect((await client.cmd('MAIL FROM:<alice@clinic.example> BODY=8BITMIME')).code).toBe(250);
    expect((await client.cmd('RCPT TO:<bob@clinic.example>')).code).toBe(250);
    expect((await client.data(msg)).code).toBe(250);
    await client.quit();
    // wait for this message itself: an earlier test's delivery may land in between
    await waitUntil(() => env.google.fake.sentWithMessageId('eight-bit@test') !== undefined);
    const raw = env.google.fake.sentWithMessageId('eight-bit@test')!.raw;
    expect(raw.includes(subject)).toBe(true);
    expect(raw.includes(latin1)).toBe(true);
    expect(raw.includes(body)).toBe(true);
  });

  it('accepts header lines longer than 998 octets (folding them is the way out’s job)', async () => {
    const { client } = await EdgeClient.open(strict);
    const r = await client.send(
      'alice@clinic.example',
      ['bob@clinic.example'],
      mail({ From: 'alice@clinic.example', To: 'bob@clinic.example', Subject: `Scan ${'0123456789'.repeat(300)}`, 'X-Long': 'y'.repeat(5000) }),
    );
    expect(r.code).toBe(250);
    await client.quit();
  });
});
