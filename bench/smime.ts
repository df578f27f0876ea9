/**
 * The bulk S/MIME benchmark (`npm run bench -- --scenario smime-report | smime-import |
 * smime-rotate`): the real CLI (`workspace-relay smime …`, a child process under tsx, as an admin
 * runs it) against the fake Gmail and Directory (bench/fake-smime-child.ts) answering every call
 * after --gmail-latency ms (default 150). It times the whole command, start-up included, and
 * checks what it did: every user's rows in order (report); every line uploaded, in order, audited
 * once and in order, one certificate per user at the fake (import); every address's default
 * changed, reported and audited once, in the Directory's order, and a second run that changes
 * nothing (rotate: `smime rotate --workspace`, the users listed by the Directory API).
 *
 * The .p12 files are made once with node-forge (slow: about 0.1 s each) and kept under
 * <tmpdir>/wr-bench-smime-cache; all share one 2048-bit key (the fake and the CLI open each
 * file as they would any other; a key per user would only make the files slower to create).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import forge from 'node-forge';
import { issueCertificate, makeP12, testKeyPair, type TestCa } from '../test/support/fake-smime.js';
import { forkChild } from './children.js';

export interface SmimeBenchOptions {
  command: 'report' | 'import' | 'rotate';
  users: number;
  latencyMs: number;
  /** The CLI's --concurrency; undefined: its default. */
  concurrency: number | undefined;
  keep: boolean;
}

const PASSWORD = 'bench-p12-password';
const DOMAIN = 'bench.example';
const REPO = path.resolve(import.meta.dirname, '..');
const CACHE = path.join(os.tmpdir(), 'wr-bench-smime-cache-v1');

const userName = (i: number) => `user${String(i).padStart(5, '0')}@${DOMAIN}`;

/** The bench CA (made once, kept in the cache) and a .p12 for each of the first `n` users. */
function cachedP12s(n: number): { caCertPem: string; files: string[] } {
  mkdirSync(CACHE, { recursive: true, mode: 0o700 });
  const caFile = path.join(CACHE, 'ca.json');
  let ca: TestCa;
  if (existsSync(caFile)) {
    const { cert, key } = JSON.parse(readFileSync(caFile, 'utf8')) as { cert: string; key: string };
    ca = { name: 'bench CA', cert: forge.pki.certificateFromPem(cert), key: forge.pki.privateKeyFromPem(key) };
  } else {
    ca = makeCa();
    writeFileSync(caFile, JSON.stringify({ cert: forge.pki.certificateToPem(ca.cert), key: forge.pki.privateKeyToPem(ca.key) }), { mode: 0o600 });
  }
  const files: string[] = [];
  const started = Date.now();
  let made = 0;
  for (let i = 0; i < n; i++) {
    const file = path.join(CACHE, `${userName(i)}.p12`);
    if (!existsSync(file)) {
      writeFileSync(file, makeP12(issueCertificate(ca, { email: userName(i), notAfterDays: 3650, keyIndex: 0 }), PASSWORD), { mode: 0o600 });
      if (++made % 100 === 0) console.error(`made ${made} .p12 files (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    }
    files.push(file);
  }
  return { caCertPem: forge.pki.certificateToPem(ca.cert), files };
}

function makeCa(): TestCa {
  const keys = testKeyPair(9);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = '01bench';
  cert.validity.notBefore = new Date(Date.now() - 86_400_000);
  cert.validity.notAfter = new Date(Date.now() + 20 * 365 * 86_400_000);
  const attrs = [{ name: 'commonName', value: 'Bench S/MIME CA' }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([{ name: 'basicConstraints', cA: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true }]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { name: 'Bench S/MIME CA', key: keys.privateKey, cert };
}

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

function runCli(args: string[]): Promise<CliResult> {
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'src/cli/index.ts'), ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, seconds: Number(process.hrtime.bigint() - started) / 1e9 }));
  });
}

export async function runSmimeBench(o: SmimeBenchOptions): Promise<Record<string, unknown>> {
  const users = Array.from({ length: o.users }, (_, i) => userName(i));
  const p12 = cachedP12s(o.command === 'import' ? o.users : 0);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wr-bench-smime-'));
  const caCertPem = p12.caCertPem;
  const seed = o.command === 'import' ? undefined : o.command;
  const fake = await forkChild('fake-smime-child.ts', [JSON.stringify({ dir, users, latencyMs: o.latencyMs, caCertPem, seed })]);
  try {
    const auditLog = path.join(dir, 'audit.log');
    const configFile = path.join(dir, 'config.json');
    const r = fake.ready;
    const directory = { serviceAccountKeyFile: r.directoryKeyFile, adminUser: r.admin };
    const smime = {
      serviceAccountKeyFile: r.keyFile,
      tokenUrl: r.tokenUrl,
      apiRootUrl: r.apiRootUrl,
      directoryRootUrl: r.directoryRootUrl,
      auditLog,
      workspaces: [{ name: 'bench', domains: [DOMAIN], directory }],
    };
    writeFileSync(configFile, JSON.stringify({ smime }), { mode: 0o600 });
    const concurrency = o.concurrency === undefined ? [] : ['--concurrency', String(o.concurrency)];
    let args: string[];
    if (o.command === 'report') {
      const usersFile = path.join(dir, 'users.txt');
      writeFileSync(usersFile, `${users.join('\n')}\n`);
      args = ['--config', configFile, 'smime', 'report', '--users-file', usersFile, '--json', ...concurrency];
    } else if (o.command === 'rotate') {
      args = ['--config', configFile, 'smime', 'rotate', '--workspace', 'bench', '--json', ...concurrency];
    } else {
      const csv = path.join(dir, 'import.csv');
      writeFileSync(csv, ['user,p12,password', ...users.map((u, i) => `${u},${p12.files[i]},${PASSWORD}`)].join('\n'), { mode: 0o600 });
      args = ['--config', configFile, 'smime', 'import', csv, ...concurrency];
    }
    const run = await runCli(args);
    const stats = (await fake.request('stats')) as Record<string, unknown>;
    const problems =
      o.command === 'report' ? checkReport(run, users) : o.command === 'import' ? checkImport(run, users, auditLog, Number(stats.usersWithOneCert)) : checkRotate(run, users, auditLog, stats);
    const result: Record<string, unknown> = {
      command: `smime ${o.command}`,
      users: o.users,
      latencyMs: o.latencyMs,
      concurrency: o.concurrency ?? 'default',
      seconds: run.seconds,
      exitCode: run.code,
      gmailCalls: stats.calls,
      tokenRequests: stats.tokens,
      maxCallsAtOnce: stats.maxInFlight,
      ...(o.command === 'rotate' ? { directoryPages: stats.directoryPages, addresses: stats.addresses } : {}),
      problems,
    };
    if (o.command === 'rotate') {
      // The same command again, as after an interruption: it must find nothing to change.
      const again = await runCli(args);
      result.rerunSeconds = again.seconds;
      problems.push(...checkRerun(again, Number(stats.addresses), auditLog).map((p) => `rerun: ${p}`));
    }
    return result;
  } finally {
    await fake.stop();
    if (!o.keep) rmSync(dir, { recursive: true, force: true });
    else console.error(`kept ${dir}`);
  }
}

function checkReport(r: CliResult, users: string[]): string[] {
  const problems: string[] = [];
  if (r.code !== 0 && r.code !== 1) problems.push(`exit ${r.code}: ${r.stderr.slice(0, 500)}`);
  let rows: { user: string; status: string }[] = [];
  try {
    rows = JSON.parse(r.stdout) as typeof rows;
  } catch {
    problems.push('the output is not JSON');
  }
  const order = [...new Set(rows.map((x) => x.user))];
  if (order.join() !== users.join()) problems.push('rows are not in the users file order, or users are missing');
  const errors = rows.filter((x) => x.status === 'error').length;
  if (errors) problems.push(`${errors} rows are errors`);
  return problems;
}

function checkImport(r: CliResult, users: string[], auditLog: string, usersWithOneCert: number): string[] {
  const problems: string[] = [];
  if (r.code !== 0) problems.push(`exit ${r.code}: ${r.stderr.slice(0, 500)}`);
  const lines = r.stdout.trimEnd().split('\n');
  const reported = lines.slice(0, -1).map((l) => /^line \d+ (\S+): uploaded certificate /.exec(l)?.[1]);
  if (reported.join() !== users.join()) problems.push('the lines reported are not every user in the file order');
  if (lines.at(-1) !== `${users.length} uploaded, 0 failed`) problems.push(`summary: ${lines.at(-1)}`);
  const audited = existsSync(auditLog)
    ? readFileSync(auditLog, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { action: string; user: string; outcome: string })
        .filter((e) => e.action === 'smime.insert' && e.outcome === 'ok')
        .map((e) => e.user)
    : [];
  if (audited.join() !== users.join()) problems.push(`audit: ${audited.length} insert lines, not one per user in order`);
  if (usersWithOneCert !== users.length) problems.push(`${users.length - usersWithOneCert} users do not have exactly one certificate at the fake`);
  return problems;
}

interface RotateJson {
  aliases: { user: string; alias: string; status: string }[];
  changed: number;
  kept: number;
  failed: number;
}

function rotateJson(r: CliResult, problems: string[]): RotateJson | undefined {
  if (r.code !== 0) problems.push(`exit ${r.code}: ${r.stderr.slice(0, 500)}`);
  try {
    return JSON.parse(r.stdout) as RotateJson;
  } catch {
    problems.push('the output is not JSON');
    return undefined;
  }
}

/** The audit log's successful set-default steps of smime rotate, as "user alias". */
function rotateAudit(auditLog: string): string[] {
  if (!existsSync(auditLog)) return [];
  return readFileSync(auditLog, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { action: string; step?: string; user: string; alias: string; outcome: string })
    .filter((e) => e.action === 'smime.rotate' && e.step === 'set-default' && e.outcome === 'ok')
    .map((e) => `${e.user} ${e.alias}`);
}

function checkRotate(r: CliResult, users: string[], auditLog: string, stats: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const out = rotateJson(r, problems);
  if (!out) return problems;
  const addresses = Number(stats.addresses);
  if ([...new Set(out.aliases.map((x) => x.user))].join() !== users.join()) problems.push("rows are not in the Directory's order, or users are missing");
  if (out.changed !== addresses || out.aliases.length !== addresses) problems.push(`${out.changed} of ${addresses} addresses changed (${out.aliases.length} rows)`);
  if (rotateAudit(auditLog).join() !== out.aliases.map((x) => `${x.user} ${x.alias}`).join()) problems.push('audit: not one set-default line per address in the order reported');
  if (Number(stats.rotated) !== addresses) problems.push(`${addresses - Number(stats.rotated)} addresses do not have the furthest certificate as their default at the fake`);
  return problems;
}

function checkRerun(r: CliResult, addresses: number, auditLog: string): string[] {
  const problems: string[] = [];
  const out = rotateJson(r, problems);
  if (!out) return problems;
  if (out.changed !== 0 || out.kept !== addresses) problems.push(`${out.changed} changed and ${out.kept} kept of ${addresses}`);
  if (rotateAudit(auditLog).length !== addresses) problems.push('audit: the rerun wrote set-default lines');
  return problems;
}
