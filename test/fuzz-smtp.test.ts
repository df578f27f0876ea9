/**
 * Hostile input at a live listener (fast-check): random and malformed SMTP command streams,
 * pipelined and cut at random places, with random MIME, bare line endings, smuggling attempts,
 * AUTH guesses and every address trick. Afterwards: the relay still serves, no file descriptor
 * leaked, and nothing reached the fake Gmail that the workspace boundary or a device's limits
 * should have refused.
 */
import { readdirSync } from 'node:fs';
import net from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EdgeClient, b64, mail } from './support/edge-client.js';
import { deviceHash, startEdge, type EdgeEnv } from './support/edge.js';
import { sleep, waitUntil } from './support/harness.js';

const DOMAIN_OF_USER = (user: string) => user.slice(user.lastIndexOf('@') + 1);

/** Every addr-spec-looking token in To/Cc/Bcc (quoted strings removed first), lowercased. */
function deliveryAddresses(raw: Buffer): string[] {
  const end = raw.indexOf('\r\n\r\n');
  const head = raw.subarray(0, end < 0 ? raw.length : end).toString('latin1').replace(/\r?\n[ \t]/g, ' ');
  const out: string[] = [];
  for (const line of head.split(/\r?\n/)) {
    const m = /^(to|cc|bcc)\s*:(.*)$/i.exec(line);
    if (!m) continue;
    const value = m[2]!.replace(/"(?:[^"\\]|\\.)*"/g, 'Q');
    out.push(...(value.match(/[^\s<>,;:()]+@[^\s<>,;:()]+/g) ?? []).map((a) => a.toLowerCase()));
  }
  return out;
}

// Addresses a fuzzed client may use. fax@clinic.example is only usable by the "fax" device (the
// open listener's senders exclude it), so every message Gmail sends as fax@ came from that device.
const INSIDE = ['alice@clinic.example', 'BOB@Clinic.Example', 'scanner@printer.local', 'fax@clinic.example', 'nina@north.example'];
const TRICKS = [
  'x@gmail.com',
  'x@clinic.example.evil.com',
  'x@sub.clinic.example',
  'x@evilclinic.example',
  '"x@gmail.com"@clinic.example',
  'x%gmail.com@clinic.example',
  '@evil.com:x@clinic.example',
  'x@[127.0.0.1]',
  'x@clinic.example.',
  'a@b@clinic.example',
  'x@xn--clnic-6qa.example',
  'alice@clіnic.example', // Cyrillic i
  'ålice@clinic.example',
  '',
  'postmaster',
];

const address = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...INSIDE) }, { weight: 1, arbitrary: fc.constantFrom(...TRICKS) });
const headerValue = fc.oneof(
  address,
  fc.array(address, { minLength: 1, maxLength: 4 }).map((a) => a.join(', ')),
  address.map((a) => `"Dr. Who, x@gmail.com" <${a}>`),
  fc.tuple(address, address).map(([a, b]) => `team: ${a}, ${b};`),
  address.map((a) => `=?utf-8?B?${b64('Müller')}?= <${a}>`),
  fc.string({ maxLength: 40 }),
);
const headerName = fc.constantFrom<string>('From', 'To', 'Cc', 'Bcc', 'Resent-To', 'Subject', 'Message-ID', 'Content-Type', 'Reply-To', 'X-Fuzz', 'To ', 'tO', 'Bcc\t');
const body = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u).toString('latin1')),
  fc.constantFrom(
    'a\r\n..\r\n.x\r\n',
    'line\n.\nMAIL FROM:<alice@clinic.example>\nRCPT TO:<x@gmail.com>\nDATA\nTo: x@gmail.com\n\nsmuggled\n.\n',
    'line\r.\rRCPT TO:<x@gmail.com>\r',
    '--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nTo: x@gmail.com\r\n\r\ninner\r\n--b--\r\n',
  ),
);
const message = fc
  .tuple(
    fc.tuple(address, address),
    fc.array(fc.tuple(headerName, headerValue), { maxLength: 6 }),
    fc.constantFrom('\r\n', '\r\n', '\r\n', '\n', '\r'),
    body,
  )
  .map(([[from, to], headers, nl, text]) => [`From: ${from}`, `To: ${to}`, ...headers.map(([k, v]) => `${k}: ${v}`)].join(nl) + `${nl}${nl}${text}`);
const dataBlock = fc
  .tuple(message, fc.constantFrom('\r\n.\r\n', '\r\n.\r\n', '\r\n.\r\n', '\n.\n', '\r.\r', '\r\n.\n', ''))
  .map(([m, end]) => `DATA\r\n${m}${end}`);
const mailFrom = fc
  .tuple(address, fc.constantFrom('', '', '', ' SIZE=100', ' BODY=8BITMIME', ' SMTPUTF8', ' SIZE=99999999999', ' AUTH=<>', ' BODY=BINARYMIME'))
  .map(([a, p]) => `MAIL FROM:<${a}>${p}`);
const rcptTo = address.map((a) => `RCPT TO:<${a}>`);
const login = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(`AUTH PLAIN ${b64('\0fax\0fax-pw')}`, `AUTH PLAIN ${b64('north-fax\0north-fax\0north-pw')}`) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom('fax', 'north-fax', 'nobody', 'fax '), fc.constantFrom('fax-pw', 'north-pw', 'wrong'), fc.constantFrom('', 'fax', 'north-fax'))
      .map(([u, p, z]) => `AUTH PLAIN ${b64(`${z}\0${u}\0${p}`)}`),
  },
);
const noise = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('RSET', 'NOOP', 'QUIT', 'HELP', 'VRFY alice', 'STARTTLS', 'AUTH LOGIN', 'AUTH PLAIN', 'AUTH CRAM-MD5', 'BDAT 10 LAST', 'XCLIENT ADDR=10.0.0.1', 'DATA', 'EHLO', 'EHLO again') },
  { weight: 2, arbitrary: mailFrom },
  { weight: 2, arbitrary: rcptTo },
  { weight: 1, arbitrary: address.map((a) => `MAIL FROM:${a}`) },
  { weight: 1, arbitrary: login },
  { weight: 1, arbitrary: fc.constantFrom(b64('fax'), b64('fax-pw'), '*', '=') },
  { weight: 2, arbitrary: fc.string({ maxLength: 60 }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 80 }).map((u) => Buffer.from(u).toString('latin1')) },
  { weight: 1, arbitrary: fc.integer({ min: 900, max: 20_000 }).map((n) => `MAIL FROM:<${'a'.repeat(n)}@clinic.example>`) },
  { weight: 1, arbitrary: dataBlock },
);
/** A transaction that policy would accept as such (mutated by its headers, line endings, terminator). */
const coherent = fc
  .record({
    from: fc.constantFrom('alice@clinic.example', 'bob@clinic.example', 'fax@clinic.example'),
    rcpts: fc.subarray(['alice@clinic.example', 'bob@clinic.example'], { minLength: 1 }),
    extra: fc.oneof(fc.constant<[string, string][]>([]), fc.array(fc.tuple(headerName, headerValue), { minLength: 1, maxLength: 2 })),
    nl: fc.constantFrom('\r\n', '\r\n', '\r\n', '\r\n', '\n'),
    text: body,
    end: fc.constantFrom('\r\n.\r\n', '\r\n.\r\n', '\r\n.\r\n', '\n.\n', ''),
  })
  .map((t) => {
    const head = [`From: ${t.from}`, `To: ${t.rcpts.join(', ')}`, ...t.extra.map(([k, v]) => `${k}: ${v}`)].join(t.nl);
    return { from: `MAIL FROM:<${t.from}>`, rcpts: t.rcpts.map((r) => `RCPT TO:<${r}>`), noise: [] as string[], data: `DATA\r\n${head}${t.nl}${t.nl}${t.text}${t.end}` };
  });
/** A plausible session (greeting, maybe AUTH, transactions) with noise anywhere. */
const plausible = fc
  .record({
    before: fc.oneof({ weight: 3, arbitrary: fc.constant([] as string[]) }, { weight: 1, arbitrary: fc.array(noise, { maxLength: 2 }) }),
    helo: fc.constantFrom('EHLO fuzz', 'HELO fuzz', 'EHLO fuzz'),
    auth: fc.option(login, { nil: undefined, freq: 3 }),
    transactions: fc.array(
      fc.oneof(
        { weight: 3, arbitrary: coherent },
        { weight: 1, arbitrary: fc.record({ from: mailFrom, rcpts: fc.array(rcptTo, { minLength: 1, maxLength: 4 }), noise: fc.array(noise, { maxLength: 2 }), data: dataBlock }) },
      ),
      { minLength: 1, maxLength: 3 },
    ),
  })
  .map((p) => [...p.before, p.helo, ...(p.auth ? [p.auth] : []), ...p.transactions.flatMap((t) => [t.from, ...t.rcpts, ...t.noise, t.data])]);
const session = fc.record({
  steps: fc.oneof({ weight: 4, arbitrary: plausible }, { weight: 1, arbitrary: fc.array(noise, { maxLength: 14 }) }),
  eol: fc.constantFrom('\r\n', '\r\n', '\n'),
  cuts: fc.array(fc.nat(), { maxLength: 4 }),
  client: fc.integer({ min: 2, max: 250 }),
  listener: fc.nat(1),
  quit: fc.boolean(),
});

type Session = typeof session extends fc.Arbitrary<infer T> ? T : never;

/** Write a session's bytes in pieces, read whatever comes back, close; never waits for replies. */
async function run(ports: number[], s: Session): Promise<void> {
  const bytes = Buffer.from(s.steps.map((c) => (c.startsWith('DATA\r\n') ? c : `${c}${s.eol}`)).join('') + (s.quit ? 'QUIT\r\n' : ''), 'latin1');
  const cuts = [...new Set(s.cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const socket = net.connect({ port: ports[s.listener]!, host: '127.0.0.1', localAddress: `127.0.0.${s.client}` });
  socket.on('error', () => undefined);
  socket.on('data', () => undefined);
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  await new Promise<void>((resolve) => {
    socket.once('connect', () => resolve());
    socket.once('close', () => resolve());
  });
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    if (socket.destroyed) break;
    socket.write(bytes.subarray(at, cut));
    at = cut;
    await new Promise((r) => setImmediate(r));
  }
  socket.end();
  const timer = setTimeout(() => socket.destroy(), 5000);
  await closed;
  clearTimeout(timer);
}

const openFds = () => readdirSync('/proc/self/fd').length;

describe('fuzzing a live listener', () => {
  let env: EdgeEnv;
  beforeAll(async () => {
    env = await startEdge({
      twoPractices: true,
      listen: () => [
        { port: 0, greetingDelay: 0, maxConnectionsPerClient: 50, senders: ['alice@clinic.example', 'bob@clinic.example', 'scans@clinic.example', 'nina@north.example', 'ned@north.example'] },
        { port: 0, greetingDelay: 0, maxConnectionsPerClient: 50, auth: { required: true, allowPlaintext: true } },
      ],
      devices: [
        { username: 'fax', passwordHash: await deviceHash('fax-pw'), workspace: 'clinic', senders: ['fax@clinic.example'], allowedRecipients: ['alice@clinic.example', 'bob@clinic.example'] },
        { username: 'north-fax', passwordHash: await deviceHash('north-pw'), workspace: 'north' },
      ],
    });
  });
  afterAll(async () => {
    await env.stop();
  });

  it('never crashes, leaks no descriptors, and nothing outside the boundary reaches Gmail', { timeout: 180_000 }, async () => {
    const baseline = openFds();
    await fc.assert(
      fc.asyncProperty(fc.array(session, { minLength: 1, maxLength: 3 }), async (sessions) => {
        await Promise.all(sessions.map((s) => run(env.ports, s)));
      }),
      { numRuns: 150 },
    );

    // The relay still serves, and a device session through the same listener works.
    const { client } = await EdgeClient.open(env.ports[1]!);
    expect((await client.cmd(`AUTH PLAIN ${b64('\0fax\0fax-pw')}`)).code).toBe(235);
    expect((await client.send('fax@clinic.example', ['alice@clinic.example'], mail({ From: 'fax@clinic.example', To: 'alice@clinic.example', 'Message-ID': '<after-fuzz@test>' }))).code).toBe(250);
    await client.quit();
    await waitUntil(() => env.google.fake.sent.some((s) => s.raw.includes('<after-fuzz@test>')), 30_000, 'the message after the fuzz to be delivered');
    await waitUntil(() => env.relay.scheduler.queued === 0, 30_000, 'the queue to drain');

    for (const sent of env.google.fake.sent) {
      const domain = DOMAIN_OF_USER(sent.user);
      expect(['clinic.example', 'north.example']).toContain(domain);
      const recipients = deliveryAddresses(sent.raw);
      expect(recipients.length).toBeGreaterThan(0);
      for (const r of recipients) expect(DOMAIN_OF_USER(r), `${r} in a message sent as ${sent.user}`).toBe(domain);
      if (sent.user === 'fax@clinic.example') {
        for (const r of recipients) expect(['alice@clinic.example', 'bob@clinic.example']).toContain(r);
      }
    }
    expect(env.logs.events('message.accepted').length).toBeGreaterThanOrEqual(env.google.fake.sent.length);

    // Every descriptor the fuzz opened is closed again (sockets, spool files); keep-alive
    // connections to the fake Google time out on their own.
    await waitUntil(() => env.relay.listeners.every((l) => l.sessions === 0), 20_000, 'every session to close');
    await waitUntil(async () => {
      if (openFds() <= baseline) return true;
      await sleep(200);
      return false;
    }, 30_000, `open descriptors back to ${baseline}`).catch((err: Error) => {
      throw new Error(`${err.message}: ${openFds()} open`);
    });
  });
});
