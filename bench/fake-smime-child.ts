/**
 * Child process: the test suite's fake Google with its S/MIME routes (test/support/fake-smime.ts)
 * for the S/MIME benchmark, in a process of its own so its work (JWT checks, opening each
 * uploaded .p12) is not the command's. Every Gmail call and token request is answered after
 * `latencyMs`. argv[2]: JSON { dir, users, latencyMs, caCertPem, seed }: `seed` gives every user
 * a default certificate, and every tenth user a second send-as alias with one (the report's work).
 */
import forge from 'node-forge';
import { serveParent } from './children.js';
import { FakeGoogle, createTestServiceAccount } from '../test/support/fake-google.js';
import { FakeSmime, SETTINGS_BASIC, SETTINGS_SHARING } from '../test/support/fake-smime.js';

const o = JSON.parse(process.argv[2] ?? '{}') as { dir: string; users: string[]; latencyMs: number; caCertPem: string; seed: boolean };
const google = await FakeGoogle.start();
const smime = FakeSmime.install(google);
const sa = createTestServiceAccount('smime-bench');
google.addServiceAccount(sa);
google.authorize(sa.clientId, [SETTINGS_BASIC, SETTINGS_SHARING]);
const ca = forge.pki.certificateFromPem(o.caCertPem);
smime.trust({ name: 'bench CA', cert: ca, key: undefined as unknown as forge.pki.rsa.PrivateKey });
google.tokenLatencyMs = o.latencyMs;
smime.latencyMs = o.latencyMs;
o.users.forEach((u, i) => {
  const alias = i % 10 === 0 ? [u.replace('@', '.sales@')] : [];
  smime.addMailbox(google, u, ...alias);
  if (!o.seed) return;
  smime.seed(u, u, { expiresInDays: 30 + (i % 400), isDefault: true });
  for (const a of alias) smime.seed(u, a, { expiresInDays: 10 + (i % 60), isDefault: true });
});

serveParent(
  { tokenUrl: google.tokenUrl, apiRootUrl: google.apiRootUrl, keyFile: sa.writeKeyFile(o.dir) },
  {
    stats: () => ({
      calls: smime.calls.length,
      tokens: google.tokenRequests.length,
      maxInFlight: smime.maxInFlight,
      inserts: smime.inserts.length,
      /** Users with exactly one certificate on their own address (after an import: all of them). */
      usersWithOneCert: o.users.filter((u) => smime.certs(u).length === 1).length,
    }),
  },
  () => google.close(),
);
