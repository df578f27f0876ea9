import { mkdtempSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GMAIL_SEND_SCOPE } from '../src/config/index.js';
import { DELEGATION_PAGE } from '../src/failures/index.js';
import { GoogleCredentials, loadServiceAccountKey } from '../src/google/index.js';
import { diagnoseDelegation } from '../src/google/diagnose.js';
import { FakeGoogle, createTestServiceAccount } from './support/fake-google.js';

const sa = createTestServiceAccount();
const dir = mkdtempSync(path.join(os.tmpdir(), 'wr-diag-'));
let fake: FakeGoogle;
let credentials: GoogleCredentials;

describe('diagnoseDelegation', () => {
  beforeAll(async () => {
    fake = await FakeGoogle.start();
    fake.addServiceAccount(sa);
    fake.addUser('front@clinic.example', 'doc@clinic.example');
    const key = loadServiceAccountKey(sa.writeKeyFile(dir), 'gmailApi.serviceAccountKeyFile');
    credentials = new GoogleCredentials({ key, scopes: [GMAIL_SEND_SCOPE], tokenUrl: fake.tokenUrl });
  });
  afterAll(() => fake.close());
  beforeEach(() => {
    fake.authorize(sa.clientId, [GMAIL_SEND_SCOPE]);
    fake.clockOffsetMs = 0;
  });

  it('reports ok for authorised users, asking Google for a token as each', async () => {
    const before = fake.grants.length;
    const lines = await diagnoseDelegation(credentials, ['front@clinic.example', 'doc@clinic.example']);
    expect(lines.map((l) => [l.user, l.ok])).toEqual([
      ['front@clinic.example', true],
      ['doc@clinic.example', true],
    ]);
    expect(fake.grants.slice(before).map((g) => g.sub)).toEqual(['front@clinic.example', 'doc@clinic.example']);
  });

  it('asks afresh: a token cached from before does not hide a revoked delegation', async () => {
    await credentials.clientFor('front@clinic.example').getAccessToken();
    fake.revoke(sa.clientId);
    const [line] = await diagnoseDelegation(credentials, ['front@clinic.example']);
    expect(line).toMatchObject({ ok: false, code: 'delivery.token.unauthorized_client' });
  });

  it('names the client ID, the scope and where to authorise them when delegation is missing', async () => {
    fake.authorize(sa.clientId, ['https://www.googleapis.com/auth/gmail.readonly']);
    const [line] = await diagnoseDelegation(credentials, ['front@clinic.example']);
    expect(line).toMatchObject({ user: 'front@clinic.example', ok: false, code: 'delivery.token.unauthorized_client' });
    expect(line!.message).toBe(`client ID ${sa.clientId} is not authorised for ${GMAIL_SEND_SCOPE} (unauthorized_client)`);
    expect(line!.fix).toContain(`authorise client ID ${sa.clientId} for scope ${GMAIL_SEND_SCOPE} in ${DELEGATION_PAGE}`);
  });

  it('says which user does not exist', async () => {
    const lines = await diagnoseDelegation(credentials, ['front@clinic.example', 'x@clinic.example']);
    expect(lines[0]!.ok).toBe(true);
    expect(lines[1]).toMatchObject({ user: 'x@clinic.example', ok: false, code: 'delivery.no_such_user', message: 'no such user x@clinic.example in the Workspace' });
  });

  it('measures how far the clock is off from the Date of Google\'s answer', async () => {
    fake.clockOffsetMs = -10 * 60_000; // Google is 10 min behind us: our JWT looks issued in the future
    const [ahead] = await diagnoseDelegation(credentials, ['front@clinic.example']);
    expect(ahead).toMatchObject({ ok: false, code: 'delivery.clock_skew' });
    const s = Number(/the clock is (\d+) s ahead of Google's/.exec(ahead!.message)?.[1]);
    expect(s).toBeGreaterThanOrEqual(598);
    expect(s).toBeLessThanOrEqual(602);
    expect(ahead!.fix).toMatch(/NTP/);

    fake.clockOffsetMs = 2 * 3600_000; // Google is 2 h ahead: our JWT has already expired
    const [behind] = await diagnoseDelegation(credentials, ['front@clinic.example']);
    const b = Number(/the clock is (\d+) s behind Google's/.exec(behind!.message)?.[1]);
    expect(b).toBeGreaterThanOrEqual(7198);
    expect(b).toBeLessThanOrEqual(7202);
  });

  it('says to check the system clock when Google complains about time but the clocks agree', async () => {
    fake.failNextToken({
      status: 400,
      body: { error: 'invalid_grant', error_description: 'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.' },
    });
    const [line] = await diagnoseDelegation(credentials, ['front@clinic.example']);
    expect(line).toMatchObject({ ok: false, code: 'delivery.clock_skew' });
    expect(line!.message).toMatch(/check the system clock \(NTP\)/);
  });

  it('reports an unreachable token endpoint as such', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((r) => closed.close(() => r()));
    const unreachable = new GoogleCredentials({ key: credentials.key, scopes: [GMAIL_SEND_SCOPE], tokenUrl: `http://127.0.0.1:${port}/token` });
    const [line] = await diagnoseDelegation(unreachable, ['front@clinic.example']);
    expect(line).toMatchObject({ ok: false, code: 'delivery.network.refused' });
    expect(line!.message).toBe("cannot reach Google's token endpoint (ECONNREFUSED)");
    expect(line!.fix).toContain(`allow outgoing TCP to 127.0.0.1:${port} in the firewall`);
  });
});
