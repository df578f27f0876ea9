/**
 * The bulk S/MIME commands with calls side by side: a fake Gmail whose every call takes a random
 * time, so results complete out of order; the output and the audit log must still follow the
 * input, every change must be audited once, an interrupted run must leave nothing half-reported,
 * and a rerun must do no harm.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { rateLimitError } from './support/fake-google.js';
import { issueCertificate, makeP12, readAudit, runSmimeCli, startSmimeEnv, type SmimeTestEnv } from './support/fake-smime.js';

const PASSWORD = 'bulk-secret-4410';

describe('bulk S/MIME, several calls at once', () => {
  let env: SmimeTestEnv;
  let n = 0;
  const users = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}${n}-${String(i).padStart(2, '0')}@clinic.example`);

  beforeAll(async () => {
    env = await startSmimeEnv();
  });
  afterAll(() => env.close());
  beforeEach(() => {
    n++;
    env.smime.latencyMs = () => Math.floor(Math.random() * 40);
    env.smime.maxInFlight = 0;
  });

  /** A CSV of one line per user (after a header), each with its own .p12. */
  function importCsv(list: readonly string[], extra: Record<number, string> = {}): string {
    const lines = ['user,p12,password'];
    list.forEach((u, i) => {
      if (extra[i]) lines.push(extra[i]);
      lines.push(`${u},${env.file(`${u}.p12`, makeP12(issueCertificate(env.ca, { email: u, notAfterDays: 365 }), PASSWORD))},${PASSWORD}`);
    });
    return env.file(`import-${n}.csv`, lines.join('\n'));
  }
  const auditOf = (list: readonly string[], action = 'smime.insert') =>
    readAudit(env.auditLog).filter((e) => e.action === action && list.includes(String(e.user)));
  const stdoutLines = (text: string) => text.trimEnd().split('\n');

  it('import: lines reported and audited in line order however the calls complete; each upload audited once; a rerun uploads nothing', async () => {
    const list = users('par', 24);
    for (const u of list) env.smime.addMailbox(env.google, u);
    const csv = importCsv(list, { 10: 'not-an-address,x.p12,pw' });
    const r = await runSmimeCli(env.doc, ['import', csv, '--concurrency', '6']);
    expect(r.code).toBe(1); // the bad line
    expect(env.smime.maxInFlight).toBeGreaterThan(1);
    expect(env.smime.maxInFlight).toBeLessThanOrEqual(6);
    const out = stdoutLines(r.stdout);
    expect(out.at(-1)).toBe('24 uploaded, 1 failed');
    // line numbers in order: 2..11 (users 0-9), 12 is the bad line (stderr), 13..26 (users 10-23)
    const reported = out.slice(0, -1).map((l) => /^line (\d+) (\S+): uploaded certificate (\S+)$/.exec(l)!);
    expect(reported.map((m) => Number(m[1]))).toEqual([...Array.from({ length: 10 }, (_, i) => i + 2), ...Array.from({ length: 14 }, (_, i) => i + 13)]);
    expect(reported.map((m) => m[2])).toEqual(list);
    expect(r.stderr).toMatch(/^line 12: FAILED: "not-an-address" is not an email address\n$/);
    // the audit log: one entry per upload, in line order, naming the certificate Gmail made
    const audit = auditOf(list);
    expect(audit.map((e) => e.user)).toEqual(list);
    expect(audit.map((e) => e.certificateId)).toEqual(list.map((u) => env.smime.certs(u)[0]!.id));
    expect(audit.every((e) => e.outcome === 'ok')).toBe(true);
    expect(readFileSync(env.auditLog, 'utf8')).not.toContain(PASSWORD);

    const inserts = env.smime.inserts.length;
    const again = await runSmimeCli(env.doc, ['import', csv, '--concurrency', '6']);
    expect(env.smime.inserts.length).toBe(inserts);
    expect(stdoutLines(again.stdout).at(-1)).toBe('0 uploaded, 24 already there, 1 failed');
    expect(stdoutLines(again.stdout)[0]).toBe(`line 2 ${list[0]}: certificate ${env.smime.certs(list[0]!)[0]!.id} is there already, not uploaded again`);
    expect(auditOf(list)).toHaveLength(24);
    for (const u of list) expect(env.smime.certs(u)).toHaveLength(1);
  });

  it('import interrupted: what it reports is done and audited, nothing else was started; the rerun finishes without uploading twice', async () => {
    const list = users('int', 30);
    for (const u of list) env.smime.addMailbox(env.google, u);
    const csv = importCsv(list);
    const stop = new AbortController();
    let seen = 0;
    const r = await runSmimeCli(env.doc, ['import', csv, '--concurrency', '4'], {
      interrupt: stop.signal,
      onStdout: () => {
        if (++seen === 5) stop.abort();
      },
    });
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/interrupted after line \d+: the lines reported are done; run the same command again/);
    const done = stdoutLines(r.stdout)
      .slice(0, -1)
      .map((l) => /^line \d+ (\S+): uploaded/.exec(l)![1]!);
    // a prefix of the file, and it includes every upload Gmail got: nothing done went unreported
    expect(done.length).toBeGreaterThanOrEqual(5);
    expect(done.length).toBeLessThan(30);
    expect(done).toEqual(list.slice(0, done.length));
    expect(list.filter((u) => env.smime.certs(u).length > 0)).toEqual(done);
    expect(auditOf(list).map((e) => e.user)).toEqual(done);

    const again = await runSmimeCli(env.doc, ['import', csv, '--concurrency', '4']);
    expect(again.code).toBe(0);
    expect(stdoutLines(again.stdout).at(-1)).toBe(`${30 - done.length} uploaded, ${done.length} already there, 0 failed`);
    for (const u of list) expect(env.smime.certs(u)).toHaveLength(1);
    expect(auditOf(list).map((e) => e.user)).toEqual(list);
  });

  it("a 429 from Gmail: no call starts before Google's stated time, then the refused call goes through, once", async () => {
    const list = users('slow', 6);
    for (const u of list) env.smime.addMailbox(env.google, u);
    const csv = importCsv(list);
    env.smime.latencyMs = 300;
    const firstCall = env.smime.calls.length;
    const retryAt = new Date(Date.now() + 1_500);
    env.google.failNext(rateLimitError(retryAt), /\/smimeInfo$/);
    const r = await runSmimeCli(env.doc, ['import', csv, '--concurrency', '3']);
    expect(r.code).toBe(0);
    expect(stdoutLines(r.stdout).at(-1)).toBe('6 uploaded, 0 failed');
    // the two calls already on their way when the 429 came back; every later one waited
    const calls = env.smime.calls.slice(firstCall);
    expect(calls.slice(2).every((c) => c.at >= retryAt.getTime())).toBe(true);
    for (const u of list) expect(env.smime.certs(u)).toHaveLength(1);
    expect(auditOf(list).map((e) => e.user)).toEqual(list);
  });

  it('report: many users at once, rows in the order the users were given', async () => {
    const list = users('rep', 40);
    for (const u of list) {
      env.smime.addMailbox(env.google, u);
      env.smime.seed(u, u, { expiresInDays: 100, isDefault: true });
    }
    const usersFile = env.file(`report-${n}.txt`, [...list].reverse().join('\n'));
    const r = await runSmimeCli(env.doc, ['report', '--users-file', usersFile, '--concurrency', '8', '--json']);
    expect(r.code).toBe(0);
    expect(env.smime.maxInFlight).toBeGreaterThan(1);
    expect((JSON.parse(r.stdout) as { user: string; status: string }[]).map((x) => x.user)).toEqual([...list].reverse());
  });

  it('rotate --users-file: every alias of every user, reported and audited in order; a rerun changes nothing', async () => {
    const [expired, valid, none, dead, alias] = users('rot', 5) as [string, string, string, string, string];
    const sales = `sales${n}@clinic.example`;
    for (const u of [expired, valid, none, dead]) env.smime.addMailbox(env.google, u);
    env.smime.addMailbox(env.google, alias, sales);
    env.smime.seed(expired, expired, { expiresInDays: -2, isDefault: true });
    const later = env.smime.seed(expired, expired, { expiresInDays: 300 });
    const kept = env.smime.seed(valid, valid, { expiresInDays: 200, isDefault: true });
    env.smime.seed(dead, dead, { expiresInDays: -5, isDefault: true });
    const aliasKept = env.smime.seed(alias, alias, { expiresInDays: 90, isDefault: true });
    env.smime.seed(alias, sales, { expiresInDays: 10 });
    const salesLater = env.smime.seed(alias, sales, { expiresInDays: 500 });
    const file = env.file(`rotate-${n}.txt`, [expired, valid, none, dead, alias].join('\n'));

    const r = await runSmimeCli(env.doc, ['rotate', '--users-file', file, '--concurrency', '3']);
    expect(r.code).toBe(1);
    expect(stdoutLines(r.stdout)).toEqual([
      `${expired}: certificate ${later} is now the default (was ${env.smime.certs(expired).find((c) => c.id !== later)!.id})`,
      `${valid}: certificate ${kept} stays the default`,
      `${none}: no S/MIME certificates: nothing to rotate`,
      `${alias}: certificate ${aliasKept} stays the default`,
      `${alias} (alias ${sales}): certificate ${salesLater} is now the default (was none)`,
      '2 changed, 2 unchanged, 1 without certificates, 1 failed',
    ]);
    expect(r.stderr).toBe(`${dead}: FAILED: no unexpired S/MIME certificate: upload a new one (smime rotate --user ${dead} --p12 FILE)\n`);
    expect(env.smime.certs(expired).find((c) => c.isDefault)?.id).toBe(later);
    expect(env.smime.certs(alias, sales).find((c) => c.isDefault)?.id).toBe(salesLater);
    const audit = readAudit(env.auditLog).filter((e) => e.action === 'smime.rotate' && [expired, alias].includes(String(e.user)));
    expect(audit.map((e) => [e.user, e.alias, e.certificateId])).toEqual([
      [expired, expired, later],
      [alias, sales, salesLater],
    ]);

    const again = await runSmimeCli(env.doc, ['rotate', '--users-file', file, '--json']);
    const json = JSON.parse(again.stdout) as { changed: number; kept: number; failed: number };
    expect(json).toMatchObject({ changed: 0, kept: 4, failed: 1 });
  });

  it('rotate: many users need --users-file or --workspace, and take no --p12', async () => {
    const none = await runSmimeCli(env.doc, ['rotate']);
    expect(none.code).toBe(64);
    expect(none.stderr).toMatch(/--user USER, or --users-file FILE or --workspace NAME/);
    const file = env.file(`p12-${n}.txt`, 'a@clinic.example\n');
    const p12 = await runSmimeCli(env.doc, ['rotate', '--users-file', file, '--p12', 'x.p12']);
    expect(p12.code).toBe(64);
    expect(p12.stderr).toMatch(/--p12 and --alias need --user/);
    const bad = await runSmimeCli(env.doc, ['report', 'a@clinic.example', '--concurrency', '500']);
    expect(bad.code).toBe(64);
    expect(bad.stderr).toMatch(/^error: --concurrency 500: give a whole number from 1 to 50/);
  });
});
