/**
 * Child process: the test suite's fake Google with its S/MIME routes (test/support/fake-smime.ts)
 * and its Directory (test/support/fake-directory.ts) for the S/MIME benchmark, in a process of
 * its own so its work (JWT checks, opening each uploaded .p12) is not the command's. Every Gmail
 * and Directory call and every token request is answered after `latencyMs`. argv[2]: JSON
 * { dir, users, latencyMs, caCertPem, seed }. Every tenth user has a second send-as alias.
 * `seed`: 'report' gives every address a default certificate; 'rotate' gives every address an
 * expired default and a later certificate (the rotation's work: each default changes); none: no
 * certificates (the import's work). The Directory lists the users, 500 a page, as Google does.
 */
import forge from 'node-forge';
import { serveParent } from './children.js';
import { FakeGoogle, createTestServiceAccount } from '../test/support/fake-google.js';
import { DIRECTORY_GROUP_READONLY, DIRECTORY_USER_READONLY, FakeDirectory } from '../test/support/fake-directory.js';
import { FakeSmime, SETTINGS_BASIC, SETTINGS_SHARING } from '../test/support/fake-smime.js';

const o = JSON.parse(process.argv[2] ?? '{}') as { dir: string; users: string[]; latencyMs: number; caCertPem: string; seed?: 'report' | 'rotate' };
const google = await FakeGoogle.start();
const smime = FakeSmime.install(google);
const sa = createTestServiceAccount('smime-bench');
google.addServiceAccount(sa);
google.authorize(sa.clientId, [SETTINGS_BASIC, SETTINGS_SHARING]);
const ca = forge.pki.certificateFromPem(o.caCertPem);
smime.trust({ name: 'bench CA', cert: ca, key: undefined as unknown as forge.pki.rsa.PrivateKey });
google.tokenLatencyMs = o.latencyMs;
smime.latencyMs = o.latencyMs;

// The Directory: its own read-only key, acting as an admin of the bench domain.
const admin = `admin@${o.users[0]?.split('@')[1] ?? 'bench.example'}`;
const directory = new FakeDirectory(google);
directory.latencyMs = o.latencyMs;
const dirSa = createTestServiceAccount('directory-bench');
google.addServiceAccount(dirSa);
google.authorize(dirSa.clientId, [DIRECTORY_USER_READONLY, DIRECTORY_GROUP_READONLY]);
google.addUser(admin);
directory.addAdmin(admin);

/** Each address's certificate that should be the default after a rotation. */
const later = new Map<string, string>();
o.users.forEach((u, i) => {
  const alias = i % 10 === 0 ? [u.replace('@', '.sales@')] : [];
  smime.addMailbox(google, u, ...alias);
  directory.addUser(u);
  for (const a of [u, ...alias]) {
    if (o.seed === 'report') smime.seed(u, a, { expiresInDays: a === u ? 30 + (i % 400) : 10 + (i % 60), isDefault: true });
    if (o.seed === 'rotate') {
      smime.seed(u, a, { expiresInDays: -1 - (i % 30), isDefault: true });
      later.set(`${u} ${a}`, smime.seed(u, a, { expiresInDays: 200 + (i % 300) }));
    }
  }
});

serveParent(
  {
    tokenUrl: google.tokenUrl,
    apiRootUrl: google.apiRootUrl,
    keyFile: sa.writeKeyFile(o.dir),
    directoryRootUrl: google.url,
    directoryKeyFile: dirSa.writeKeyFile(o.dir, 'directory-sa.json'),
    admin,
  },
  {
    stats: () => ({
      calls: smime.calls.length,
      tokens: google.tokenRequests.length,
      maxInFlight: smime.maxInFlight,
      inserts: smime.inserts.length,
      directoryPages: directory.calls.filter((c) => c.method === 'users.list').length,
      /** Users with exactly one certificate on their own address (after an import: all of them). */
      usersWithOneCert: o.users.filter((u) => smime.certs(u).length === 1).length,
      /** Addresses whose default is the certificate a rotation should pick (after a rotate: all of them). */
      rotated: [...later].filter(([k, id]) => {
        const [u, a] = k.split(' ') as [string, string];
        return smime.certs(u, a).find((c) => c.isDefault)?.id === id;
      }).length,
      addresses: later.size,
    }),
  },
  () => google.close(),
);
