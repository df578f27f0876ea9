import { mkdtempSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GoogleCredentials, loadServiceAccountKey } from '../src/google/index.js';
import { GMAIL_SEND_SCOPE } from '../src/config/index.js';
import { FakeGoogle, createTestServiceAccount } from './support/fake-google.js';

describe('google credentials', () => {
  let fake: FakeGoogle;
  const sa = createTestServiceAccount();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wr-cred-'));
  beforeAll(async () => {
    fake = await FakeGoogle.start();
    fake.addServiceAccount(sa);
    fake.addUser('alice@clinic.example');
  });
  afterAll(() => fake.close());

  it('gets a token as the impersonated user with the configured scope, once per user', async () => {
    fake.authorize(sa.clientId, [GMAIL_SEND_SCOPE]);
    const key = loadServiceAccountKey(sa.writeKeyFile(dir), 'gmailApi.serviceAccountKeyFile');
    const creds = new GoogleCredentials({ key, scopes: [GMAIL_SEND_SCOPE], tokenUrl: fake.tokenUrl });
    await creds.clientFor('Alice@clinic.example').getAccessToken();
    await creds.clientFor('alice@clinic.example').getAccessToken();
    expect(fake.grants).toHaveLength(1);
    expect(fake.grants[0]).toMatchObject({ sub: 'alice@clinic.example', scopes: [GMAIL_SEND_SCOPE], iss: sa.clientEmail });
  });

  it('surfaces unauthorized_client when the scope is not authorised', async () => {
    fake.authorize(sa.clientId, [GMAIL_SEND_SCOPE]);
    const key = loadServiceAccountKey(sa.writeKeyFile(dir), 'k');
    const creds = new GoogleCredentials({ key, scopes: ['https://mail.google.com/'], tokenUrl: fake.tokenUrl });
    await expect(creds.fetchToken('alice@clinic.example')).rejects.toThrow(/unauthorized_client/);
  });

  it('refuses a key file that others can read, naming the key and the fix', () => {
    const file = sa.writeKeyFile(dir, 'open.json');
    chmodSync(file, 0o644);
    expect(() => loadServiceAccountKey(file, 'workspaces[0].gmailApi.serviceAccountKeyFile')).toThrow(
      /workspaces\[0\]\.gmailApi\.serviceAccountKeyFile: .*chmod 600/,
    );
  });
});
