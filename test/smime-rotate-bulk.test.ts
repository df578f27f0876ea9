/**
 * The bulk `smime rotate` over a workspace's users from the Directory API and over a users file:
 * the Directory's pages followed, lines and audit lines in the users' order however Gmail's
 * answers come back, a "slow down" waited out, and a run stopped by Ctrl-C finished by running
 * it again without any default set twice.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestServiceAccount, rateLimitError } from './support/fake-google.js';
import { DIRECTORY_USER_READONLY, FakeDirectory } from './support/fake-directory.js';
import { readAudit, runSmimeCli, startSmimeEnv, type SmimeTestEnv } from './support/fake-smime.js';

const ADMIN = 'admin@clinic.example';

describe('smime rotate over many users', () => {
  let env: SmimeTestEnv;
  let directory: FakeDirectory;
  let dirKey: string;

  beforeEach(async () => {
    env = await startSmimeEnv();
    env.smime.latencyMs = () => Math.floor(Math.random() * 40);
    directory = new FakeDirectory(env.google);
    env.google.addUser(ADMIN);
    directory.addAdmin(ADMIN);
    const dirSa = createTestServiceAccount('directory');
    env.google.addServiceAccount(dirSa);
    env.google.authorize(dirSa.clientId, [DIRECTORY_USER_READONLY]);
    dirKey = dirSa.writeKeyFile(env.dir, 'directory-sa.json');
  });
  afterEach(() => env.close());

  const doc = () => ({
    smime: {
      ...env.doc.smime,
      directoryRootUrl: env.google.url,
      workspaces: [{ name: 'clinic', domains: ['clinic.example'], directory: { serviceAccountKeyFile: dirKey, adminUser: ADMIN, scopes: [DIRECTORY_USER_READONLY] } }],
    },
  });

  /** A user whose default expired two days ago and who has a later certificate: rotating makes the later one the default. */
  function due(user: string, ou = '/'): { expired: string; later: string } {
    directory.addUser(user, { orgUnitPath: ou });
    env.smime.addMailbox(env.google, user);
    const expired = env.smime.seed(user, user, { expiresInDays: -2, isDefault: true });
    const later = env.smime.seed(user, user, { expiresInDays: 365 });
    return { expired, later };
  }
  const names = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}${String(i).padStart(2, '0')}@clinic.example`);
  const lines = (text: string) => text.trimEnd().split('\n');
  const setDefaults = (list: readonly string[]) =>
    readAudit(env.auditLog).filter((e) => e.action === 'smime.rotate' && e.step === 'set-default' && list.includes(String(e.user)));
  const setDefaultCalls = () => env.smime.calls.filter((c) => c.method === 'POST' && c.path.endsWith('/setDefault')).length;

  it("--workspace: every active user the Directory lists, page by page; lines and audit lines in the Directory's order", async () => {
    directory.pageSize = 3;
    const list = names('dr', 10);
    const ids = new Map(list.map((u) => [u, due(u, '/Clinicians')]));
    directory.addUser('gone@clinic.example', { suspended: true, orgUnitPath: '/Clinicians' });
    directory.addUser('eve@other.example', { orgUnitPath: '/Clinicians' }); // another workspace's domain
    const desk = 'desk@clinic.example';
    const deskIds = due(desk, '/Front desk');

    const r = await runSmimeCli(doc(), ['rotate', '--workspace', 'clinic', '--org-unit', '/Clinicians', '--concurrency', '4']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(env.smime.maxInFlight).toBeGreaterThan(1);
    expect(lines(r.stdout)).toEqual([
      ...list.map((u) => `${u}: certificate ${ids.get(u)!.later} is now the default (was ${ids.get(u)!.expired})`),
      '10 changed, 0 unchanged, 0 without certificates, 0 failed',
    ]);
    // 12 users in the unit at 3 a page: 4 pages, each asked with the token the page before gave
    const pages = directory.calls.filter((c) => c.method === 'users.list');
    expect(pages.map((c) => c.query)).toEqual(Array(4).fill("orgUnitPath='/Clinicians'"));
    expect(new Set(pages.map((c) => c.pageToken ?? null)).size).toBe(4);
    // one audit line per change, in the same order, naming the certificate made the default
    expect(setDefaults([...list, desk]).map((e) => [e.user, e.certificateId, e.outcome])).toEqual(list.map((u) => [u, ids.get(u)!.later, 'ok']));
    for (const u of list) expect(env.smime.certs(u).find((c) => c.isDefault)?.id).toBe(ids.get(u)!.later);
    expect(env.smime.certs(desk).find((c) => c.isDefault)?.id).toBe(deskIds.expired); // outside the unit: untouched
  });

  it('interrupted: what it reports is done and audited, nothing after it was touched; the rerun finishes without setting a default twice', async () => {
    const list = names('int', 24);
    const ids = new Map(list.map((u) => [u, due(u)]));
    const stop = new AbortController();
    let seen = 0;
    const first = await runSmimeCli(doc(), ['rotate', '--workspace', 'clinic', '--concurrency', '4'], {
      interrupt: stop.signal,
      onStdout: () => {
        if (++seen === 5) stop.abort();
      },
    });
    expect(first.code).toBe(130);
    expect(first.stderr).toMatch(/^interrupted: \d+ of 24 users done; run the same command again to finish\n$/);
    const done = lines(first.stdout)
      .slice(0, -1)
      .map((l) => /^(\S+): certificate \S+ is now the default/.exec(l)![1]!);
    expect(done.length).toBeGreaterThanOrEqual(5);
    expect(done.length).toBeLessThan(24);
    expect(done).toEqual(list.slice(0, done.length));
    // every default Gmail changed was reported and audited: no change went unrecorded
    const rotated = list.filter((u) => env.smime.certs(u).find((c) => c.isDefault)?.id === ids.get(u)!.later);
    expect(rotated).toEqual(done);
    expect(setDefaults(list).map((e) => e.user)).toEqual(done);

    const again = await runSmimeCli(doc(), ['rotate', '--workspace', 'clinic', '--concurrency', '4']);
    expect(again.code).toBe(0);
    expect(lines(again.stdout)).toEqual([
      ...done.map((u) => `${u}: certificate ${ids.get(u)!.later} stays the default`),
      ...list.slice(done.length).map((u) => `${u}: certificate ${ids.get(u)!.later} is now the default (was ${ids.get(u)!.expired})`),
      `${24 - done.length} changed, ${done.length} unchanged, 0 without certificates, 0 failed`,
    ]);
    // one default set per user over both runs, each audited once, in the users' order
    expect(setDefaultCalls()).toBe(24);
    expect(setDefaults(list).map((e) => e.user)).toEqual(list);
    for (const u of list) expect(env.smime.certs(u).find((c) => c.isDefault)?.id).toBe(ids.get(u)!.later);
  });

  it("a 429 to a setDefault: no call starts before Google's stated time, then the default is set once and audited once", async () => {
    const list = names('slow', 6);
    const ids = new Map(list.map((u) => [u, due(u)]));
    const file = env.file('users.txt', list.join('\n'));
    env.smime.latencyMs = 200;
    const retryAt = new Date(Date.now() + 1_500);
    env.google.failNext(rateLimitError(retryAt), /\/setDefault$/);
    const firstCall = env.smime.calls.length;

    const r = await runSmimeCli(env.doc, ['rotate', '--users-file', file, '--concurrency', '3']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(lines(r.stdout).at(-1)).toBe('6 changed, 0 unchanged, 0 without certificates, 0 failed');
    // 3 users at once: their sendAs.list and smimeInfo.list calls (6), and the setDefaults already
    // on their way when the 429 came back (at most 2); every later call waited
    const calls = env.smime.calls.slice(firstCall);
    expect(calls.slice(8).every((c) => c.at >= retryAt.getTime())).toBe(true);
    // the refused call never reached the route: 6 setDefaults did, so it was made again, once
    expect(setDefaultCalls()).toBe(6);
    expect(setDefaults(list).map((e) => [e.user, e.certificateId])).toEqual(list.map((u) => [u, ids.get(u)!.later]));
  });

  it('usage: --org-unit needs --workspace, and does not go with --user', async () => {
    const withUser = await runSmimeCli(doc(), ['rotate', '--user', 'a@clinic.example', '--workspace', 'clinic', '--org-unit', '/Clinicians']);
    expect(withUser.code).toBe(64);
    expect(withUser.stderr).toMatch(/give --user or --workspace with --org-unit, not both/);
    const file = env.file('one.txt', 'a@clinic.example\n');
    const noWorkspace = await runSmimeCli(doc(), ['rotate', '--users-file', file, '--org-unit', '/Clinicians']);
    expect(noWorkspace.code).toBe(64);
    expect(noWorkspace.stderr).toMatch(/--org-unit goes with --workspace NAME/);
    expect(env.smime.calls).toHaveLength(0);
  });
});
