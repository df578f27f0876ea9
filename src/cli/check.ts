/**
 * `workspace-relay check [users…]`: validate the config, load each key, and ask Google for a
 * token as each workspace's users with the configured scopes. Every failure says what to fix.
 * `--json` prints the same as one object (CheckReport).
 */
import nodemailer from 'nodemailer';
import { readFileSync } from 'node:fs';
import { buildCredentials } from '../delivery/build.js';
import type { Config, WorkspaceConfig } from '../config/schema.js';
import { readSecretFile } from '../config/secrets.js';
import { ConfigError } from '../errors.js';
import { classify } from '../failures/index.js';
import { diagnoseDelegation, type DelegationCheck } from '../google/diagnose.js';
import { CliExit, EXIT_CONFIG, EXIT_FAILURE, loadConfigOrExit, type ConfigChoice } from './context.js';

export interface Output {
  out(line: string): void;
  err(line: string): void;
}

export interface WorkspaceCheck {
  name: string;
  transport: WorkspaceConfig['transport'];
  /** One line about the workspace (client ID and scopes, SMTP account, outbox directory). */
  summary: string;
  results: DelegationCheck[];
  /** Why nothing was tried, when nothing was. */
  note?: string;
}

export interface CheckReport {
  config: string;
  workspaces: WorkspaceCheck[];
  failures: number;
  ok: boolean;
}

/** The users `check` tries when none are given: those the config names. */
export function configuredUsers(w: WorkspaceConfig): string[] {
  const users = new Set<string>(Object.values(w.senders.map));
  if (w.senders.default) users.add(w.senders.default);
  if (w.transport === 'smtp' && w.smtp) users.add(w.smtp.user);
  return [...users];
}

export async function check(
  choice: ConfigChoice,
  users: string[],
  io: Output,
  options: { smtpLogin?: boolean; json?: boolean } = {},
): Promise<void> {
  const config = loadConfigOrExit(choice);
  const say = (line: string) => options.json || io.out(line);
  say(`config ${choice.path}: valid (${config.workspaces.length} workspace(s), ${config.listen.length} listener(s))`);
  let credentials;
  try {
    credentials = buildCredentials(config);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliExit(EXIT_CONFIG, `config error: ${err.message}`);
    throw err;
  }
  const report: CheckReport = { config: choice.path, workspaces: [], failures: 0, ok: true };
  for (const w of config.workspaces) {
    const wanted = users.length ? users.filter((u) => w.domains.includes(u.slice(u.lastIndexOf('@') + 1).toLowerCase())) : configuredUsers(w);
    let result: WorkspaceCheck;
    if (w.transport === 'outbox') {
      result = { name: w.name, transport: w.transport, summary: `outbox (dry run) → ${w.outbox!.dir}`, results: [], note: 'nothing to check with Google' };
    } else if (w.transport === 'smtp') {
      result = await checkSmtp(config, w, options.smtpLogin ?? true);
    } else {
      const creds = credentials.get(w.name)!;
      result = {
        name: w.name,
        transport: w.transport,
        summary: `gmail-api, client ID ${creds.clientId} (${creds.key.client_email}), scopes ${creds.scopes.join(' ')}`,
        results: wanted.length ? await diagnoseDelegation(creds, wanted) : [],
        ...(wanted.length ? {} : { note: `no users to try: name some, e.g. workspace-relay check user@${w.domains[0]}` }),
      };
    }
    report.workspaces.push(result);
    report.failures += result.results.filter((r) => !r.ok).length;
    if (!options.json) printWorkspace(result, io);
  }
  report.ok = report.failures === 0;
  if (options.json) io.out(JSON.stringify(report, null, 2));
  if (report.failures) throw new CliExit(EXIT_FAILURE, `${report.failures} check(s) failed`);
  say('all checks passed');
}

function printWorkspace(w: WorkspaceCheck, io: Output): void {
  if (w.transport === 'outbox') {
    io.out(`workspace ${w.name}: ${w.summary}; ${w.note}`);
    return;
  }
  io.out(`workspace ${w.name}: ${w.summary}`);
  if (w.note) io.out(`  ${w.note}`);
  for (const line of w.results) {
    // (an SMTP login names its account in its message)
    if (line.ok) io.out(w.transport === 'smtp' ? `  ok    ${line.message}` : `  ok    ${line.user}: ${line.message}`);
    else {
      io.out(`  FAIL  ${line.user}: ${line.message}`);
      if (line.fix) io.out(`        fix: ${line.fix}`);
    }
  }
}

async function checkSmtp(config: Config, w: WorkspaceConfig, login: boolean): Promise<WorkspaceCheck> {
  const smtp = w.smtp!;
  const i = config.workspaces.indexOf(w);
  const base = { name: w.name, transport: w.transport, summary: `smtp ${smtp.host}:${smtp.port} as ${smtp.user}` };
  const pass = readSecretFile(smtp.appPasswordFile, `workspaces[${i}].smtp.appPasswordFile`).trim();
  if (!login) return { ...base, results: [], note: 'login not tried (--no-smtp-login)' };
  const t = nodemailer.createTransport({
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure,
    requireTLS: !smtp.secure,
    auth: { user: smtp.user, pass },
    tls: { minVersion: 'TLSv1.2', servername: smtp.host, ...(smtp.caFile ? { ca: readFileSync(smtp.caFile) } : {}) },
    connectionTimeout: 15_000,
  });
  try {
    await t.verify();
    return { ...base, results: [{ user: smtp.user, ok: true, message: `login as ${smtp.user} accepted` }] };
  } catch (err) {
    const failure = classify(err, { user: smtp.user, transport: 'smtp', passwordFile: smtp.appPasswordFile });
    return {
      ...base,
      results: [{ user: smtp.user, ok: false, code: failure.code, message: failure.summary, ...(failure.fix ? { fix: failure.fix } : {}) }],
    };
  } finally {
    t.close();
  }
}
