import os from 'node:os';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { gmailError } from './support/fake-google.js';
import {
  SETTINGS_BASIC,
  SETTINGS_SHARING,
  createTestCa,
  issueCertificate,
  makeP12,
  readAudit,
  runSmimeCli,
  startSmimeEnv,
  type SmimeTestEnv,
} from './support/fake-smime.js';

const PASSWORD = 'Tr0ub4dor&3-unique';
const ALICE = 'alice@clinic.example';
const SALES = 'sales@clinic.example';

describe('smime CLI: one user', () => {
  let env: SmimeTestEnv;
  let n = 0;
  /** A fresh mailbox per test, so tests do not share certificates. */
  let user: string;
  let sales: string;
  let passwordFile: string;

  beforeAll(async () => {
    env = await startSmimeEnv();
    passwordFile = env.file('p12-password', `${PASSWORD}\n`);
  });
  afterAll(() => env.close());
  beforeEach(() => {
    n++;
    user = ALICE.replace('alice', `alice${n}`);
    sales = SALES.replace('sales', `sales${n}`);
    env.smime.addMailbox(env.google, user, sales);
  });

  const p12For = (email: string, o: { days?: number; chain?: boolean; ca?: ReturnType<typeof createTestCa> } = {}) =>
    env.file(`${email}-${o.days ?? 365}.p12`, makeP12(issueCertificate(o.ca ?? env.ca, { email, notAfterDays: o.days ?? 365 }), PASSWORD, { chain: o.chain ?? true }));

  it('insert: checks locally, uploads as base64url with the password, and audits who/what without secrets', async () => {
    const file = p12For(user);
    const r = await runSmimeCli(env.doc, ['insert', '--user', user, '--p12', file, '--password-file', passwordFile], { env: { SUDO_USER: 'jdoe' } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const [cert] = env.smime.certs(user);
    expect(cert).toBeDefined();
    expect(r.stdout).toMatch(new RegExp(`^uploaded certificate ${cert!.id} for ${user} \\(issuer Test S/MIME CA, expires \\d{4}-\\d\\d-\\d\\d\\)\\n$`));
    expect(env.smime.inserts.at(-1)).toEqual({ user, alias: user, fields: ['encryptedKeyPassword', 'pkcs12'], base64url: true });
    // the token asked for the settings scopes only: never gmail.send or full mail access
    const grant = env.google.grants.find((g) => g.sub === user)!;
    expect(grant.scopes).toEqual([SETTINGS_BASIC, SETTINGS_SHARING]);
    expect(grant.iss).toBe(env.sa.clientEmail);
    const entry = readAudit(env.auditLog).at(-1)!;
    expect(entry).toMatchObject({ action: 'smime.insert', user, alias: user, certificateId: cert!.id, outcome: 'ok', who: { osUser: os.userInfo().username, sudoUser: 'jdoe' } });
    expect(Date.parse(String(entry.at))).toBeGreaterThan(Date.now() - 60_000);
    const audit = readFileSync(env.auditLog, 'utf8');
    const p12b64 = readFileSync(file).toString('base64url');
    for (const text of [audit, r.stdout, r.stderr]) {
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(p12b64.slice(0, 40));
    }
  });

  it('insert: takes the password from WORKSPACE_RELAY_P12_PASSWORD, or else asks for it', async () => {
    const file = p12For(user);
    const a = await runSmimeCli(env.doc, ['insert', '--user', user, '--p12', file], { env: { WORKSPACE_RELAY_P12_PASSWORD: PASSWORD } });
    expect([a.code, a.prompts]).toEqual([0, []]);
    const b = await runSmimeCli(env.doc, ['insert', '--user', user, '--p12', file], { password: PASSWORD });
    expect(b.code).toBe(0);
    expect(b.prompts).toEqual([`Password for ${file}: `]);
    expect(env.smime.certs(user)).toHaveLength(2);
  });

  it('insert: refuses a password given on the command line, before uploading anything', async () => {
    const before = env.smime.inserts.length;
    const r = await runSmimeCli(env.doc, ['insert', '--user', user, '--p12', p12For(user), '--password', PASSWORD]);
    expect(r.code).toBe(64); // EX_USAGE
    expect(r.stderr).toMatch(/^error: passwords are never taken from the command line .*--password-file/);
    expect(env.smime.inserts.length).toBe(before);
  });

  it.each([
    ['a wrong password', (u: string) => p12For(u), 'not-it', /the password does not open this PKCS#12 file/],
    ['another address', () => p12For('bob@clinic.example'), PASSWORD, /the certificate is for bob@clinic\.example, not alice\d+@/],
    ['an expired certificate', (u: string) => p12For(u, { days: -1 }), PASSWORD, /the certificate expired on \d{4}-/],
  ])('insert: stops at %s with one line, sending nothing to Google', async (_name, file, password, message) => {
    const before = env.smime.inserts.length;
    const r = await runSmimeCli(env.doc, ['insert', '--user', user, '--p12', file(user)], { env: { WORKSPACE_RELAY_P12_PASSWORD: password } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(env.smime.inserts.length).toBe(before);
  });

  it('insert: warns when the file has no chain, and still uploads it', async () => {
    const r = await runSmimeCli(env.doc, ['insert', '--user', user, '--p12', p12For(user, { chain: false })], { password: PASSWORD });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^warning: .* includes no CA certificates \(no chain\)/);
    expect(env.smime.certs(user)).toHaveLength(1);
  });

  it('insert: an alias with --set-default; Google refusing an untrusted CA is one plain line and audited as failed', async () => {
    const ok = await runSmimeCli(env.doc, ['insert', '--user', user, '--alias', sales, '--p12', p12For(sales), '--set-default'], { password: PASSWORD });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/, now the default\n$/);
    expect(env.smime.certs(user, sales).map((c) => c.isDefault)).toEqual([true]);
    const rogue = createTestCa('Rogue CA', 8);
    const r = await runSmimeCli(env.doc, ['insert', '--user', user, '--p12', p12For(user, { ca: rogue })], { password: PASSWORD });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: uploading the S\/MIME certificate of alice\d+@clinic\.example failed: Certificate is not issued by a trusted root certificate authority\. \(Gmail does not trust the certificate's issuer: .*\)\n$/);
    expect(readAudit(env.auditLog).at(-1)).toMatchObject({ action: 'smime.insert', user, outcome: 'failed' });
  });

  it.each([
    ["Certificate's subject does not match the send-as address.", /\(the certificate's email address must equal the send-as alias/],
    ['Certificate has expired.', /\(the certificate has expired: renew it with the CA\)/],
  ])('insert: Google saying "%s" is one line with the fix', async (message, fix) => {
    env.google.failNext(gmailError(400, message, 'INVALID_ARGUMENT', 'invalidArgument'), /smimeInfo$/);
    const r = await runSmimeCli(env.doc, ['insert', '--user', user, '--p12', p12For(user)], { password: PASSWORD });
    expect(r.code).toBe(1);
    expect(r.stderr.trimEnd().split('\n')).toEqual([expect.stringContaining(message)]);
    expect(r.stderr).toMatch(fix);
  });

  it('list, get, set-default and delete by id; the changes are audited', async () => {
    const old = env.smime.seed(user, user, { expiresInDays: 20, isDefault: true, issuerCn: 'Old CA' });
    await runSmimeCli(env.doc, ['insert', '--user', user, '--p12', p12For(user)], { password: PASSWORD });
    const fresh = env.smime.certs(user).find((c) => c.id !== old)!.id;

    const table = await runSmimeCli(env.doc, ['list', '--user', user]);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+ISSUER\s+EXPIRES\s+DAYS LEFT\s+DEFAULT$/);
    expect(lines[1]).toMatch(new RegExp(`^${old}\\s+Old CA\\s+\\d{4}-\\d\\d-\\d\\d\\s+(19|20)\\s+yes$`));
    expect(lines[2]).toMatch(new RegExp(`^${fresh}\\s+Test S/MIME CA\\s+\\S+\\s+36[45]$`));

    const json = JSON.parse((await runSmimeCli(env.doc, ['list', '--user', user, '--json'])).stdout) as { id: string; isDefault: boolean; daysLeft: number }[];
    expect(json.map((e) => [e.id, e.isDefault])).toEqual([[old, true], [fresh, false]]);

    const got = await runSmimeCli(env.doc, ['get', fresh, '--user', user]);
    expect(got.stdout).toContain(`id:         ${fresh}`);
    expect(got.stdout).toContain(`addresses:  ${user}`);

    expect((await runSmimeCli(env.doc, ['set-default', fresh, '--user', user])).stdout).toBe(`certificate ${fresh} is now the default of ${user}\n`);
    expect(env.smime.certs(user).find((c) => c.isDefault)?.id).toBe(fresh);
    expect((await runSmimeCli(env.doc, ['delete', old, '--user', user])).stdout).toBe(`deleted certificate ${old} of ${user}\n`);
    expect(env.smime.certs(user).map((c) => c.id)).toEqual([fresh]);

    const tail = readAudit(env.auditLog).slice(-2);
    expect(tail).toMatchObject([
      { action: 'smime.set-default', user, alias: user, certificateId: fresh, outcome: 'ok' },
      { action: 'smime.delete', user, alias: user, certificateId: old, outcome: 'ok' },
    ]);

    const missing = await runSmimeCli(env.doc, ['get', 'nope', '--user', user]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: getting S\/MIME certificate nope of .* failed: Requested entity was not found\. \(check the alias/);
  });

  it('list rides out a passing 503 from Gmail (reads are retried)', async () => {
    const id = env.smime.seed(user, user, { expiresInDays: 50, isDefault: true });
    env.google.failNext(gmailError(503, 'The service is currently unavailable.', 'UNAVAILABLE', 'backendError'), /smimeInfo$/);
    const r = await runSmimeCli(env.doc, ['list', '--user', user, '--json']);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { id: string }[]).map((e) => e.id)).toEqual([id]);
  });

  it('an alias needs gmail.settings.sharing: with only settings.basic the error names the scope', async () => {
    const doc = { smime: { ...env.doc.smime, scopes: [SETTINGS_BASIC] } };
    const r = await runSmimeCli(doc, ['insert', '--user', user, '--alias', sales, '--p12', p12For(sales)], { password: PASSWORD });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/insufficient authentication scopes\. \(the token lacks a needed scope: .*gmail\.settings\.sharing for other aliases/);
    const primary = await runSmimeCli(doc, ['insert', '--user', user, '--p12', p12For(user)], { password: PASSWORD });
    expect(primary.code).toBe(0);
  });

  it('without domain-wide delegation: one line naming the client ID and where to authorise it', async () => {
    env.google.revoke(env.sa.clientId);
    try {
      const r = await runSmimeCli(env.doc, ['list', '--user', user]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`unauthorized_client.*authorise client ID ${env.sa.clientId} for ${SETTINGS_BASIC},${SETTINGS_SHARING} in Admin console`));
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    } finally {
      env.google.authorize(env.sa.clientId, [SETTINGS_BASIC, SETTINGS_SHARING]);
    }
  });

  it('without an smime section, says what to add', async () => {
    const r = await runSmimeCli({ workspaces: [] }, ['list', '--user', user]);
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(/^config error: smime: is missing: S\/MIME commands need their own "smime:" section/);
  });
});
