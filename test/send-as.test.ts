import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GMAIL_SEND_SCOPE } from '../src/config/index.js';
import { ConfigError, DeliveryError } from '../src/errors.js';
import { GMAIL_SETTINGS_BASIC_SCOPE, GoogleCredentials, createSendAsVerifier, loadServiceAccountKey, type ServiceAccountKey } from '../src/google/index.js';
import { decideFrom } from '../src/policy/index.js';
import { parseConfig } from '../src/config/index.js';
import { FakeGoogle, createTestServiceAccount, gmailError } from './support/fake-google.js';

const USER = 'scans@clinic.example';
const listRequests = (fake: FakeGoogle) => fake.requests.filter((r) => r.url.pathname.endsWith('/settings/sendAs')).length;

describe('send-as verifier', () => {
  let fake: FakeGoogle;
  let key: ServiceAccountKey;
  const sa = createTestServiceAccount('sendas');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wr-sendas-'));
  let clock = 1_000_000;
  const now = () => clock;
  const credentials = (scopes = [GMAIL_SETTINGS_BASIC_SCOPE]) => new GoogleCredentials({ key, scopes, tokenUrl: fake.tokenUrl });
  const verifier = (extra: { scopes?: string[]; timeoutMs?: number } = {}) =>
    createSendAsVerifier({ credentials: credentials(extra.scopes), apiRootUrl: fake.apiRootUrl, now, ...(extra.timeoutMs ? { timeoutMs: extra.timeoutMs } : {}) });

  beforeAll(async () => {
    fake = await FakeGoogle.start();
    fake.addServiceAccount(sa);
    fake.addUser(USER, 'other@clinic.example');
    key = loadServiceAccountKey(sa.writeKeyFile(dir), 'gmailApi.serviceAccountKeyFile');
  });
  afterAll(() => fake.close());
  beforeEach(() => {
    fake.authorize(sa.clientId, [GMAIL_SEND_SCOPE, GMAIL_SETTINGS_BASIC_SCOPE]);
    fake.setSendAs(USER, ['Front@Clinic.Example', { email: 'pending@clinic.example', verificationStatus: 'pending' }]);
    fake.setSendAs('other@clinic.example', []);
  });

  it('lists the primary address and verified aliases only, lowercase, asking with gmail.settings.basic alone', async () => {
    const v = verifier();
    expect([...(await v.aliases('Scans@Clinic.Example'))].sort()).toEqual(['front@clinic.example', 'scans@clinic.example']);
    expect(fake.grants.at(-1)).toMatchObject({ sub: USER, scopes: [GMAIL_SETTINGS_BASIC_SCOPE] });
    expect([...(await v.aliases('other@clinic.example'))]).toEqual(['other@clinic.example']);
  });

  it('caches per user for the TTL (1 h by default), shares concurrent lookups, and asks again after it', async () => {
    const v = verifier();
    const before = listRequests(fake);
    await Promise.all([v.aliases(USER), v.aliases(USER), v.aliases(USER)]);
    expect(listRequests(fake) - before).toBe(1);
    fake.setSendAs(USER, ['front@clinic.example', 'new@clinic.example']);
    clock += 59 * 60 * 1000;
    expect((await v.aliases(USER)).has('new@clinic.example')).toBe(false);
    expect(listRequests(fake) - before).toBe(1);
    clock += 2 * 60 * 1000;
    expect((await v.aliases(USER)).has('new@clinic.example')).toBe(true);
    expect(listRequests(fake) - before).toBe(2);
    v.forget(USER);
    await v.aliases(USER);
    expect(listRequests(fake) - before).toBe(3);
  });

  it('refuses at creation credentials without a scope that may list send-as addresses, naming the scope', () => {
    let err: unknown;
    try {
      verifier({ scopes: [GMAIL_SEND_SCOPE] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain(GMAIL_SETTINGS_BASIC_SCOPE);
    expect((err as Error).message).toContain(sa.clientId);
  });

  it('a scope not authorised for delegation is held, and the fix names the client ID and scope', async () => {
    fake.authorize(sa.clientId, [GMAIL_SEND_SCOPE]);
    const v = verifier();
    const err = await v.aliases(USER).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(DeliveryError);
    expect(err).toMatchObject({ kind: 'held', code: 'delivery.token.unauthorized_client' });
    expect((err as DeliveryError).fix).toContain(GMAIL_SETTINGS_BASIC_SCOPE);
    expect((err as DeliveryError).fix).toContain(sa.clientId);
  });

  it('a token Gmail finds too narrow (403 insufficient scopes) is held with the sendAs fix', async () => {
    // Twice: google-auth-library fetches a new token after a 403 and asks once more.
    const narrow = gmailError(403, 'Request had insufficient authentication scopes.', 'PERMISSION_DENIED', 'insufficientPermissions');
    fake.failNext(narrow, /settings\/sendAs$/);
    fake.failNext(narrow, /settings\/sendAs$/);
    const err = await verifier().aliases(USER).then(() => null, (e: unknown) => e);
    expect(err).toMatchObject({ kind: 'held', code: 'sendas.insufficient_scope' });
    expect((err as DeliveryError).fix).toMatch(/gmail\.settings\.basic.*verifySendAs/);
  });

  it('also works with the broader scopes Google accepts for sendAs.list (https://mail.google.com/)', async () => {
    fake.authorize(sa.clientId, ['https://mail.google.com/']);
    const v = verifier({ scopes: ['https://mail.google.com/'] });
    expect((await v.aliases(USER)).has('front@clinic.example')).toBe(true);
  });

  it('Google down: temporary, cached briefly (no request per message), unknown to aliasesOrUnknown, then recovers', async () => {
    const v = verifier();
    const before = listRequests(fake);
    fake.failNext({ status: 503, body: { error: { code: 503, message: 'backend error', status: 'UNAVAILABLE' } } }, /settings\/sendAs$/);
    const err = await v.aliases(USER).then(() => null, (e: unknown) => e);
    expect(err).toMatchObject({ kind: 'temporary' });
    expect(await v.aliasesOrUnknown(USER)).toBeUndefined();
    expect(listRequests(fake) - before).toBe(1);
    clock += 61 * 1000;
    expect((await v.aliasesOrUnknown(USER))?.has('front@clinic.example')).toBe(true);
    expect(listRequests(fake) - before).toBe(2);
  });

  it('gives up after timeoutMs (a client waits at DATA) and reports unknown', async () => {
    const slow = await FakeGoogle.start();
    try {
      slow.addServiceAccount(sa);
      slow.addUser(USER);
      slow.authorize(sa.clientId, [GMAIL_SETTINGS_BASIC_SCOPE]);
      slow.route('GET', /settings\/sendAs$/, () => new Promise(() => undefined));
      const v = createSendAsVerifier({
        credentials: new GoogleCredentials({ key, scopes: [GMAIL_SETTINGS_BASIC_SCOPE], tokenUrl: slow.tokenUrl }),
        apiRootUrl: slow.apiRootUrl,
        timeoutMs: 300,
        now,
      });
      const started = Date.now();
      const err = await v.aliases(USER).then(() => null, (e: unknown) => e);
      expect(err).toMatchObject({ kind: 'temporary' });
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await slow.close();
    }
  });

  it('feeds decideFrom: a verified alias passes unchanged, a pending one is refused under reject', async () => {
    const ws = parseConfig({
      queue: { dir: '/tmp/unused' },
      workspaces: [{ name: 'clinic', domains: ['clinic.example'], transport: 'outbox', outbox: { dir: '/tmp/unused-outbox' } }],
    }).workspaces[0]!;
    const v = verifier();
    const sendAsAliases = await v.aliasesOrUnknown(USER);
    const base = { workspace: ws, sender: USER, fromPolicy: 'reject' as const, mayUse: () => true, sendAsAliases };
    expect(decideFrom({ ...base, from: 'front@clinic.example' })).toMatchObject({ ok: true, outcome: 'alias', sendAs: USER });
    expect(decideFrom({ ...base, from: 'pending@clinic.example' })).toMatchObject({ ok: false });
  });
});
