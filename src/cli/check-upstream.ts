/**
 * `check`'s logins to the new SMTP upstreams and its question to the Directory API (wired in
 * check-users.ts): Gmail SMTP with XOAUTH2 as a user, Google's SMTP relay service (connect, TLS and
 * SMTP AUTH when configured: whether it relays for this IP address shows only when mail is sent),
 * and the directory key of a workspace with recipientCheck: directory. Each result is one
 * DelegationCheck line, a failure classified with its fix. No mail is sent.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import nodemailer from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import { readPasswordFile, type Config, type WorkspaceConfig } from '../config/index.js';
import { classify, type ClassifyContext } from '../failures/index.js';
import { GoogleCredentials, createDirectoryClient, loadServiceAccountKey, type DelegationCheck } from '../google/index.js';

interface Upstream {
  host: string;
  port: number;
  secure: boolean;
  caFile?: string | undefined;
  name?: string | undefined;
}

/** Log in (or just connect, TLS included): `said` when it worked, the classified failure when not. */
async function tryLogin(up: Upstream, auth: SMTPTransport.Options['auth'], who: string, said: string, ctx: ClassifyContext): Promise<DelegationCheck> {
  const t = nodemailer.createTransport({
    host: up.host,
    port: up.port,
    secure: up.secure,
    requireTLS: !up.secure,
    ...(auth ? { auth } : {}),
    ...(up.name ? { name: up.name } : {}),
    tls: { minVersion: 'TLSv1.2', ...(isIP(up.host) ? {} : { servername: up.host }), ...(up.caFile ? { ca: readFileSync(up.caFile) } : {}) },
    connectionTimeout: 15_000,
  });
  try {
    await t.verify();
    return { user: who, ok: true, message: said };
  } catch (err) {
    const failure = classify(err, ctx);
    return { user: who, ok: false, code: failure.code, message: failure.summary, ...(failure.fix ? { fix: failure.fix } : {}) };
  } finally {
    t.close();
  }
}

/** Google's SMTP relay service: connect with TLS, and log in when SMTP AUTH is configured. */
export async function checkRelay(config: Config, w: WorkspaceConfig): Promise<DelegationCheck> {
  const r = w.smtpRelay!;
  const i = config.workspaces.indexOf(w);
  const pass = r.user && r.passwordFile ? readPasswordFile(r.passwordFile, `workspaces[${i}].smtpRelay.passwordFile`) : undefined;
  const ctx: ClassifyContext = { transport: 'smtp-relay', ...(r.user ? { user: r.user } : {}), ...(r.passwordFile ? { passwordFile: r.passwordFile } : {}) };
  const said = r.user ? `login as ${r.user} accepted` : `connected to ${r.host}:${r.port} with TLS (whether the service relays for this IP address shows when mail is sent)`;
  return tryLogin({ ...r, name: r.heloName }, r.user && pass !== undefined ? { user: r.user, pass } : undefined, r.user ?? r.host, said, ctx);
}

/** Gmail SMTP with XOAUTH2: the login as `user` with a token from `credentials`. */
export async function checkXoauth2Login(w: WorkspaceConfig, credentials: GoogleCredentials, user: string): Promise<DelegationCheck> {
  const x = w.gmailXoauth2!;
  const { token } = await credentials.clientFor(user).getAccessToken();
  const ctx: ClassifyContext = { transport: 'gmail-xoauth2', user, clientId: credentials.clientId, scopes: credentials.scopes };
  return tryLogin(x, { type: 'OAuth2', user, accessToken: token ?? '' }, user, `XOAUTH2 login to ${x.host}:${x.port} accepted`, ctx);
}

/** recipientCheck: directory: read the admin user, and a group, with the directory key. */
export async function checkDirectory(config: Config, w: WorkspaceConfig): Promise<DelegationCheck> {
  const d = w.directory!;
  const i = config.workspaces.indexOf(w);
  const key = loadServiceAccountKey(d.serviceAccountKeyFile, `workspaces[${i}].directory.serviceAccountKeyFile`);
  const credentials = new GoogleCredentials({ key, scopes: d.scopes, tokenUrl: config.google.tokenUrl });
  const client = createDirectoryClient({ credentials, adminUser: d.adminUser, rootUrl: config.google.directoryRootUrl, customer: d.customer });
  const as = `recipient check (Directory API, client ID ${credentials.clientId})`;
  try {
    // The admin itself (users.get), then an address that is nobody's (users.get and groups.get: 404 both).
    const admin = await client.lookup(d.adminUser);
    await client.lookup(`no-such-address-${randomBytes(6).toString('hex')}@${w.domains[0]}`);
    if (admin !== 'user') return { user: d.adminUser, ok: false, message: `${as}: the Directory does not know ${d.adminUser}`, fix: 'set directory.adminUser to an admin of the workspace' };
    return { user: d.adminUser, ok: true, message: `${as}: users and groups readable` };
  } catch (err) {
    const failure = classify(err, { purpose: 'directory', user: d.adminUser, clientId: credentials.clientId, scopes: d.scopes });
    return { user: d.adminUser, ok: false, code: failure.code, message: `${as}: ${failure.summary}`, ...(failure.fix ? { fix: failure.fix } : {}) };
  }
}
