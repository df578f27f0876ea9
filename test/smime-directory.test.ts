/**
 * `smime report --workspace W` lists the workspace's users itself (Directory API users.list,
 * paged, optionally one organisational unit), with its own read-only directory credentials: a
 * monthly cron needs no users file.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GoogleCredentials, createDirectoryClient, listWorkspaceUsers } from '../src/google/index.js';
import { createTestServiceAccount, type TestServiceAccount } from './support/fake-google.js';
import { DIRECTORY_GROUP_READONLY, DIRECTORY_USER_READONLY, FakeDirectory } from './support/fake-directory.js';
import { runSmimeCli, startSmimeEnv, type SmimeTestEnv } from './support/fake-smime.js';

const ADMIN = 'admin@clinic.example';

describe('smime report --workspace from the Directory', () => {
  let env: SmimeTestEnv;
  let directory: FakeDirectory;
  let dirSa: TestServiceAccount;
  let dirKey: string;

  beforeEach(async () => {
    env = await startSmimeEnv();
    directory = new FakeDirectory(env.google);
    directory.pageSize = 2;
    env.google.addUser(ADMIN);
    directory.addAdmin(ADMIN);
    directory.addUser(ADMIN, { orgUnitPath: '/IT' });
    for (const [u, ou] of [['amy', '/Clinicians'], ['bea', '/Clinicians/Night'], ['cal', '/Front desk'], ['dan', '/Clinicians']] as const) {
      const email = `${u}@clinic.example`;
      directory.addUser(email, { orgUnitPath: ou });
      env.smime.addMailbox(env.google, email);
      env.smime.seed(email, email, { expiresInDays: 200, isDefault: true });
    }
    directory.addUser('gone@clinic.example', { suspended: true });
    directory.addUser('eve@other.example'); // the same Google customer, another workspace's domain
    env.smime.addMailbox(env.google, ADMIN);
    env.smime.seed(ADMIN, ADMIN, { expiresInDays: 200, isDefault: true });
    dirSa = createTestServiceAccount('directory');
    env.google.addServiceAccount(dirSa);
    env.google.authorize(dirSa.clientId, [DIRECTORY_USER_READONLY, DIRECTORY_GROUP_READONLY]);
    dirKey = dirSa.writeKeyFile(env.dir, 'directory-sa.json');
  });
  afterEach(() => env.close());

  const docWith = (workspace: Record<string, unknown>) => ({
    smime: { ...env.doc.smime, directoryRootUrl: env.google.url, workspaces: [{ name: 'clinic', domains: ['clinic.example'], ...workspace }] },
  });
  const aliases = (stdout: string) => (JSON.parse(stdout) as { alias: string }[]).map((r) => r.alias);

  it("lists every active user of the workspace's domains, page by page, with the directory key acting as the admin", async () => {
    const r = await runSmimeCli(docWith({ directory: { serviceAccountKeyFile: dirKey, adminUser: ADMIN } }), ['report', '--workspace', 'clinic', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(aliases(r.stdout)).toEqual([ADMIN, 'amy@clinic.example', 'bea@clinic.example', 'cal@clinic.example', 'dan@clinic.example']);
    // 8 users at 2 a page: 4 pages, each asked with the token of the page before
    const lists = directory.calls.filter((c) => c.method === 'users.list');
    expect(lists.map((c) => c.pageToken ?? null)).toEqual([null, expect.any(String), expect.any(String), expect.any(String)]);
    expect(new Set(lists.map((c) => c.pageToken)).size).toBe(4);
    expect(env.google.grants.find((g) => g.iss === dirSa.clientEmail)).toMatchObject({ sub: ADMIN, scopes: [DIRECTORY_USER_READONLY, DIRECTORY_GROUP_READONLY] });
  });

  it('--org-unit: only that unit and those below it', async () => {
    const r = await runSmimeCli(docWith({ directory: { serviceAccountKeyFile: dirKey, adminUser: ADMIN } }), ['report', '--workspace', 'clinic', '--org-unit', '/Clinicians', '--json']);
    expect(r.code).toBe(0);
    expect(aliases(r.stdout)).toEqual(['amy@clinic.example', 'bea@clinic.example', 'dan@clinic.example']);
    expect(directory.calls.find((c) => c.method === 'users.list')!.query).toBe("orgUnitPath='/Clinicians'");
  });

  it("uses the relay workspace's directory entry when the smime section has none for that name", async () => {
    const doc = {
      ...env.doc,
      smime: { ...env.doc.smime, directoryRootUrl: env.google.url },
      workspaces: [{ name: 'clinic', domains: ['clinic.example'], transport: 'outbox', recipientCheck: 'directory', directory: { serviceAccountKeyFile: dirKey, adminUser: ADMIN } }],
    };
    const r = await runSmimeCli(doc, ['report', '--workspace', 'clinic', '--org-unit', '/Front desk', '--json']);
    expect(r.code).toBe(0);
    expect(aliases(r.stdout)).toEqual(['cal@clinic.example']);
  });

  it('a directory key the admin may not use: exit 1, what failed and the fix', async () => {
    directory.admins.clear();
    const r = await runSmimeCli(docWith({ directory: { serviceAccountKeyFile: dirKey, adminUser: ADMIN } }), ['report', '--workspace', 'clinic']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: cannot list the users of workspace "clinic" from the Directory API: admin@clinic\.example may not read the directory/);
    expect(r.stderr).toContain('fix: give admin@clinic.example an admin role with the Admin API privileges Users → Read and Groups → Read');
  });

  it('--org-unit without a directory entry says what is missing', async () => {
    const r = await runSmimeCli(docWith({ users: ['amy@clinic.example'] }), ['report', '--workspace', 'clinic', '--org-unit', '/Clinicians']);
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(/--org-unit needs a directory entry for workspace "clinic"/);
  });

  it('listWorkspaceUsers: follows every page, keeps the order, stops on a repeated page token', async () => {
    const credentials = new GoogleCredentials({ key: dirSa.json as never, scopes: [DIRECTORY_USER_READONLY], tokenUrl: env.google.tokenUrl });
    const client = createDirectoryClient({ credentials, adminUser: ADMIN, rootUrl: env.google.url });
    directory.pageSize = 3;
    expect(await listWorkspaceUsers(client, { includeInactive: true })).toEqual([
      ADMIN, 'amy@clinic.example', 'bea@clinic.example', 'cal@clinic.example', 'dan@clinic.example', 'eve@other.example', 'gone@clinic.example',
    ]);
    const stuck = { ...client, listPage: async () => ({ users: [], nextPageToken: 'same' }) };
    await expect(listWorkspaceUsers(stuck)).rejects.toThrow(/repeated a page token/);
  });
});
