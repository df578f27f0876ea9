import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { issueCertificate, makeP12, readAudit, runSmimeCli, startSmimeEnv, type SmimeTestEnv } from './support/fake-smime.js';

const PASSWORD = 'import-secret-7781';

describe('smime import, rotate and report', () => {
  let env: SmimeTestEnv;
  let n = 0;
  let user: (name: string) => string;

  beforeAll(async () => {
    env = await startSmimeEnv();
  });
  afterAll(() => env.close());
  beforeEach(() => {
    n++;
    user = (name) => `${name}${n}@clinic.example`;
  });

  const p12 = (email: string, days: number, password = PASSWORD) =>
    env.file(`${email}-${days}.p12`, makeP12(issueCertificate(env.ca, { email, notAfterDays: days }), password));

  it('import: uploads the good lines, reports every line, goes on past bad ones, exits 1', async () => {
    const [a, b, c, d] = ['ann', 'ben', 'cat', 'dan'].map(user) as [string, string, string, string];
    for (const u of [a, b, c, d]) env.smime.addMailbox(env.google, u);
    const csv = env.file(
      `import-${n}.csv`,
      [
        'user,p12,password',
        `${a},${path.basename(p12(a, 365))},${PASSWORD}`,
        `${b},${p12(b, 365, 'pa,ss"word')},"pa,ss""word"`,
        `${c},${p12(c, 365)},wrong-password`,
        `${d},only-two-fields`,
        `# a comment`,
        ``,
        `${d},missing.p12,${PASSWORD}`,
      ].join('\n'),
    );
    const r = await runSmimeCli(env.doc, ['import', csv]);
    expect(r.code).toBe(1);
    const ids = (u: string) => env.smime.certs(u).map((x) => x.id);
    expect(ids(a)).toHaveLength(1);
    expect(ids(b)).toHaveLength(1);
    expect(ids(c)).toEqual([]);
    expect(r.stdout).toBe(
      [`line 2 ${a}: uploaded certificate ${ids(a)[0]}`, `line 3 ${b}: uploaded certificate ${ids(b)[0]}`, '2 uploaded, 3 failed', ''].join('\n'),
    );
    const errs = r.stderr.trimEnd().split('\n');
    expect(errs).toHaveLength(3);
    expect(errs[0]).toMatch(new RegExp(`^line 4 ${c}: FAILED: .*the password does not open`));
    expect(errs[1]).toMatch(/^line 5: FAILED: expected 3 fields user,path-to-p12,password but found 2/);
    expect(errs[2]).toMatch(new RegExp(`^line 8 ${d}: FAILED: cannot read missing\\.p12: ENOENT`));
    for (const text of [r.stdout, r.stderr, readFileSync(env.auditLog, 'utf8')]) {
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain('wrong-password');
    }
    expect(readAudit(env.auditLog).filter((e) => e.action === 'smime.insert' && [a, b].includes(String(e.user)))).toHaveLength(2);
  });

  it('import: refuses a CSV of passwords that others can read', async () => {
    const csv = env.file(`open-${n}.csv`, `${user('x')},x.p12,pw\n`, 0o644);
    const r = await runSmimeCli(env.doc, ['import', csv]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/readable by group or others .*chmod 600/);
  });

  it('rotate: with an expired default, makes the unexpired certificate with the furthest expiry the default', async () => {
    const u = user('rot');
    env.smime.addMailbox(env.google, u);
    env.smime.seed(u, u, { expiresInDays: -3, isDefault: true });
    env.smime.seed(u, u, { expiresInDays: 90 });
    const furthest = env.smime.seed(u, u, { expiresInDays: 400 });
    env.smime.seed(u, u, { expiresInDays: 200 });
    env.smime.seed(u, u, { expiresInDays: -1 });
    const r = await runSmimeCli(env.doc, ['rotate', '--user', u]);
    expect(r.code).toBe(0);
    expect(env.smime.certs(u).filter((c) => c.isDefault).map((c) => c.id)).toEqual([furthest]);
    expect(r.stdout).toMatch(new RegExp(`certificate ${furthest} is now the default of ${u} \\(was smime`));
    expect(readAudit(env.auditLog).at(-1)).toMatchObject({ action: 'smime.rotate', step: 'set-default', user: u, certificateId: furthest, outcome: 'ok' });
  });

  it('rotate --p12: uploads only when the default is missing or expired, then picks the furthest expiry', async () => {
    const u = user('up');
    env.smime.addMailbox(env.google, u);
    env.smime.seed(u, u, { expiresInDays: 30 });
    const r = await runSmimeCli(env.doc, ['rotate', '--user', u, '--json', '--p12', p12(u, 700)], { password: PASSWORD });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { uploaded: { id: string }; defaultId: string; changed: boolean };
    expect(out.changed).toBe(true);
    expect(out.defaultId).toBe(out.uploaded.id);
    expect(env.smime.certs(u).find((c) => c.isDefault)?.id).toBe(out.uploaded.id);
    expect(readAudit(env.auditLog).slice(-2).map((e) => [e.action, e.step])).toEqual([['smime.rotate', 'insert'], ['smime.rotate', 'set-default']]);

    // the default is now valid: a newer file is not uploaded, and nothing changes
    const again = await runSmimeCli(env.doc, ['rotate', '--user', u, '--p12', p12(u, 800)], { password: PASSWORD });
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^the default certificate \S+ is valid until \d{4}-\d\d-\d\d; .* not uploaded/);
    expect(again.stdout).toMatch(/stays the default/);
    expect(env.smime.certs(u)).toHaveLength(2);
  });

  it('rotate: with nothing unexpired and no file, says to give one', async () => {
    const u = user('none');
    env.smime.addMailbox(env.google, u);
    env.smime.seed(u, u, { expiresInDays: -10, isDefault: true });
    const r = await runSmimeCli(env.doc, ['rotate', '--user', u]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`error: ${u} has no unexpired S/MIME certificate: give the new one with --p12 FILE\n`);
  });

  it('report: every send-as alias with its default expiry; warns on expiring, expired, missing and unknown users', async () => {
    const [amy, bob, cy] = ['amy', 'bob', 'cy'].map(user) as [string, string, string];
    const sales = user('sales');
    env.smime.addMailbox(env.google, amy, sales);
    env.smime.addMailbox(env.google, bob);
    env.smime.addMailbox(env.google, cy);
    const amyCert = env.smime.seed(amy, amy, { expiresInDays: 200.5, isDefault: true, issuerCn: 'Good CA' });
    env.smime.seed(amy, sales, { expiresInDays: 10.5, isDefault: true });
    env.smime.seed(cy, cy, { expiresInDays: -2, isDefault: true });
    const later = env.smime.seed(cy, cy, { expiresInDays: 300 });
    const ghost = user('ghost');
    const usersFile = env.file(`users-${n}.txt`, `# staff\n${bob}\n\n${ghost}  # left\n`);

    const r = await runSmimeCli(env.doc, ['report', amy, cy, '--users-file', usersFile, '--json']);
    expect(r.code).toBe(1);
    const rows = JSON.parse(r.stdout) as Record<string, unknown>[];
    const by = (alias: string) => rows.find((x) => x.alias === alias)!;
    expect(by(amy)).toMatchObject({ user: amy, primary: true, status: 'ok', certificateId: amyCert, issuerCn: 'Good CA', daysLeft: 200 });
    expect(by(sales)).toMatchObject({ user: amy, primary: false, status: 'expiring', daysLeft: 10 });
    expect(by(sales).message).toMatch(/expires on \d{4}-\d\d-\d\d \(10 days\)/);
    expect(by(cy)).toMatchObject({ status: 'expired' });
    expect(by(cy).message).toContain(`a later certificate (${later}) is uploaded: run smime rotate --user ${cy}`);
    expect(by(bob)).toMatchObject({ status: 'none', message: 'no default S/MIME certificate: upload one (smime insert or rotate --p12)' });
    expect(rows.find((x) => x.user === ghost)).toMatchObject({ alias: null, status: 'error' });
    expect(String(rows.find((x) => x.user === ghost)!.message)).toMatch(/Invalid email or User ID/);
    expect(rows).toHaveLength(5);

    // a narrower window: the alias expiring in 10 days is fine; table output
    const t = await runSmimeCli(env.doc, ['report', amy, '--warn-days', '5']);
    expect(t.code).toBe(0);
    expect(t.stdout.trimEnd().split('\n')).toEqual([
      expect.stringMatching(/^USER\s+ALIAS\s+STATUS\s+EXPIRES\s+DAYS LEFT\s+ISSUER\s+NOTE$/),
      expect.stringMatching(new RegExp(`^${amy}\\s+${amy}\\s+ok\\s+\\S+\\s+200\\s+Good CA$`)),
      expect.stringMatching(new RegExp(`^${amy}\\s+${sales}\\s+ok\\s+\\S+\\s+10\\s+Seed CA$`)),
    ]);
    const w = await runSmimeCli(env.doc, ['report', bob]);
    expect(w.stdout).toMatch(/WARN none/);
    expect(w.stderr).toBe('1 of 1 send-as addresses need attention\n');
  });

  it('report --workspace: checks the users listed for that workspace', async () => {
    const u = user('ws');
    env.smime.addMailbox(env.google, u);
    env.smime.seed(u, u, { expiresInDays: 100, isDefault: true });
    const doc = { smime: { ...env.doc.smime, workspaces: [{ name: 'main', users: [u] }] } };
    const r = await runSmimeCli(doc, ['report', '--workspace', 'main', '--json']);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { alias: string; status: string }[]).map((x) => [x.alias, x.status])).toEqual([[u, 'ok']]);
    const none = await runSmimeCli(env.doc, ['report']);
    expect(none.code).toBe(64); // EX_USAGE: nobody named
    expect(none.stderr).toMatch(/name the users to check/);
  });
});
