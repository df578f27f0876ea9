/**
 * `check`, the users: per workspace, a token as every user the config names (the sending users
 * of senders.map and senders.default, the postmaster every notice is sent as, the notify user
 * alerts go to), or the users given on the command line, and Gmail's answer for each
 * (src/google/diagnose.ts: what it proves), and the scope in use. A Gmail SMTP workspace logs in
 * once; gmail-xoauth2 logs in as each user; smtp-relay connects (and logs in with SMTP AUTH); a
 * workspace with recipientCheck: directory reads the directory (check-upstream.ts). A user given
 * that is in no workspace is a failure: the relay would refuse mail for it.
 */
import nodemailer from 'nodemailer';
import { readFileSync } from 'node:fs';
import { type Config, type WorkspaceConfig, readPasswordFile } from '../config/index.js';
import { workspaceCredentials } from '../delivery/index.js';
import { ConfigError, errorText } from '../errors.js';
import { classify } from '../failures/index.js';
import { SEND_SCOPE_LADDER, diagnoseUser, scopeReport, type DelegationCheck, type GoogleCredentials } from '../google/index.js';
import { postmasterOf } from '../notify/index.js';
import { fail, failedWith, pass, skipped, warn, type CheckItem, type CheckSection } from './check-report.js';
import { checkDirectory, checkRelay, checkXoauth2Login } from './check-upstream.js';

/** A user the config names, and in which roles. */
export interface NamedUser {
  user: string;
  roles: string[];
}

/** The users `check` tries when none are given: every one the workspace's config names. */
export function configuredUsers(w: WorkspaceConfig): NamedUser[] {
  const users = new Map<string, string[]>();
  const add = (user: string | null | undefined, role: string) => {
    if (!user) return;
    const key = user.toLowerCase();
    users.set(key, [...(users.get(key) ?? []), role]);
  };
  for (const to of new Set(Object.values(w.senders.map))) add(to, 'senders.map');
  add(w.senders.default, 'senders.default');
  add(postmasterOf(w), w.postmaster ? 'postmaster' : 'postmaster (default)');
  add(w.notify, 'notify');
  return [...users].map(([user, roles]) => ({ user, roles }));
}

export interface UsersCheckOptions {
  /** Could the token endpoint and the Gmail API be reached (the network section)? */
  tokenReachable: boolean;
  apiReachable: boolean;
  smtpLogin: boolean;
  now?: () => number;
}

const domainOf = (user: string) => user.slice(user.lastIndexOf('@') + 1).toLowerCase();

/** One section per workspace, then the users given that no workspace holds. */
export async function userSections(config: Config, given: string[], options: UsersCheckOptions): Promise<CheckSection[]> {
  const sections: CheckSection[] = [];
  for (const [i, w] of config.workspaces.entries()) {
    const configured = configuredUsers(w);
    const users = given.length
      ? given.filter((u) => w.domains.includes(domainOf(u))).map((user) => ({ user, roles: configured.find((c) => c.user === user.toLowerCase())?.roles ?? [] }))
      : configured;
    if (given.length && !users.length) continue;
    sections.push(await workspaceSection(config, i, users, options));
  }
  const outside = given.filter((u) => !config.workspaces.some((w) => w.domains.includes(domainOf(u))));
  if (outside.length) {
    const domains = config.workspaces.flatMap((w) => w.domains).join(', ');
    sections.push({
      title: 'users given',
      items: outside.map((user) =>
        fail(`user ${user}`, `in no workspace (the workspaces' domains: ${domains}): the relay refuses mail to and from it`, "check the address (a typo?), or add its domain to a workspace's domains", {
          subject: user,
        }),
      ),
    });
  }
  return sections;
}

async function workspaceSection(config: Config, i: number, users: NamedUser[], options: UsersCheckOptions): Promise<CheckSection> {
  const w = config.workspaces[i]!;
  const title = `workspace ${w.name}`;
  if (w.transport === 'outbox') {
    return { title, summary: 'outbox (dry run)', items: [warn('dry-run', `mail is written to ${w.outbox!.dir}, not sent: nothing to check with Google`, 'to send through Gmail, set transport: gmail-api (or smtp) (README "Google set-up")')] };
  }
  if (w.transport === 'smtp') return withDirectory(config, w, await smtpSection(config, i, options.smtpLogin));
  if (w.transport === 'smtp-relay') return withDirectory(config, w, await relaySection(config, w, options.smtpLogin));
  return withDirectory(config, w, await tokenSection(config, i, users, options));
}

/** gmail-api and gmail-xoauth2: a token as each user; Gmail's answer (API) or the XOAUTH2 login; the scope in use. */
async function tokenSection(config: Config, i: number, users: NamedUser[], options: UsersCheckOptions): Promise<CheckSection> {
  const w = config.workspaces[i]!;
  const title = `workspace ${w.name}`;
  const xoauth2 = w.transport === 'gmail-xoauth2';
  let credentials: GoogleCredentials;
  try {
    credentials = workspaceCredentials(config, i)!;
  } catch (err) {
    return { title, summary: w.transport, items: [fail('key', err instanceof ConfigError ? err.message : errorText(err), undefined, { code: 'config.invalid' })] };
  }
  const scopes = credentials.automaticScopes ? `automatic (${SEND_SCOPE_LADDER.map((r) => r.join(' ')).join(', else ')})` : credentials.scopes.join(' ');
  const where = xoauth2 ? ` → ${w.gmailXoauth2!.host}:${w.gmailXoauth2!.port}` : '';
  const summary = `${w.transport}${where}, client ID ${credentials.clientId} (${credentials.key.client_email}), scopes ${scopes}`;
  // (XOAUTH2 needs no Gmail API: its login below is what says Gmail serves the user.)
  const api = options.apiReachable && !xoauth2;
  const items: CheckItem[] = [];
  for (const { user, roles } of users) {
    const name = `user ${user}`;
    const subject = roles.length ? `${user} (${roles.join(', ')})` : user;
    if (!options.tokenReachable) {
      items.push(skipped(name, "not tried: Google's token endpoint cannot be reached (network, above)", { subject }));
      continue;
    }
    const r = await diagnoseUser(credentials, user, { ...(api ? { apiRootUrl: config.google.apiRootUrl } : {}), ...(options.now ? { now: options.now } : {}) });
    if (r.ok) {
      items.push(pass(name, api || xoauth2 ? r.message : `${r.message}; Gmail not asked (the Gmail API cannot be reached, above)`, { subject }));
      if (xoauth2 && options.smtpLogin) items.push(asItem(`xoauth2 ${user}`, await checkXoauth2Login(w, credentials, user), subject));
    } else if (r.code === 'delivery.no_such_user' && roles.length === 1 && roles[0] === 'notify') {
      // Alerts are only sent to it: a group or an alias receives them as well as a user does.
      items.push(warn(name, `Google has no user ${user}: a group or an alias still receives the alerts; anything else loses them`, 'if it is a typo, fix notify', { subject, code: r.code }));
    } else {
      items.push(fail(name, r.message, noticeSenderFix(r, roles, i) ?? r.fix, { subject, ...(r.code ? { code: r.code } : {}) }));
    }
  }
  if (!items.length) items.push(pass('users', `no users named: try some, e.g. workspace-relay check user@${w.domains[0]}`));
  // The scope the token requests ended on, and how to narrow it (gmail-api).
  const [inUse, advice] = xoauth2 ? [] : scopeReport(credentials);
  if (inUse) items.push(advice ? warn('scope', inUse, advice) : pass('scope', inUse));
  return { title, summary, items };
}

/** A DelegationCheck line (check-upstream.ts) as a check item. */
function asItem(name: string, r: DelegationCheck, subject = r.user): CheckItem {
  return r.ok ? pass(name, r.message, { subject }) : fail(name, r.message, r.fix, { subject, ...(r.code ? { code: r.code } : {}) });
}

/** Google's SMTP relay service: the TLS connection, and the SMTP AUTH login when configured. */
async function relaySection(config: Config, w: WorkspaceConfig, login: boolean): Promise<CheckSection> {
  const r = w.smtpRelay!;
  const base = { title: `workspace ${w.name}`, summary: `smtp-relay ${r.host}:${r.port}, ${r.user ? `SMTP AUTH as ${r.user}` : 'known by this IP address (no AUTH)'}` };
  if (!login) return { ...base, items: [pass('smtp-relay.login', 'connection not tried (--no-smtp-login)')] };
  try {
    return { ...base, items: [asItem('smtp-relay.login', await checkRelay(config, w))] };
  } catch (err) {
    return { ...base, items: [fail('smtp-relay.login', errorText(err), undefined, { code: 'config.invalid' })] };
  }
}

/** recipientCheck: directory: the directory key reads the admin and a group. */
async function withDirectory(config: Config, w: WorkspaceConfig, section: CheckSection): Promise<CheckSection> {
  if (w.recipientCheck !== 'directory') return section;
  let item: CheckItem;
  try {
    item = asItem('directory', await checkDirectory(config, w));
  } catch (err) {
    item = fail('directory', errorText(err), undefined, { code: 'config.invalid' });
  }
  return { ...section, items: [...section.items, item] };
}

/** A postmaster that is not a user: the fix is the postmaster key, not the sender mapping. */
function noticeSenderFix(r: { code?: string | undefined; user: string }, roles: string[], i: number): string | undefined {
  if (r.code !== 'delivery.no_such_user' || !roles.some((x) => x.startsWith('postmaster')) || roles.some((x) => x.startsWith('senders'))) return undefined;
  return `every notice (failure and delay notices, alerts) is sent as ${r.user}: create that user with Gmail, or set workspaces[${i}].postmaster to a real user with Gmail`;
}

async function smtpSection(config: Config, i: number, login: boolean): Promise<CheckSection> {
  const w = config.workspaces[i]!;
  const smtp = w.smtp!;
  const base = { title: `workspace ${w.name}`, summary: `smtp ${smtp.host}:${smtp.port} as ${smtp.user}` };
  if (!login) return { ...base, items: [pass('smtp.login', 'login not tried (--no-smtp-login)')] };
  let password: string;
  let ca: Buffer | undefined;
  try {
    password = readPasswordFile(smtp.appPasswordFile, `workspaces[${i}].smtp.appPasswordFile`);
    ca = smtp.caFile ? readFileSync(smtp.caFile) : undefined;
  } catch (err) {
    return { ...base, items: [fail('smtp.login', errorText(err), undefined, { code: 'config.invalid' })] };
  }
  const t = nodemailer.createTransport({
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure,
    requireTLS: !smtp.secure,
    auth: { user: smtp.user, pass: password },
    tls: { minVersion: 'TLSv1.2', servername: smtp.host, ...(ca ? { ca } : {}) },
    connectionTimeout: 15_000,
  });
  try {
    await t.verify();
    return { ...base, items: [pass('smtp.login', `login as ${smtp.user} accepted`)] };
  } catch (err) {
    const failure = classify(err, { user: smtp.user, transport: 'smtp', passwordFile: smtp.appPasswordFile, host: `${smtp.host}:${smtp.port}` });
    return { ...base, items: [failedWith('smtp.login', failure, { subject: smtp.user })] };
  } finally {
    t.close();
  }
}
