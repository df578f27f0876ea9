/**
 * `workspace-relay check [users…]`: validate the config, load each key, and ask Google for a
 * token as each workspace's users with the configured scopes. Every failure says what to fix.
 */
import nodemailer from 'nodemailer';
import { readFileSync } from 'node:fs';
import { buildCredentials } from '../delivery/build.js';
import type { Config, WorkspaceConfig } from '../config/schema.js';
import { readSecretFile } from '../config/secrets.js';
import { ConfigError } from '../errors.js';
import { classify } from '../failures/index.js';
import { diagnoseDelegation } from '../google/diagnose.js';
import { CliExit, EXIT_CONFIG, EXIT_FAILURE, loadConfigOrExit, type ConfigChoice } from './context.js';

export interface Output {
  out(line: string): void;
  err(line: string): void;
}

/** The users `check` tries when none are given: those the config names. */
export function configuredUsers(w: WorkspaceConfig): string[] {
  const users = new Set<string>(Object.values(w.senders.map));
  if (w.senders.default) users.add(w.senders.default);
  if (w.transport === 'smtp' && w.smtp) users.add(w.smtp.user);
  return [...users];
}

export async function check(choice: ConfigChoice, users: string[], io: Output, options: { smtpLogin?: boolean } = {}): Promise<void> {
  const config = loadConfigOrExit(choice);
  io.out(`config ${choice.path}: valid (${config.workspaces.length} workspace(s), ${config.listen.length} listener(s))`);
  let credentials;
  try {
    credentials = buildCredentials(config);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliExit(EXIT_CONFIG, `config error: ${err.message}`);
    throw err;
  }
  let failures = 0;
  for (const w of config.workspaces) {
    const wanted = users.length ? users.filter((u) => w.domains.includes(u.slice(u.lastIndexOf('@') + 1).toLowerCase())) : configuredUsers(w);
    if (w.transport === 'outbox') {
      io.out(`workspace ${w.name}: outbox (dry run) → ${w.outbox!.dir}; nothing to check with Google`);
      continue;
    }
    if (w.transport === 'smtp') {
      failures += await checkSmtp(config, w, io, options.smtpLogin ?? true);
      continue;
    }
    const creds = credentials.get(w.name)!;
    io.out(`workspace ${w.name}: gmail-api, client ID ${creds.clientId} (${creds.key.client_email}), scopes ${creds.scopes.join(' ')}`);
    if (!wanted.length) {
      io.out(`  no users to try: name some, e.g. workspace-relay check user@${w.domains[0]}`);
      continue;
    }
    for (const line of await diagnoseDelegation(creds, wanted)) {
      if (line.ok) io.out(`  ok    ${line.user}: ${line.message}`);
      else {
        failures++;
        io.out(`  FAIL  ${line.user}: ${line.message}`);
        if (line.fix) io.out(`        fix: ${line.fix}`);
      }
    }
  }
  if (failures) throw new CliExit(EXIT_FAILURE, `${failures} check(s) failed`);
  io.out('all checks passed');
}

async function checkSmtp(config: Config, w: WorkspaceConfig, io: Output, login: boolean): Promise<number> {
  const smtp = w.smtp!;
  const i = config.workspaces.indexOf(w);
  io.out(`workspace ${w.name}: smtp ${smtp.host}:${smtp.port} as ${smtp.user}`);
  const pass = readSecretFile(smtp.appPasswordFile, `workspaces[${i}].smtp.appPasswordFile`).trim();
  if (!login) return 0;
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
    io.out(`  ok    login as ${smtp.user} accepted`);
    return 0;
  } catch (err) {
    const failure = classify(err, { user: smtp.user, transport: 'smtp', passwordFile: smtp.appPasswordFile });
    io.out(`  FAIL  ${smtp.user}: ${failure.summary}`);
    if (failure.fix) io.out(`        fix: ${failure.fix}`);
    return 1;
  } finally {
    t.close();
  }
}
