/**
 * The envelope as the client wrote it, over a real socket: an unqualified sender
 * (`MAIL FROM:<scanner2>`) is mapped where senders.map maps it and refused with a clear 550
 * elsewhere; a source route is ignored (RFC 5321) and the address after it is the one checked and
 * delivered to; a full-width dot is refused as README says; client-written text (quoted local
 * parts, odd Message-IDs) reaches neither replies nor logs; message.accepted names everyone
 * Gmail delivers to and the Message-ID the message leaves with.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EdgeClient, mail } from './support/edge-client.js';
import { headerAddresses, startEdge, type EdgeEnv } from './support/edge.js';
import { waitUntil } from './support/harness.js';

describe('the envelope as written, and what the logs say about it', () => {
  let env: EdgeEnv;
  let clinic: number;
  let north: number;

  beforeAll(async () => {
    env = await startEdge({
      twoPractices: true,
      clinicSenders: { scanner2: 'scans@clinic.example' },
      listen: () => [
        { port: 0, workspace: 'clinic' },
        { port: 0, workspace: 'north' },
      ],
    });
    [clinic, north] = env.ports as [number, number];
  });
  afterAll(async () => {
    await env.stop();
  });

  const logText = () => env.logs.raw.join('\n');

  it('MAIL FROM:<scanner2>: mapped by senders.map where it is, a clear 550 where it is not', async () => {
    const { client } = await EdgeClient.open(clinic);
    expect((await client.cmd('MAIL FROM:<scanner2> SIZE=100')).code).toBe(250);
    expect((await client.cmd('RCPT TO:<bob@clinic.example>')).code).toBe(250);
    expect((await client.data(mail({ To: 'bob@clinic.example', 'Message-ID': '<unq-1@test>' }))).code).toBe(250);
    await client.quit();
    await waitUntil(() => env.google.fake.sentWithMessageId('unq-1@test') !== undefined);
    expect(env.google.fake.sentWithMessageId('unq-1@test')!.user).toBe('scans@clinic.example');
    expect(env.logs.events('message.accepted').at(-1)).toMatchObject({ mailFrom: 'scanner2', sender: 'scans@clinic.example' });

    const other = (await EdgeClient.open(north)).client;
    const r = await other.cmd('MAIL FROM:<scanner2>');
    expect(r.code).toBe(550);
    expect(r.text).toBe(
      "5.7.1 sender <scanner2> has no domain and is not mapped here: map it in senders.map of this listener's workspace, or set a full address on the device",
    );
    expect((await other.cmd('MAIL FROM:<scanner 2>')).code).toBe(501); // not an address at all: smtp-server's syntax error
    await other.quit();
  });

  it('a source route is ignored: the address after it is checked, stored and delivered to', async () => {
    const { client } = await EdgeClient.open(clinic);
    expect((await client.cmd('MAIL FROM:<@relay.example:alice@clinic.example>')).code).toBe(250);
    expect((await client.cmd('RCPT TO:<@evil.example,@relay.example:bob@clinic.example>')).code).toBe(250);
    const hidden = await client.cmd('RCPT TO:<@clinic.example:x@evil.example>');
    expect(hidden.code).toBe(550);
    expect(hidden.text).toMatch(/^5\.7\.1 recipient <x@evil\.example> outside clinic/);
    expect((await client.data(mail({ From: 'alice@clinic.example', 'Message-ID': '<route-1@test>' }))).code).toBe(250);
    await client.quit();
    await waitUntil(() => env.google.fake.sentWithMessageId('route-1@test') !== undefined);
    const sent = env.google.fake.sentWithMessageId('route-1@test')!;
    expect(headerAddresses(sent.raw)).toEqual(['bob@clinic.example']);
    expect(sent.raw.toString('latin1')).not.toContain('evil');
    expect(env.logs.events('envelope.source_route_ignored').map((l) => [l.stage, l.address])).toEqual(
      expect.arrayContaining([
        ['mail', 'alice@clinic.example'],
        ['rcpt', 'bob@clinic.example'],
      ]),
    );
  });

  it('a full-width dot in a domain is refused (553 5.1.3), not normalised into a workspace domain', async () => {
    const { client } = await EdgeClient.open(clinic);
    const utf8 = (line: string) => {
      client.write(Buffer.from(`${line}\r\n`, 'utf8'));
      return client.read();
    };
    const from = await utf8('MAIL FROM:<alice@clinic\uff0eexample>');
    expect(from.code).toBe(553);
    expect((await client.cmd('MAIL FROM:<alice@clinic.example>')).code).toBe(250);
    const rcpt = await utf8('RCPT TO:<bob@clinic\uff0eexample>');
    expect(rcpt.code).toBe(553);
    expect(rcpt.text).toMatch(/^5\.1\.3 recipient <bob@clinic\?example> is not a valid address: the domain is not written in its canonical form/);
    await client.quit();
  });

  it('a quoted local part is never echoed, in the reply or the log', async () => {
    const { client } = await EdgeClient.open(clinic);
    expect((await client.cmd('MAIL FROM:<alice@clinic.example>')).code).toBe(250);
    const r = await client.cmd('RCPT TO:<"John.Smith.DOB.1970"@clinic.example>');
    expect(r.code).toBe(553);
    expect(r.text).toBe('5.1.3 recipient <"..."@clinic.example> is not a valid address: quoted local parts are not accepted');
    expect((await client.cmd('RCPT TO:<bob@clinic.example>')).code).toBe(250);
    const h = await client.data(mail({ From: 'alice@clinic.example', To: '"Jane.Roe.MRN.4711"@clinic.example' }));
    expect(h.code).toBe(554);
    expect(h.text).toContain('"..."@clinic.example');
    await client.quit();
    expect(logText()).not.toMatch(/John\.Smith|Jane\.Roe|DOB\.1970|MRN\.4711/);
    expect(`${r.text}\n${h.text}`).not.toMatch(/John|Jane/);
  });

  it('message.accepted names everyone Gmail delivers to and the Message-ID the message leaves with, in a safe form', async () => {
    const { client } = await EdgeClient.open(clinic);
    const longId = `JohnDoe.1970-01-01.${'0123456789'.repeat(12)}@ehr.example`;
    const cases: [Record<string, string>, (v: unknown) => void][] = [
      [{ 'Message-ID': '<plain-7@ehr.example>' }, (v) => expect(v).toBe('plain-7@ehr.example')],
      [{ 'Message-ID': `<${longId}>` }, (v) => expect(v).toMatch(/^sha256:[0-9a-f]{16}$/)],
      [{ 'Message-ID': '<"Roe.Jane"@ehr.example>' }, (v) => expect(v).toMatch(/^sha256:[0-9a-f]{16}$/)],
      [{ 'Message-ID': '<Roe, Jane@ehr.example>' }, (v) => expect(v).toBeNull()], // unreadable: not kept, not logged
      [{}, (v) => expect(v).toMatch(/^[0-9a-f]{32}@clinic\.example$/)], // none: the relay's own
    ];
    for (const [headers, check] of cases) {
      const r = await client.send('alice@clinic.example', ['bob@clinic.example'], mail({ From: 'alice@clinic.example', To: 'alice@clinic.example', Cc: 'fax@clinic.example', ...headers }));
      expect(r.code).toBe(250);
      const line = env.logs.events('message.accepted').at(-1)!;
      check(line.messageId);
      expect(line.recipients).toEqual(['bob@clinic.example']);
      expect(line.deliverTo).toEqual(['alice@clinic.example', 'fax@clinic.example', 'bob@clinic.example']);
      if (!headers['Message-ID']) expect(line.messageIdAdded).toBe(true);
    }
    await client.quit();
    expect(logText()).not.toContain('JohnDoe');
    expect(logText()).not.toMatch(/Roe/);
  });
});
