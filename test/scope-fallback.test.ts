/**
 * A practice whose domain-wide delegation lists only https://mail.google.com/ (what many set-up
 * guides say): with the default config (no scopes:), the relay asks for gmail.send, gets
 * unauthorized_client from the fake token endpoint (a broader authorised scope does not cover a
 * narrower request), falls back, delivers, warns once, and `check` says which scope is in use
 * and how to narrow it. A practice with both gets gmail.send; explicit scopes are used as written.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Relay } from '../src/app.js';
import { check } from '../src/cli/check.js';
import { CliExit } from '../src/cli/context.js';
import { parseConfig } from '../src/config/load.js';
import type { ConfigInput } from '../src/config/index.js';
import { GoogleCredentials } from '../src/google/index.js';
import { writeConfigFile } from './support/daemon.js';
import { type GoogleEnv, LogCapture, gmailConfig, removeDir, startGoogle, startTestRelay, tempDir, waitUntil } from './support/harness.js';
import { SmtpClient, message } from './support/smtp-client.js';

const SEND = 'https://www.googleapis.com/auth/gmail.send';
const FULL = 'https://mail.google.com/';

describe('the sending scope, chosen by the relay', () => {
  let dir: string;
  let google: GoogleEnv;
  let relay: Relay | undefined;
  let logs: LogCapture;

  beforeEach(async () => {
    dir = tempDir();
    google = await startGoogle(dir);
  });
  afterEach(async () => {
    await relay?.stop();
    relay = undefined;
    await google.fake.close();
    removeDir(dir);
  });

  /** Authorise these scopes for the client ID and start the relay with the default config (no scopes:). */
  async function start(authorised: string[], doc = gmailConfig(dir, google)): Promise<{ doc: ConfigInput; port: number }> {
    google.fake.authorize(google.sa.clientId, authorised);
    let port: number;
    ({ relay, logs, port } = await startTestRelay(doc));
    return { doc, port };
  }

  /** One message from alice and one from bob; resolves once Gmail has both. */
  async function sendTwo(port: number): Promise<void> {
    const before = google.fake.sent.length;
    for (const [from, to] of [['alice@clinic.example', 'bob@clinic.example'], ['bob@clinic.example', 'alice@clinic.example']] as const) {
      const c = await SmtpClient.open(port);
      expect((await c.send(from, [to], message({ From: from, To: to, Subject: 'x' }))).code).toBe(250);
      await c.quit();
    }
    await waitUntil(() => google.fake.sent.length === before + 2, 10_000, 'both delivered');
  }

  async function runCheck(doc: ConfigInput): Promise<{ lines: string[]; exit?: number }> {
    const file = writeConfigFile(dir, doc);
    const lines: string[] = [];
    const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) };
    try {
      await check({ path: file, source: 'flag', isExample: false }, ['alice@clinic.example', 'bob@clinic.example'], io);
      return { lines };
    } catch (err) {
      if (err instanceof CliExit) return { lines, exit: err.exitCode };
      throw err;
    }
  }

  it('delegation lists only https://mail.google.com/: mail (accepted before any token) is delivered with it; one warning; check names it and how to narrow it', async () => {
    const { doc, port } = await start([FULL]);
    await sendTwo(port);
    expect(google.fake.grants.map((g) => g.scopes)).toEqual([[FULL], [FULL]]);
    // gmail.send was asked for first, and refused
    expect(google.fake.tokenRequests[0]).toMatchObject({ ok: false, error: expect.stringMatching(/^unauthorized_client/) });
    expect(logs.events('delivery.held')).toHaveLength(0);
    const warned = logs.events('scope.fallback');
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ level: 'warn', workspace: 'clinic', clientId: google.sa.clientId, scope: FULL, refused: SEND });
    expect(String(warned[0]!.msg)).toContain(`authorise ${SEND} for client ID ${google.sa.clientId}, then remove ${FULL}`);

    const r = await runCheck(doc);
    expect(r.exit).toBeUndefined();
    expect(r.lines).toContain(`workspace clinic: gmail-api, client ID ${google.sa.clientId} (${google.sa.clientEmail}), scopes automatic (${SEND}, else ${FULL})`);
    expect(r.lines.some((l) => l.startsWith('  ok    alice@clinic.example') && l.includes(`Google issues tokens as alice@clinic.example for ${FULL}`))).toBe(true);
    const scope = r.lines.findIndex((l) => l.includes('scope in use:'));
    expect(r.lines[scope]).toBe(`  warn  scope in use: ${FULL} (the client ID is not authorised for ${SEND}; this scope also lets the key read and delete every mailbox)`);
    expect(r.lines[scope + 1]).toBe(
      `        fix: to narrow it, in Admin console → Security → Access and data control → API controls → Domain-wide delegation authorise ${SEND} for client ID ${google.sa.clientId}, then remove ${FULL} (the relay asks for it again at each reload and every hour)`,
    );
  });

  it('delegation lists both: gmail.send, no fallback, check says it is the narrowest', async () => {
    const { doc, port } = await start([SEND, FULL]);
    await sendTwo(port);
    expect(google.fake.grants.map((g) => g.scopes)).toEqual([[SEND], [SEND]]);
    expect(google.fake.tokenRequests.every((t) => t.ok)).toBe(true);
    expect(logs.events('scope.fallback')).toHaveLength(0);
    const r = await runCheck(doc);
    expect(r.lines).toContain(`  ok    scope in use: ${SEND} (sending only: the narrowest)`);
    expect(r.lines.some((l) => l.includes('to narrow it'))).toBe(false);
  });

  it('explicit scopes are used as written: gmail.send with only https://mail.google.com/ authorised is held, naming gmail.send', async () => {
    const doc = gmailConfig(dir, google);
    doc.workspaces[0] = { ...doc.workspaces[0]!, gmailApi: { serviceAccountKeyFile: google.keyFile, scopes: [SEND] } };
    const { port } = await start([FULL], doc);
    const c = await SmtpClient.open(port);
    expect((await c.send('alice@clinic.example', ['bob@clinic.example'], message({ From: 'alice@clinic.example', To: 'bob@clinic.example' }))).code).toBe(250);
    await c.quit();
    const [held] = await logs.waitFor('delivery.held');
    expect(held).toMatchObject({ code: 'delivery.token.unauthorized_client' });
    expect(String(held!.fix)).toMatch(new RegExp(`^authorise client ID ${google.sa.clientId} for scope ${SEND.replace(/\./g, '\\.')} in`));
    expect(google.fake.tokenRequests.every((t) => !t.ok)).toBe(true);
    expect(google.fake.grants).toHaveLength(0);
    expect(logs.events('scope.fallback')).toHaveLength(0);
  });

  it('neither scope authorised: held with a fix that names gmail.send and mentions the other; once authorised, delivered', async () => {
    const { port } = await start([]);
    const c = await SmtpClient.open(port);
    expect((await c.send('alice@clinic.example', ['bob@clinic.example'], message({ From: 'alice@clinic.example', To: 'bob@clinic.example' }))).code).toBe(250);
    await c.quit();
    const [held] = await logs.waitFor('delivery.held');
    expect(held).toMatchObject({ code: 'delivery.token.no_send_scope' });
    expect(String(held!.fix)).toMatch(/^authorise client ID \d+ for scope https:\/\/www\.googleapis\.com\/auth\/gmail\.send in .*https:\/\/mail\.google\.com\/, which many set-up guides name/);
    // the admin follows the common guide: the next held retry falls back and delivers
    google.fake.authorize(google.sa.clientId, [FULL]);
    await waitUntil(() => google.fake.sent.length === 1, 10_000, 'delivered after authorising');
    expect(google.fake.grants.at(-1)!.scopes).toEqual([FULL]);
  });

  it('a reload asks again: after the admin narrows the delegation, the next token is gmail.send', async () => {
    google.fake.authorize(google.sa.clientId, [FULL]);
    const doc = gmailConfig(dir, google);
    let port: number;
    ({ relay, logs, port } = await startTestRelay(doc));
    await sendTwo(port);
    await waitUntil(() => google.fake.sent.length === 2, 10_000, 'delivered');
    google.fake.authorize(google.sa.clientId, [SEND]);
    await relay.reload(parseConfig(doc));
    await sendTwo(port);
    await waitUntil(() => google.fake.sent.length === 4, 10_000, 'delivered after reload');
    expect(google.fake.grants.slice(-2).map((g) => g.scopes)).toEqual([[SEND], [SEND]]);
  });
});

describe('the scope ladder over time (one workspace’s credentials)', () => {
  let dir: string;
  let google: GoogleEnv;
  beforeEach(async () => {
    dir = tempDir();
    google = await startGoogle(dir);
  });
  afterEach(async () => {
    await google.fake.close();
    removeDir(dir);
  });

  it('after an hour on the fallback it asks for gmail.send again (once), and narrows when the admin has', async () => {
    google.fake.authorize(google.sa.clientId, [FULL]);
    let t = Date.now();
    const logs = new LogCapture();
    const creds = new GoogleCredentials({ key: google.sa.json as never, scopes: undefined, tokenUrl: google.fake.tokenUrl, now: () => t, logger: logs.logger });
    const token = async (user: string) => {
      creds.forget(user);
      await creds.fetchToken(user);
    };
    await token('alice@clinic.example');
    await token('bob@clinic.example'); // remembered: no second refusal
    expect(google.fake.tokenRequests.map((r) => r.ok)).toEqual([false, true, true]);
    expect(creds.scopeState()).toMatchObject({ automatic: true, known: true, fellBack: true, inUse: [FULL] });
    t += 30 * 60_000;
    await token('alice@clinic.example');
    expect(google.fake.tokenRequests.map((r) => r.ok)).toEqual([false, true, true, true]);
    t += 31 * 60_000;
    await token('alice@clinic.example'); // the recheck: refused again, still the fallback, no second warning
    expect(google.fake.tokenRequests.map((r) => r.ok)).toEqual([false, true, true, true, false, true]);
    expect(logs.events('scope.fallback')).toHaveLength(1);
    google.fake.authorize(google.sa.clientId, [SEND]);
    t += 61 * 60_000;
    await token('bob@clinic.example');
    expect(creds.scopeState()).toMatchObject({ fellBack: false, inUse: [SEND] });
    expect(google.fake.grants.at(-1)).toMatchObject({ sub: 'bob@clinic.example', scopes: [SEND] });
    expect(logs.events('scope.narrowed')).toHaveLength(1);
  });

  it('parses a gmailApi section without scopes as automatic, with scopes as written', () => {
    const base = { listen: [{ port: 0 }], queue: { dir: '/tmp/x' } };
    const ws = (gmailApi: object) => ({ name: 'c', domains: ['clinic.example'], transport: 'gmail-api' as const, gmailApi });
    expect(parseConfig({ ...base, workspaces: [ws({ serviceAccountKeyFile: 'k' })] }).workspaces[0]!.gmailApi!.scopes).toBeUndefined();
    expect(parseConfig({ ...base, workspaces: [ws({ serviceAccountKeyFile: 'k', scopes: [FULL] })] }).workspaces[0]!.gmailApi!.scopes).toEqual([FULL]);
  });
});
