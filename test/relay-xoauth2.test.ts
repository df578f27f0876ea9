/**
 * transport: gmail-xoauth2. SMTP to a fake smtp.gmail.com that verifies each XOAUTH2 token
 * against the fake token endpoint (right user, https://mail.google.com/, not expired), logged in
 * as each sending user with a token from the workspace's service account.
 */
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import nodemailer from 'nodemailer';
import type { Relay } from '../src/app.js';
import { check } from '../src/cli/check.js';
import type { ConfigInput } from '../src/config/index.js';
import { GoogleCredentials } from '../src/google/index.js';
import { createTestServiceAccount } from './support/fake-google.js';
import { FakeGmailSmtp } from './support/fake-google-smtp.js';
import { writeConfigFile } from './support/daemon.js';
import { type GoogleEnv, LogCapture, gmailConfig, removeDir, startGoogle, startTestRelay, tempDir, waitUntil } from './support/harness.js';
import { SmtpClient, message } from './support/smtp-client.js';

const FULL = 'https://mail.google.com/';
const SEND = 'https://www.googleapis.com/auth/gmail.send';

describe('relay through Gmail SMTP with XOAUTH2', () => {
  let dir: string;
  let google: GoogleEnv;
  let gmail: FakeGmailSmtp;
  let relay: Relay | undefined;
  let logs: LogCapture;

  beforeEach(async () => {
    dir = tempDir();
    google = await startGoogle(dir);
    google.fake.authorize(google.sa.clientId, [FULL]);
  });
  afterEach(async () => {
    await relay?.stop();
    relay = undefined;
    await gmail?.close();
    await google.fake.close();
    removeDir(dir);
  });

  /** The harness's one-workspace config, sending through the fake smtp.gmail.com. */
  function config(secure: boolean): ConfigInput {
    const doc = gmailConfig(dir, google);
    const { gmailApi: _, ...ws } = doc.workspaces[0]!;
    doc.workspaces[0] = { ...ws, transport: 'gmail-xoauth2', gmailXoauth2: { serviceAccountKeyFile: google.keyFile, host: '127.0.0.1', port: gmail.port, secure, caFile: gmail.ca } };
    doc.queue = { ...doc.queue, rateLimitBackoff: '200ms' };
    return doc;
  }

  async function start(secure = true): Promise<number> {
    gmail = await FakeGmailSmtp.start(google.fake, dir, { secure });
    let port: number;
    ({ relay, logs, port } = await startTestRelay(config(secure)));
    return port;
  }

  const send = async (port: number, from: string, to: string[], headers: Record<string, string>) => {
    const c = await SmtpClient.open(port);
    const r = await c.send(from, to, message({ From: from, ...headers }));
    await c.quit();
    return r;
  };

  it('465: logs in as each sending user with its own token (https://mail.google.com/); the envelope is honoured, no Bcc header goes out', async () => {
    const port = await start(true);
    expect((await send(port, 'alice@clinic.example', ['bob@clinic.example', 'scans@clinic.example'], { To: 'bob@clinic.example', Subject: 'x' })).code).toBe(250);
    expect((await send(port, 'bob@clinic.example', ['alice@clinic.example'], { To: 'alice@clinic.example', Bcc: 'scans@clinic.example', Subject: 'y' })).code).toBe(250);
    await waitUntil(() => gmail.received.length === 2, 10_000, 'both delivered');
    const byUser = new Map(gmail.received.map((m) => [m.user, m]));
    expect(byUser.get('alice@clinic.example')).toMatchObject({ from: 'alice@clinic.example', to: ['bob@clinic.example', 'scans@clinic.example'], secure: true });
    // the envelope decides: a Bcc header the client did not put in the envelope reaches nobody
    expect(byUser.get('bob@clinic.example')).toMatchObject({ from: 'bob@clinic.example', to: ['alice@clinic.example'], secure: true });
    for (const m of gmail.received) expect(m.raw.toString('latin1')).not.toMatch(/^Bcc:/im);
    expect(google.fake.grants.map((g) => [g.sub, g.scopes])).toEqual(
      expect.arrayContaining([['alice@clinic.example', [FULL]], ['bob@clinic.example', [FULL]]]),
    );
    expect(gmail.refusedLogins).toEqual([]);
    const ok = await logs.waitFor('delivery.ok', 2);
    expect(ok.map((l) => l.transport)).toEqual(['gmail-xoauth2', 'gmail-xoauth2']);
    expect(String(ok[0]!.providerId)).toMatch(/^[a-z0-9]+$/);
  });

  it('587: STARTTLS, required', async () => {
    const port = await start(false);
    expect((await send(port, 'alice@clinic.example', ['bob@clinic.example'], { To: 'bob@clinic.example' })).code).toBe(250);
    await waitUntil(() => gmail.received.length === 1, 10_000, 'delivered');
    expect(gmail.received[0]).toMatchObject({ user: 'alice@clinic.example', secure: true });
  });

  it('a token Gmail does not take: a new one, then delivered once', async () => {
    const port = await start();
    gmail.refuseLogins = 1;
    expect((await send(port, 'alice@clinic.example', ['bob@clinic.example'], { To: 'bob@clinic.example' })).code).toBe(250);
    await waitUntil(() => gmail.received.length === 1, 10_000, 'delivered');
    expect(gmail.refusedLogins).toEqual([{ user: 'alice@clinic.example', why: 'refused (scripted)' }]);
    expect(google.fake.grants.filter((g) => g.sub === 'alice@clinic.example')).toHaveLength(2);
    expect(logs.events('delivery.deferred')).toHaveLength(0);
  });

  it('Gmail refuses even the new token: held as delivery.xoauth2.refused, with the fix', async () => {
    const port = await start();
    gmail.refuseLogins = 100;
    expect((await send(port, 'alice@clinic.example', ['bob@clinic.example'], { To: 'bob@clinic.example' })).code).toBe(250);
    const [held] = await logs.waitFor('delivery.held');
    expect(held).toMatchObject({ code: 'delivery.xoauth2.refused', kind: 'held' });
    expect(String(held!.fix)).toContain(`authorise client ID ${google.sa.clientId} for scope ${FULL}`);
    expect(gmail.received).toHaveLength(0);
  });

  it('a revoked delegation holds the mail (naming the scope Gmail SMTP needs); authorised again, it is delivered', async () => {
    google.fake.revoke(google.sa.clientId);
    const port = await start();
    expect((await send(port, 'alice@clinic.example', ['bob@clinic.example'], { To: 'bob@clinic.example' })).code).toBe(250);
    const [held] = await logs.waitFor('delivery.held');
    expect(held).toMatchObject({ code: 'delivery.token.unauthorized_client' });
    expect(String(held!.fix)).toMatch(new RegExp(`^authorise client ID ${google.sa.clientId} for scope https://mail\\.google\\.com/ in Admin console`));
    expect(gmail.received).toHaveLength(0);
    google.fake.authorize(google.sa.clientId, [FULL]);
    await waitUntil(() => gmail.received.length === 1, 10_000, 'delivered after authorising');
  });

  it('4xx is temporary (retried), 5xx about the message is permanent (dead/), and the sender gets the failure notice through Gmail SMTP as the postmaster', async () => {
    google.fake.addUser('postmaster@clinic.example');
    const port = await start();
    gmail.dataAnswers.push({ code: 451, text: '4.3.0 Mail server temporarily rejected message.' });
    expect((await send(port, 'alice@clinic.example', ['bob@clinic.example'], { To: 'bob@clinic.example' })).code).toBe(250);
    await waitUntil(() => gmail.received.length === 1, 10_000, 'delivered after the 451');
    expect(logs.events('delivery.deferred')[0]).toMatchObject({ code: 'delivery.smtp.temporary' });
    gmail.dataAnswers.push({ code: 552, text: '5.3.4 Your message exceeded Google\'s message size limits.' });
    expect((await send(port, 'bob@clinic.example', ['alice@clinic.example'], { To: 'alice@clinic.example' })).code).toBe(250);
    const [failed] = await logs.waitFor('delivery.failed');
    expect(failed).toMatchObject({ code: 'delivery.message_too_large', kind: 'permanent' });
    // the notice: XOAUTH2 as the postmaster (a token of its own), to the sender, with the 5.3.4
    await waitUntil(() => gmail.received.some((m) => m.user === 'postmaster@clinic.example'), 10_000, 'failure notice');
    const dsn = gmail.received.find((m) => m.user === 'postmaster@clinic.example')!;
    expect(dsn).toMatchObject({ from: 'postmaster@clinic.example', to: ['bob@clinic.example'] });
    expect(dsn.raw.toString('latin1')).toMatch(/^X-Workspace-Relay-Notice: failure;/m);
    expect(dsn.raw.toString('latin1')).toMatch(/^Status: 5\.3\.4\r$/m);
    expect(google.fake.grants.some((g) => g.sub === 'postmaster@clinic.example' && g.scopes.join(' ') === FULL)).toBe(true);
  });

  it('check: a token as each user, then the XOAUTH2 login', async () => {
    gmail = await FakeGmailSmtp.start(google.fake, dir, { secure: true });
    const file = writeConfigFile(dir, config(true));
    const lines: string[] = [];
    await check({ path: file, source: 'flag', isExample: false }, ['alice@clinic.example'], { out: (l) => lines.push(l), err: (l) => lines.push(l) });
    expect(lines).toContain(`workspace clinic: gmail-xoauth2 → 127.0.0.1:${gmail.port}, client ID ${google.sa.clientId} (${google.sa.clientEmail}), scopes ${FULL}`);
    expect(lines).toContain(`  ok    alice@clinic.example: Google issues tokens as alice@clinic.example for ${FULL}`);
    expect(lines).toContain(`  ok    alice@clinic.example: XOAUTH2 login to 127.0.0.1:${gmail.port} accepted`);
    expect(lines.at(-1)).toBe('all checks passed');
  });
});

describe('the fake smtp.gmail.com refuses tokens Gmail would refuse', () => {
  let dir: string;
  let google: GoogleEnv;
  let gmail: FakeGmailSmtp;
  beforeEach(async () => {
    dir = tempDir();
    google = await startGoogle(dir);
    gmail = await FakeGmailSmtp.start(google.fake, dir, { secure: true });
  });
  afterEach(async () => {
    await gmail.close();
    await google.fake.close();
    removeDir(dir);
  });

  /** A token from the fake token endpoint for `sub` with `scopes` (another service account's). */
  async function tokenFor(sub: string, scopes: string[]): Promise<string> {
    const sa = createTestServiceAccount(`t${Math.random().toString(36).slice(2, 8)}`);
    google.fake.addServiceAccount(sa);
    google.fake.authorize(sa.clientId, scopes);
    const creds = new GoogleCredentials({ key: sa.json as never, scopes, tokenUrl: google.fake.tokenUrl });
    return (await creds.clientFor(sub).getAccessToken()).token!;
  }
  const login = async (user: string, accessToken: string) => {
    const t = nodemailer.createTransport({ host: '127.0.0.1', port: gmail.port, secure: true, tls: { ca: readFileSync(gmail.ca) }, auth: { type: 'OAuth2', user, accessToken } });
    try {
      await t.verify();
      return 'accepted';
    } catch (err) {
      return String((err as { response?: string }).response);
    } finally {
      t.close();
    }
  };

  it('right user, right scope, not expired: accepted; otherwise 535', async () => {
    const good = await tokenFor('alice@clinic.example', [FULL]);
    expect(await login('alice@clinic.example', good)).toBe('accepted');
    expect(await login('bob@clinic.example', good)).toMatch(/^535/);
    expect(await login('alice@clinic.example', await tokenFor('alice@clinic.example', [SEND]))).toMatch(/^535/);
    google.fake.expireAllTokens();
    expect(await login('alice@clinic.example', good)).toMatch(/^535/);
    // (nodemailer tries a refused static token once more)
    expect([...new Set(gmail.refusedLogins.map((r) => r.why))]).toEqual(['a token of alice@clinic.example', `scopes ${SEND}`, 'unknown or expired token']);
  });
});
