/**
 * A reload per practice (issue 18, item 3) when a file a practice's settings name is broken in
 * place (same path, now unreadable or invalid) while its practice file is left alone: its
 * service-account key, its Gmail SMTP app password, the SMTP relay service's password, its
 * upstream's CA certificate, its Directory API key. That practice keeps its running settings (the
 * file as last read good) and says so (log, metric, status, naming the file and the key to fix);
 * every other practice's change applies; no session drops; a delivery thread started again
 * meanwhile still has the last good. A shared (main-file) one that breaks still refuses the whole
 * reload. (The listener's certificate and key: tenancy-reload-tls.test.ts.)
 */
import { chmodSync, copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Relay } from '../src/app.js';
import { loadConfig } from '../src/config/index.js';
import { practiceStatus } from '../src/control/index.js';
import { EdgeClient, mail } from './support/edge-client.js';
import { queueIdOf } from './support/smtp-client.js';
import { FakeSmtpRelay } from './support/fake-google-smtp.js';
import { waitUntil } from './support/harness.js';
import { portOf, practiceGauge, send, usePracticeRig } from './support/practices.js';

const USERS = ['alice@alpha.example', 'bob@alpha.example', 'carol@beta.example', 'dan@beta.example', 'sam@shared.example'];
let upstream: FakeSmtpRelay | undefined;
const rig = usePracticeRig('wr-reload-secrets-', USERS, async () => {
  await upstream?.close();
  upstream = undefined;
});
let relay: Relay;

const PASSWORD = 'abcd efgh ijkl mnop';

/** A file only the relay's user can read, in the test's directory: its path. */
function secretFile(name: string, content: string | Buffer): string {
  const file = path.join(rig.dir, name);
  writeFileSync(file, content, { mode: 0o600 });
  return file;
}

/** The Gmail SMTP / SMTP relay service stand-in, taking mail from carol@beta.example logged in with PASSWORD. */
async function startUpstream(): Promise<FakeSmtpRelay> {
  upstream = await FakeSmtpRelay.start(rig.dir);
  upstream.login = { user: 'carol@beta.example', pass: PASSWORD };
  return upstream;
}

/** One way beta's settings name a file: the workspace's transport, that file, how it breaks, what the refusal says. */
interface Way {
  what: string;
  /** beta's transport settings (its files written); `file` is the one the test breaks. */
  setup(): Promise<{ transport: object; file: string }>;
  breakIt(file: string): void;
  reason: RegExp;
  /** Messages of beta's that reached Google. */
  delivered(): number;
}

const viaUpstream = () => upstream!.received.length;
const smtpSettings = (up: FakeSmtpRelay, extra: object) => ({ host: '127.0.0.1', port: up.port, secure: false, ...extra });

const WAYS: Way[] = [
  {
    what: 'the service-account key, rewritten as something that is not a key',
    setup: async () => {
      const file = secretFile('beta-key.json', readFileSync(rig.google.keyFile));
      return { transport: { transport: 'gmail-api', gmailApi: { serviceAccountKeyFile: file } }, file };
    },
    breakIt: (file) => writeFileSync(file, '{ not a key'),
    reason: /beta\.yaml: workspaces\[0\]\.gmailApi\.serviceAccountKeyFile: .*beta-key\.json is not JSON/,
    delivered: () => rig.files.sentBy('carol@beta.example'),
  },
  {
    what: 'the Gmail SMTP app password, made readable by others',
    setup: async () => {
      const up = await startUpstream();
      const file = secretFile('beta-app-password', `${PASSWORD}\n`);
      return { transport: { transport: 'smtp', smtp: smtpSettings(up, { user: 'carol@beta.example', appPasswordFile: file, caFile: up.ca }) }, file };
    },
    breakIt: (file) => chmodSync(file, 0o644),
    reason: /beta\.yaml: workspaces\[0\]\.smtp\.appPasswordFile: .*beta-app-password is readable by group or others .*chmod 600/,
    delivered: viaUpstream,
  },
  {
    what: 'the Gmail SMTP app password, emptied',
    setup: async () => {
      const up = await startUpstream();
      const file = secretFile('beta-app-password', `${PASSWORD}\n`);
      return { transport: { transport: 'smtp', smtp: smtpSettings(up, { user: 'carol@beta.example', appPasswordFile: file, caFile: up.ca }) }, file };
    },
    breakIt: (file) => writeFileSync(file, '\n'),
    reason: /beta\.yaml: workspaces\[0\]\.smtp\.appPasswordFile: .*beta-app-password is empty/,
    delivered: viaUpstream,
  },
  {
    what: "the SMTP relay service's password, deleted",
    setup: async () => {
      const up = await startUpstream();
      const file = secretFile('beta-relay-password', PASSWORD);
      return { transport: { transport: 'smtp-relay', smtpRelay: smtpSettings(up, { user: 'carol@beta.example', passwordFile: file, caFile: up.ca }) }, file };
    },
    breakIt: (file) => rmSync(file),
    reason: /beta\.yaml: workspaces\[0\]\.smtpRelay\.passwordFile: cannot read .*beta-relay-password \(ENOENT\)/,
    delivered: viaUpstream,
  },
  {
    what: "the upstream's CA certificate, deleted",
    setup: async () => {
      const up = await startUpstream();
      const file = path.join(rig.dir, 'beta-ca.pem');
      copyFileSync(up.ca, file);
      const pw = secretFile('beta-app-password', PASSWORD);
      return { transport: { transport: 'smtp', smtp: smtpSettings(up, { user: 'carol@beta.example', appPasswordFile: pw, caFile: file }) }, file };
    },
    breakIt: (file) => rmSync(file),
    reason: /beta\.yaml: workspaces\[0\]\.smtp\.caFile: cannot read .*beta-ca\.pem/,
    delivered: viaUpstream,
  },
];

/** One message from `from` to `to` over a new connection: its queue id (after a 250). */
async function queued(port: number, from: string, to: string): Promise<string> {
  const { client } = await EdgeClient.open(port);
  try {
    return queueIdOf(await client.send(from, [to], mail({ From: from, To: to })));
  } finally {
    client.destroy();
  }
}

/** The relay delivered message `id` (Google, or the upstream, took it, as the relay sees it). */
const delivered = (id: string) => waitUntil(() => rig.logs.events('delivery.ok').some((l) => l.queueId === id), 15_000, `${id} delivered`);

for (const deliveryThread of [true, false]) {
  describe(`delivery ${deliveryThread ? 'on its own thread' : 'in the daemon thread'}`, () => {
    for (const way of WAYS) {
      it(`${way.what}: that practice keeps its running settings and says so, the others apply, no session drops${deliveryThread ? ', a new delivery thread has the last good' : ''}`, async () => {
        const { transport, file } = await way.setup();
        rig.files.write('conf.d/alpha.yaml', rig.files.practice('alpha'));
        rig.files.write('conf.d/beta.yaml', rig.files.practice('beta', { workspace: transport }));
        const main = rig.files.main({ queue: { deliveryThread } });
        relay = await rig.start(loadConfig(main));
        await delivered(await queued(portOf(relay, 'beta'), 'carol@beta.example', 'dan@beta.example'));
        expect(way.delivered()).toBe(1);
        const session = (await EdgeClient.open(portOf(relay, 'beta'))).client;

        way.breakIt(file);
        rig.files.write('conf.d/alpha.yaml', rig.files.practice('alpha', { domains: ['alpha.example', 'alpha2.example'] }));
        await relay.reload(loadConfig(main, relay.config()));

        // beta: kept, and named with the file and the key to fix (log, metric, status)
        const refused = rig.logs.events('practice.reload_refused');
        expect(refused.map((l) => [l.file, l.reason])).toEqual([[expect.stringMatching(/beta\.yaml$/), expect.stringMatching(way.reason)]]);
        expect(practiceStatus(relay.config()).map((p) => [p.workspaces.join(), p.state])).toEqual([
          ['alpha', 'running'],
          ['beta', 'kept'],
        ]);
        expect(await practiceGauge(relay, 'practice_reload_refused', 'beta')).toBe('1');
        // alpha's change applied
        expect(relay.config().workspaces.find((w) => w.name === 'alpha')!.domains).toEqual(['alpha.example', 'alpha2.example']);
        await delivered(await queued(portOf(relay, 'alpha'), 'alice@alpha.example', 'bob@alpha2.example'));
        // beta's session opened before the reload carries on; its mail goes out with the file as last read good
        await delivered(queueIdOf(await session.send('carol@beta.example', ['dan@beta.example'], mail({ From: 'carol@beta.example', To: 'dan@beta.example' }))));
        session.destroy();
        expect(way.delivered()).toBe(2);

        if (deliveryThread) {
          // the delivery thread dies: the new one builds beta's transport from the last good too
          await relay.deliveryThread!['worker']!.terminate();
          await delivered(await queued(portOf(relay, 'beta'), 'carol@beta.example', 'dan@beta.example'));
          expect(way.delivered()).toBe(3);
        }
      });
    }
  });
}

it("a practice's key broken in place while it runs, then the delivery thread dies: nothing is lost, and a reload keeps that practice on its key as last read good and every practice delivers again", async () => {
  const key = secretFile('beta-key.json', readFileSync(rig.google.keyFile));
  rig.files.write('conf.d/alpha.yaml', rig.files.practice('alpha'));
  rig.files.write('conf.d/beta.yaml', rig.files.practice('beta', { keyFile: key }));
  const main = rig.files.main();
  relay = await rig.start(loadConfig(main));
  writeFileSync(key, '{ not a key');
  // a new thread reads beta's key as it is now: no generation builds, and attempts wait
  await relay.deliveryThread!['worker']!.terminate();
  const waiting = await queued(portOf(relay, 'alpha'), 'alice@alpha.example', 'bob@alpha.example');
  await waitUntil(() => rig.logs.events('delivery.thread_failed').some((l) => l.alert === true), 15_000, 'the alert');
  await relay.reload(loadConfig(main, relay.config()));
  expect(practiceStatus(relay.config()).map((p) => p.state)).toEqual(['running', 'kept']);
  await delivered(waiting);
  await delivered(await queued(portOf(relay, 'beta'), 'carol@beta.example', 'dan@beta.example'));
});

it("a practice's Directory API key (recipientCheck: directory): missing at start, only that practice is disabled; broken in place at a reload, it keeps its running settings", async () => {
  const dirKey = path.join(rig.dir, 'beta-directory.json');
  const workspace = {
    transport: 'gmail-api',
    gmailApi: { serviceAccountKeyFile: rig.google.keyFile },
    recipientCheck: 'directory',
    directory: { serviceAccountKeyFile: dirKey, adminUser: 'admin@beta.example' },
  };
  rig.files.write('conf.d/alpha.yaml', rig.files.practice('alpha'));
  rig.files.write('conf.d/beta.yaml', rig.files.practice('beta', { workspace }));
  const main = rig.files.main();
  relay = await rig.start(loadConfig(main));
  const atStart = practiceStatus(relay.config());
  expect(atStart.map((p) => p.state)).toEqual(['running', 'disabled']);
  expect(atStart[1]!.reason).toMatch(/beta\.yaml: workspaces\[0\]\.directory\.serviceAccountKeyFile: cannot read .*beta-directory\.json \(ENOENT\)/);
  expect(await send(portOf(relay, 'alpha'), 'alice@alpha.example', 'bob@alpha.example')).toBe(250);
  await waitUntil(() => rig.files.sentBy('alice@alpha.example') === 1, 10_000, 'alpha delivered');

  secretFile('beta-directory.json', readFileSync(rig.google.keyFile));
  await relay.reload(loadConfig(main, relay.config()));
  expect(practiceStatus(relay.config()).map((p) => p.state)).toEqual(['running', 'running']);
  expect(relay.recipientCheckStats().has('beta')).toBe(true);

  writeFileSync(dirKey, '{ not a key');
  rig.files.write('conf.d/alpha.yaml', rig.files.practice('alpha', { domains: ['alpha.example', 'alpha2.example'] }));
  await relay.reload(loadConfig(main, relay.config()));
  const beta = practiceStatus(relay.config())[1]!;
  expect([beta.state, beta.reason]).toEqual(['kept', expect.stringMatching(/beta\.yaml: workspaces\[0\]\.directory\.serviceAccountKeyFile: .*beta-directory\.json is not JSON/)]);
  expect(relay.recipientCheckStats().has('beta')).toBe(true); // its recipient check runs on, with the key as last read good
  expect(relay.config().workspaces.find((w) => w.name === 'alpha')!.domains).toEqual(['alpha.example', 'alpha2.example']);
});

it("a main-file workspace's service-account key broken in place still refuses the whole reload", async () => {
  const key = secretFile('shared-key.json', readFileSync(rig.google.keyFile));
  rig.files.write('conf.d/alpha.yaml', rig.files.practice('alpha'));
  const shared = { name: 'shared', domains: ['shared.example'], transport: 'gmail-api', gmailApi: { serviceAccountKeyFile: key } };
  const main = rig.files.main({ workspaces: [shared] });
  relay = await rig.start(loadConfig(main));
  writeFileSync(key, '{ not a key');
  rig.files.write('conf.d/alpha.yaml', rig.files.practice('alpha', { domains: ['alpha.example', 'alpha2.example'] }));
  await expect(relay.reload(loadConfig(main, relay.config()))).rejects.toThrow(/workspaces\[0\]\.gmailApi\.serviceAccountKeyFile: .*shared-key\.json is not JSON/);
  expect(relay.config().workspaces.find((w) => w.name === 'alpha')!.domains).toEqual(['alpha.example']);
  expect(rig.logs.events('config.reloaded')).toHaveLength(0);
});
