/**
 * recipientCheck: directory. RCPT TO is answered from the Admin SDK Directory API (the fake):
 * users, their aliases and groups (and groups' aliases) pass, a typo gets 550 5.1.1 at RCPT, an
 * address outside the workspace is refused before any lookup, and when Google cannot be asked
 * (down, slow, the directory key refused) the recipient is accepted, logged and counted.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Relay } from '../src/app.js';
import { check } from '../src/cli/check.js';
import { CliExit } from '../src/cli/exit-codes.js';
import { GoogleCredentials, createDirectoryClient, createRecipientDirectory } from '../src/google/index.js';
import { writeConfigFile } from './support/daemon.js';
import { createTestServiceAccount, gmailError, type TestServiceAccount } from './support/fake-google.js';
import { DIRECTORY_GROUP_READONLY, DIRECTORY_USER_READONLY, FakeDirectory } from './support/fake-directory.js';
import { type GoogleEnv, LogCapture, gmailConfig, removeDir, startGoogle, startTestRelay, tempDir, waitUntil } from './support/harness.js';
import { SmtpClient, message } from './support/smtp-client.js';

const ADMIN = 'admin@clinic.example';

describe('recipientCheck: directory', () => {
  let dir: string;
  let google: GoogleEnv;
  let directory: FakeDirectory;
  let dirSa: TestServiceAccount;
  let dirKey: string;
  let relay: Relay | undefined;
  let logs: LogCapture;

  beforeEach(async () => {
    dir = tempDir();
    google = await startGoogle(dir, ['alice@clinic.example', 'bob@clinic.example', ADMIN]);
    directory = new FakeDirectory(google.fake);
    directory.addUser('alice@clinic.example', { aliases: ['al@clinic.example'] });
    directory.addUser('bob@clinic.example');
    directory.addUser(ADMIN);
    directory.addGroup('staff@clinic.example', ['team@clinic.example']);
    directory.addAdmin(ADMIN);
    // The directory's own service account: not the sending key.
    dirSa = createTestServiceAccount('directory');
    google.fake.addServiceAccount(dirSa);
    google.fake.authorize(dirSa.clientId, [DIRECTORY_USER_READONLY, DIRECTORY_GROUP_READONLY]);
    dirKey = dirSa.writeKeyFile(dir);
  });
  afterEach(async () => {
    await relay?.stop();
    relay = undefined;
    await google.fake.close();
    removeDir(dir);
  });

  async function start(directoryExtra: Record<string, unknown> = {}): Promise<number> {
    const doc = gmailConfig(dir, google);
    const ws = doc.workspaces[0]!;
    doc.workspaces[0] = { ...ws, recipientCheck: 'directory', directory: { serviceAccountKeyFile: dirKey, adminUser: ADMIN, ...directoryExtra } };
    doc.google = { ...doc.google, directoryRootUrl: google.fake.url };
    let port: number;
    ({ relay, logs, port } = await startTestRelay(doc));
    return port;
  }

  const rcpt = async (port: number, addresses: string[]) => {
    const c = await SmtpClient.open(port);
    expect((await c.cmd('MAIL FROM:<alice@clinic.example>')).code).toBe(250);
    const replies = [];
    for (const a of addresses) replies.push(await c.cmd(`RCPT TO:<${a}>`));
    return { c, replies };
  };

  it('passes users, aliases, groups and subaddresses; refuses a typo with 550 5.1.1 at RCPT; delivers to the rest', async () => {
    const port = await start();
    const { c, replies } = await rcpt(port, ['bob@clinic.example', 'al@clinic.example', 'staff@clinic.example', 'team@clinic.example', 'bbo@clinic.example', 'Bob+Scans@clinic.example']);
    expect(replies.map((r) => r.code)).toEqual([250, 250, 250, 250, 550, 250]);
    expect(replies[4]!.text).toBe('5.1.1 recipient <bbo@clinic.example> does not exist in this organisation: check the address');
    const reply = await c.data(message({ From: 'alice@clinic.example', To: 'bob@clinic.example, staff@clinic.example', Subject: 'x' }));
    expect(reply.code).toBe(250);
    await c.quit();
    await waitUntil(() => google.fake.sent.length === 1, 10_000, 'delivery');
    // the subaddress was looked up without its tag; the directory key acted as the admin, with its own scopes
    expect(directory.calls.filter((x) => x.method === 'users.get').map((x) => x.key)).not.toContain('bob+scans@clinic.example');
    const grant = google.fake.grants.find((g) => g.iss === dirSa.clientEmail)!;
    expect(grant).toMatchObject({ sub: ADMIN, scopes: [DIRECTORY_USER_READONLY, DIRECTORY_GROUP_READONLY] });
    expect(logs.events('message.rejected').map((l) => [l.stage, l.code, l.enhanced])).toEqual([['rcpt', 550, '5.1.1']]);
  });

  it('refuses an address outside the workspace before asking the Directory, and caches both answers', async () => {
    const port = await start();
    const first = await rcpt(port, ['bob@elsewhere.example', 'bob@clinic.example', 'bbo@clinic.example']);
    expect(first.replies.map((r) => [r.code, r.text.slice(0, 5)])).toEqual([[550, '5.7.1'], [250, '2.1.5'], [550, '5.1.1']]);
    await first.c.quit();
    const calls = directory.calls.length;
    expect(directory.calls.some((x) => x.key?.endsWith('elsewhere.example'))).toBe(false);
    const again = await rcpt(port, ['bob@clinic.example', 'BBO@clinic.example']);
    expect(again.replies.map((r) => r.code)).toEqual([250, 550]);
    await again.c.quit();
    expect(directory.calls.length).toBe(calls); // both answered from the cache
  });

  it('Google down: accepts the recipient (the domain boundary still applies), logs and counts it', async () => {
    const port = await start();
    directory.outage = gmailError(503, 'The service is currently unavailable.', 'UNAVAILABLE', 'backendError');
    const { c, replies } = await rcpt(port, ['bbo@clinic.example', 'nobody@clinic.example', 'x@elsewhere.example']);
    expect(replies.map((r) => r.code)).toEqual([250, 250, 550]);
    await c.quit();
    const logged = logs.events('recipient_check.unavailable');
    // one lookup failed; the next recipient was accepted without asking (backoff), still counted
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ code: 'directory.unavailable', kind: 'temporary', rcpt: 'bbo@clinic.example', workspace: 'clinic' });
    expect(directory.calls.filter((x) => x.key === 'nobody@clinic.example')).toHaveLength(0);
    expect(relay!.recipientCheckStats().get('clinic')).toMatchObject({ lookups: 1, unavailable: 2, exists: 0, missing: 0 });
  });

  it('Google slow: answers RCPT after the timeout without blocking other sessions, and uses the late answer next time', async () => {
    const port = await start({ timeout: '400ms' });
    directory.latencyMs = 1_500;
    const slow = await SmtpClient.open(port);
    expect((await slow.cmd('MAIL FROM:<alice@clinic.example>')).code).toBe(250);
    const t0 = Date.now();
    const pending = slow.cmd('RCPT TO:<bbo@clinic.example>');
    // another client goes through its whole greeting and MAIL FROM meanwhile
    const other = await SmtpClient.open(port);
    expect((await other.cmd('MAIL FROM:<bob@clinic.example>')).code).toBe(250);
    const otherDone = Date.now() - t0;
    const late = await pending;
    const waited = Date.now() - t0;
    expect(late.code).toBe(250);
    expect(otherDone).toBeLessThan(waited);
    expect(waited).toBeLessThan(1_400);
    expect(logs.events('recipient_check.unavailable')[0]).toMatchObject({ code: 'directory.unavailable' });
    await slow.quit();
    await other.quit();
    // the lookup went on: once Google answered, the typo is known (from the cache: no new call)
    await waitUntil(() => directory.calls.filter((x) => x.method === 'groups.get' && x.key === 'bbo@clinic.example').length === 1, 5_000, 'late answer');
    await new Promise((r) => setTimeout(r, 1_600));
    const calls = directory.calls.length;
    const again = await rcpt(port, ['bbo@clinic.example', 'nobody@clinic.example']);
    // bbo: the late answer; nobody: not asked while the failed lookup's backoff lasts, accepted
    expect(again.replies.map((r) => r.code)).toEqual([550, 250]);
    await again.c.quit();
    expect(directory.calls.length).toBe(calls);
  });

  it('check: reads the admin and a group with the directory key; an admin who may not read fails with the fix', async () => {
    const doc = gmailConfig(dir, google);
    doc.workspaces[0] = { ...doc.workspaces[0]!, recipientCheck: 'directory', directory: { serviceAccountKeyFile: dirKey, adminUser: ADMIN } };
    doc.google = { ...doc.google, directoryRootUrl: google.fake.url };
    const file = writeConfigFile(dir, doc);
    const lines: string[] = [];
    const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) };
    await check({ path: file, source: 'flag', isExample: false }, ['alice@clinic.example'], io);
    expect(lines).toContain(`  ok    ${ADMIN}: recipient check (Directory API, client ID ${dirSa.clientId}): users and groups readable`);
    expect(directory.calls.map((c) => c.method)).toEqual(['users.get', 'users.get', 'groups.get']);
    directory.admins.clear();
    lines.length = 0;
    await expect(check({ path: file, source: 'flag', isExample: false }, ['alice@clinic.example'], io)).rejects.toThrow(CliExit);
    expect(lines).toContain(`  FAIL  ${ADMIN}: recipient check (Directory API, client ID ${dirSa.clientId}): ${ADMIN} may not read the directory (Directory API: 403 forbidden)`);
    expect(lines.find((l) => l.startsWith('        fix:'))).toMatch(/give admin@clinic\.example an admin role/);
  });

  it("a directory key that is not authorised, or an admin who may not read: accepted, with the fix in an alert", async () => {
    google.fake.revoke(dirSa.clientId);
    const port = await start();
    const first = await rcpt(port, ['bbo@clinic.example']);
    expect(first.replies[0]!.code).toBe(250);
    await first.c.quit();
    const [line] = logs.events('recipient_check.unavailable');
    expect(line).toMatchObject({ code: 'directory.delegation', kind: 'held', alert: true });
    expect(String(line!.fix)).toContain(`authorise client ID ${dirSa.clientId} for ${DIRECTORY_USER_READONLY},${DIRECTORY_GROUP_READONLY}`);
  });
});

describe('the recipient directory (cache, counters, the admin it acts as)', () => {
  let dir: string;
  let google: GoogleEnv;
  let directory: FakeDirectory;
  let sa: TestServiceAccount;

  beforeEach(async () => {
    dir = tempDir();
    google = await startGoogle(dir, ['alice@clinic.example', ADMIN, 'helpdesk@clinic.example']);
    directory = new FakeDirectory(google.fake);
    directory.addUser('alice@clinic.example');
    directory.addAdmin(ADMIN);
    sa = createTestServiceAccount('directory');
    google.fake.addServiceAccount(sa);
    google.fake.authorize(sa.clientId, [DIRECTORY_USER_READONLY, DIRECTORY_GROUP_READONLY]);
  });
  afterEach(async () => {
    await google.fake.close();
    removeDir(dir);
  });

  const build = (adminUser: string, now: () => number = Date.now) => {
    const credentials = new GoogleCredentials({ key: sa.json as never, scopes: [DIRECTORY_USER_READONLY, DIRECTORY_GROUP_READONLY], tokenUrl: google.fake.tokenUrl });
    const client = createDirectoryClient({ credentials, adminUser, rootUrl: google.fake.url });
    return createRecipientDirectory({ client, foundTtlMs: 60_000, missingTtlMs: 10_000, timeoutMs: 2_000, backoffMs: 1_000, now });
  };

  it('keeps "missing" for its own lifetime, then asks again (a new user is found)', async () => {
    let t = Date.now();
    const d = build(ADMIN, () => t);
    expect(await d.check('carol@clinic.example')).toBe('missing');
    directory.addUser('carol@clinic.example');
    t += 9_000;
    expect(await d.check('carol@clinic.example')).toBe('missing');
    t += 2_000;
    expect(await d.check('carol@clinic.example')).toBe('exists');
    expect(d.stats()).toMatchObject({ lookups: 2, cached: 1, exists: 1, missing: 2, unavailable: 0 });
  });

  it('an admin user who may not read the directory: unknown, counted', async () => {
    const d = build('helpdesk@clinic.example');
    expect(await d.check('alice@clinic.example')).toBe('unknown');
    expect(await d.check('bob@clinic.example')).toBe('unknown'); // within the backoff: not asked
    expect(d.stats()).toMatchObject({ lookups: 1, unavailable: 2 });
    // one lookup (google-auth-library tries a 403 once more with a new token), none for bob
    expect(directory.calls.map((x) => x.key)).toEqual(['alice@clinic.example', 'alice@clinic.example']);
  });
});
