/**
 * A reload per practice (issue 18, item 3) when a practice's listener certificate or key is
 * broken in place (same path, now unreadable or not a usable pair) while its practice file is
 * left alone: that practice keeps its running settings, its listener serving the pair as last
 * read good, and says so (log, metric, status, naming the file and the key); every other
 * practice's change applies; sessions carry on. A main-file listener's broken pair still refuses
 * the whole reload.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { expect, it } from 'vitest';
import type { Relay } from '../src/app.js';
import { loadConfig } from '../src/config/index.js';
import { practiceStatus } from '../src/control/index.js';
import { EdgeClient, mail } from './support/edge-client.js';
import { waitUntil } from './support/harness.js';
import { portOf, practiceGauge, usePracticeRig } from './support/practices.js';
import { makeTestCert } from './support/tls.js';

const rig = usePracticeRig('wr-reload-tls-', ['alice@alpha.example', 'carol@beta.example', 'dan@beta.example']);
let relay: Relay;

const breaks = [
  { what: 'the key rewritten as something that is not a key', file: 'keyFile' as const, breakIt: (f: string) => writeFileSync(f, 'not a key\n'), reason: /listen\[0\]\.tls: certificate .* and key .*beta-key\.pem are not a usable PEM pair/ },
  { what: 'the certificate deleted', file: 'certFile' as const, breakIt: (f: string) => rmSync(f), reason: /listen\[0\]\.tls\.certFile: cannot read .*beta-cert\.pem/ },
];
for (const b of breaks) {
  it(`${b.what}: that practice keeps its certificate as last read good, the others apply, its sessions carry on`, async () => {
    const cert = makeTestCert(rig.dir, 'beta');
    const served = new X509Certificate(readFileSync(cert.certFile)).fingerprint256;
    rig.files.write('conf.d/alpha.yaml', rig.files.practice('alpha'));
    rig.files.write('conf.d/beta.yaml', rig.files.practice('beta', { tls: { mode: 'starttls', ...cert } }));
    const main = rig.files.main();
    relay = await rig.start(loadConfig(main));
    const before = (await EdgeClient.open(portOf(relay, 'beta'))).client;
    await before.starttls();

    b.breakIt(cert[b.file]);
    rig.files.write('conf.d/alpha.yaml', rig.files.practice('alpha', { domains: ['alpha.example', 'alpha2.example'] }));
    await relay.reload(loadConfig(main, relay.config()));

    const refused = rig.logs.events('practice.reload_refused');
    expect(refused.map((l) => [l.file, l.reason])).toEqual([[expect.stringMatching(/beta\.yaml$/), expect.stringMatching(b.reason)]]);
    expect(practiceStatus(relay.config()).map((p) => p.state)).toEqual(['running', 'kept']);
    expect(await practiceGauge(relay, 'practice_reload_refused', 'beta')).toBe('1');
    expect(relay.config().workspaces.find((w) => w.name === 'alpha')!.domains).toEqual(['alpha.example', 'alpha2.example']);
    // the session that started TLS before the reload carries on
    expect((await before.send('carol@beta.example', ['dan@beta.example'], mail({ From: 'carol@beta.example', To: 'dan@beta.example' }))).code).toBe(250);
    before.destroy();
    // a new session gets TLS with the certificate as last read good
    const after = (await EdgeClient.open(portOf(relay, 'beta'))).client;
    await after.starttls();
    expect(after.peerCertificate?.fingerprint256).toBe(served);
    expect((await after.send('carol@beta.example', ['dan@beta.example'], mail({ From: 'carol@beta.example', To: 'dan@beta.example' }))).code).toBe(250);
    after.destroy();
    await waitUntil(() => rig.files.sentBy('carol@beta.example') === 2, 10_000, 'beta delivered');
  });
}

it("a main-file listener's TLS key broken in place still refuses the whole reload", async () => {
  const cert = makeTestCert(rig.dir, 'shared');
  rig.files.write('conf.d/alpha.yaml', rig.files.practice('alpha'));
  const main = rig.files.main({ listen: [{ name: 'shared', host: '127.0.0.1', port: 0, tls: { mode: 'starttls', ...cert } }] });
  relay = await rig.start(loadConfig(main));
  writeFileSync(cert.keyFile, 'not a key\n');
  rig.files.write('conf.d/alpha.yaml', rig.files.practice('alpha', { domains: ['alpha.example', 'alpha2.example'] }));
  await expect(relay.reload(loadConfig(main, relay.config()))).rejects.toThrow(/listen\[0\]\.tls: .*not a usable PEM pair/);
  expect(relay.config().workspaces.find((w) => w.name === 'alpha')!.domains).toEqual(['alpha.example']);
});
