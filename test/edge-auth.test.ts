/**
 * Device accounts over SMTP AUTH (PLAIN and LOGIN, every prompt style), what each account may
 * do, and hosted isolation: a client of one practice can never send as or to another's users.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EdgeClient, b64, mail } from './support/edge-client.js';
import { deviceHash, startEdge, type EdgeEnv } from './support/edge.js';
import { waitUntil } from './support/harness.js';

const plain = (authzid: string, user: string, pass: string) => b64(`${authzid}\0${user}\0${pass}`);

describe('AUTH for device accounts', () => {
  let env: EdgeEnv;
  let open: number; // plaintext AUTH allowed, any workspace
  let required: number; // auth.required
  let northOnly: number; // bound to workspace north
  let aliceOnly: number; // listen[].senders: alice only

  beforeAll(async () => {
    const [scanner, north, open2, limited] = await Promise.all(['scan-pw', 'north-pw', 'open-pw', 'limit-pw'].map(deviceHash));
    env = await startEdge({
      twoPractices: true,
      listen: () => [
        { port: 0, auth: { allowPlaintext: true }, greetingDelay: 0 },
        { port: 0, auth: { allowPlaintext: true, required: true }, greetingDelay: 0 },
        { port: 0, auth: { allowPlaintext: true }, workspace: 'north', greetingDelay: 0 },
        { port: 0, senders: ['alice@clinic.example'], greetingDelay: 0 },
      ],
      devices: [
        { username: 'scanner', passwordHash: scanner!, workspace: 'clinic', senders: ['scans@clinic.example'], allowedRecipients: ['alice@clinic.example', 'bob@clinic.example'] },
        { username: 'north-scanner', passwordHash: north!, workspace: 'north' },
        { username: 'ehr', passwordHash: open2!, workspace: 'clinic' },
        { username: 'limited', passwordHash: limited!, workspace: 'clinic', maxMessagesPerHour: 2 },
      ],
    });
    [open, required, northOnly, aliceOnly] = env.ports as [number, number, number, number];
  });
  afterAll(async () => {
    await env.stop();
  });

  async function login(port: number, user: string, pass: string): Promise<EdgeClient> {
    const { client } = await EdgeClient.open(port);
    const r = await client.cmd(`AUTH PLAIN ${plain('', user, pass)}`);
    expect(r.code, r.text).toBe(235);
    return client;
  }

  it('offers AUTH PLAIN LOGIN; PLAIN inline and after an empty 334 prompt', async () => {
    const { client, ehlo } = await EdgeClient.open(open);
    expect(ehlo.lines).toContain('AUTH PLAIN LOGIN');
    const r = await client.cmd(`AUTH PLAIN ${plain('', 'ehr', 'open-pw')}`);
    expect(r.code).toBe(235);
    expect(r.text).toMatch(/^2\.7\.0 /);
    await client.quit();

    const second = (await EdgeClient.open(open)).client;
    const prompt = await second.cmd('AUTH PLAIN');
    expect(prompt.code).toBe(334);
    expect((await second.cmd(plain('ehr', 'ehr', 'open-pw'))).code).toBe(235);
    await second.quit();
    const ok = env.logs.events('auth.ok');
    expect(ok.at(-1)).toMatchObject({ username: 'ehr', client: '127.0.0.1', method: 'PLAIN', workspace: 'clinic' });
  });

  it('LOGIN with the Username:/Password: prompts, and with the user name as initial response', async () => {
    const { client } = await EdgeClient.open(open);
    const u = await client.cmd('AUTH LOGIN');
    expect(u).toMatchObject({ code: 334, text: 'VXNlcm5hbWU6' }); // "Username:"
    const p = await client.cmd(b64('ehr'));
    expect(p).toMatchObject({ code: 334, text: 'UGFzc3dvcmQ6' }); // "Password:"
    expect((await client.cmd(b64('open-pw'))).code).toBe(235);
    await client.quit();

    const second = (await EdgeClient.open(open)).client;
    expect(await second.cmd(`AUTH LOGIN ${b64('ehr')}`)).toMatchObject({ code: 334, text: 'UGFzc3dvcmQ6' });
    expect((await second.cmd(b64('open-pw'))).code).toBe(235);
    expect((await second.send('alice@clinic.example', ['bob@clinic.example'], mail({ From: 'alice@clinic.example', To: 'bob@clinic.example' }))).code).toBe(250);
    await second.quit();
  });

  it('wrong password or an authorisation identity other than the login: 535 5.7.8, logged without the password', async () => {
    const { client } = await EdgeClient.open(open);
    const wrong = await client.cmd(`AUTH PLAIN ${plain('', 'ehr', 'Guess-Secret-1')}`);
    expect(wrong.code).toBe(535);
    expect(wrong.text).toMatch(/^5\.7\.8 /);
    const other = await client.cmd(`AUTH PLAIN ${plain('scanner', 'ehr', 'open-pw')}`);
    expect(other.code).toBe(535);
    expect(other.text).toMatch(/^5\.7\.8 .*authorization identity/);
    expect((await client.cmd('MAIL FROM:<alice@clinic.example>')).code).toBe(250); // not required here
    await client.quit();
    const failed = env.logs.events('auth.failed');
    expect(failed.map((f) => f.reason)).toEqual(expect.arrayContaining(['bad_password', 'authzid']));
    expect(failed[0]).toMatchObject({ username: 'ehr', client: '127.0.0.1', method: 'PLAIN' });
    expect(env.logs.raw.join('\n')).not.toContain('Guess-Secret-1');
    expect(env.logs.raw.join('\n')).not.toContain('open-pw');
  });

  it('auth.required: MAIL before AUTH gets 530 5.7.0, after AUTH it goes on', async () => {
    const { client } = await EdgeClient.open(required);
    const r = await client.cmd('MAIL FROM:<alice@clinic.example>');
    expect(r.code).toBe(530);
    expect(r.text).toMatch(/^5\.7\.0 authentication required/);
    expect((await client.cmd(`AUTH PLAIN ${plain('', 'ehr', 'open-pw')}`)).code).toBe(235);
    expect((await client.cmd('MAIL FROM:<alice@clinic.example>')).code).toBe(250);
    await client.quit();
  });

  it('a device sends only as its senders (after senders.map), only to its allowed recipients', async () => {
    const c = await login(open, 'scanner', 'scan-pw');
    const asAlice = await c.cmd('MAIL FROM:<alice@clinic.example>');
    expect(asAlice.code).toBe(550);
    expect(asAlice.text).toBe('5.7.1 device scanner may not send as <alice@clinic.example>');
    expect((await c.cmd('MAIL FROM:<scanner@printer.local>')).code).toBe(250); // mapped to scans@
    const carol = await c.cmd('RCPT TO:<carol@clinic.example>');
    expect(carol.code).toBe(550);
    expect(carol.text).toBe('5.7.1 device scanner may not send to <carol@clinic.example>');
    expect((await c.cmd('RCPT TO:<Bob@Clinic.Example>')).code).toBe(250);
    // the header decides where Gmail delivers, so it is held to the same list
    const sneaky = await c.data(mail({ From: 'scans@clinic.example', To: 'bob@clinic.example', Cc: 'carol@clinic.example' }));
    expect(sneaky.code).toBe(554);
    expect(sneaky.text).toMatch(/^5\.7\.1 device scanner may not send to <carol@clinic\.example>/);
    const ok = await c.send('scanner@printer.local', ['bob@clinic.example'], mail({ From: 'scans@clinic.example', To: 'bob@clinic.example', 'Message-ID': '<scan-1@test>' }));
    expect(ok.code).toBe(250);
    await c.quit();
    await waitUntil(() => env.google.fake.sentWithMessageId('scan-1@test') !== undefined);
    expect(env.google.fake.sentWithMessageId('scan-1@test')?.user).toBe('scans@clinic.example');
    expect(env.logs.events('message.accepted').at(-1)).toMatchObject({ device: 'scanner', sender: 'scans@clinic.example' });
  });

  it('maxMessagesPerHour: the next MAIL gets 450 4.7.1', async () => {
    const c = await login(open, 'limited', 'limit-pw');
    for (let i = 0; i < 2; i++) {
      expect((await c.send('alice@clinic.example', ['bob@clinic.example'], mail({ From: 'alice@clinic.example', To: 'bob@clinic.example' }))).code).toBe(250);
    }
    const r = await c.cmd('MAIL FROM:<alice@clinic.example>');
    expect(r.code).toBe(450);
    expect(r.text).toBe('4.7.1 device limited has sent its 2 messages this hour, try again later');
    await c.quit();
    // another account is not affected
    const other = await login(open, 'ehr', 'open-pw');
    expect((await other.cmd('MAIL FROM:<alice@clinic.example>')).code).toBe(250);
    await other.quit();
  });

  it('listen[].senders limits the senders on that listener', async () => {
    const { client } = await EdgeClient.open(aliceOnly);
    const bob = await client.cmd('MAIL FROM:<bob@clinic.example>');
    expect(bob.code).toBe(550);
    expect(bob.text).toBe('5.7.1 sender <bob@clinic.example> may not use this listener');
    expect((await client.cmd('MAIL FROM:<alice@clinic.example>')).code).toBe(250);
    await client.quit();
  });

  describe('hosted isolation', () => {
    it('a device of practice north cannot send as, or to, a user of practice clinic, whatever the envelope says', async () => {
      const c = await login(open, 'north-scanner', 'north-pw');
      const asAlice = await c.cmd('MAIL FROM:<alice@clinic.example>');
      expect(asAlice.code).toBe(550);
      expect(asAlice.text).toMatch(/^5\.7\.1 sender <alice@clinic\.example> belongs to workspace clinic, but this listener serves workspace north/);
      // the same device sender maps inside its own practice, not clinic's
      expect((await c.cmd('MAIL FROM:<scanner@printer.local>')).code).toBe(250);
      const toClinic = await c.cmd('RCPT TO:<alice@clinic.example>');
      expect(toClinic.code).toBe(550);
      expect(toClinic.text).toMatch(/^5\.7\.1 recipient <alice@clinic\.example> outside north/);
      expect((await c.cmd('RCPT TO:<nina@north.example>')).code).toBe(250);
      const hdr = await c.data(mail({ From: 'ned@north.example', To: 'nina@north.example', Bcc: 'alice@clinic.example' }));
      expect(hdr.code).toBe(554);
      expect(hdr.text).toMatch(/^5\.7\.1 /);
      const ok = await c.send('scanner@printer.local', ['nina@north.example'], mail({ From: 'ned@north.example', To: 'nina@north.example', 'Message-ID': '<north-1@test>' }));
      expect(ok.code).toBe(250);
      await c.quit();
      // wait for this message itself: an earlier test's delivery may land in between
      await waitUntil(() => env.google.fake.sentWithMessageId('north-1@test') !== undefined);
      expect(env.google.fake.sentWithMessageId('north-1@test')?.user).toBe('ned@north.example');
    });

    it('on a listener bound to north: clinic devices cannot log in, clinic senders are refused, device senders map in north', async () => {
      const { client } = await EdgeClient.open(northOnly);
      const r = await client.cmd(`AUTH PLAIN ${plain('', 'ehr', 'open-pw')}`);
      expect(r.code).toBe(535);
      expect(env.logs.events('auth.failed').at(-1)).toMatchObject({ username: 'ehr', reason: 'other_workspace' });
      const asAlice = await client.cmd('MAIL FROM:<alice@clinic.example>');
      expect(asAlice.code).toBe(550);
      expect(asAlice.text).toMatch(/^5\.7\.1 /);
      expect((await client.cmd('MAIL FROM:<scanner@printer.local>')).code).toBe(250);
      expect((await client.cmd('RCPT TO:<bob@clinic.example>')).code).toBe(550);
      await client.quit();
    });
  });
});
