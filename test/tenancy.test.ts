/**
 * A practice per file (issue 18): one practice's broken file, key or port disables that practice
 * (451 to its clients, its mail kept) and the others deliver; a reload applies each file on its
 * own; workspaces[].limits answer for that practice only.
 */
import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Relay } from '../src/app.js';
import { loadConfig } from '../src/config/index.js';
import { practiceStatus } from '../src/control/index.js';
import { SmtpClient, message, queueIdOf } from './support/smtp-client.js';
import { waitUntil } from './support/harness.js';
import { portOf, send, usePracticeRig, type PracticeExtra } from './support/practices.js';

const USERS = ['alice@alpha.example', 'bob@alpha.example', 'carol@beta.example', 'dan@beta.example', 'erin@gamma.example'];
const rig = usePracticeRig('wr-tenancy-', USERS);
let relay: Relay;

const writeYaml = (rel: string, doc: unknown) => rig.files.write(rel, doc);
const practice = (name: string, extra: PracticeExtra = {}) => rig.files.practice(name, extra);
const mainFile = () => rig.files.main();
const sentTo = (user: string) => rig.files.sentBy(user);

describe('a practice per file', () => {
  it('at start, a broken file or a missing key disables that practice only: 451 to its clients, the others deliver', async () => {
    writeYaml('conf.d/alpha.yaml', practice('alpha'));
    const missing = path.join(rig.dir, 'no-such-key.json');
    writeYaml('conf.d/beta.yaml', practice('beta', { keyFile: missing }));
    writeYaml('conf.d/gamma.yaml', 'workspaces: [ { name: gamma');
    relay = await rig.start(loadConfig(mainFile()));

    const disabled = rig.logs.events('practice.disabled');
    expect(disabled.map((l) => path.basename(l.file as string)).sort()).toEqual(['beta.yaml', 'gamma.yaml']);
    expect(disabled.find((l) => (l.file as string).endsWith('beta.yaml'))!.reason).toContain('serviceAccountKeyFile');
    expect(practiceStatus(relay.config()).map((p) => [path.basename(p.file), p.state])).toEqual([
      ['alpha.yaml', 'running'],
      ['beta.yaml', 'disabled'],
      ['gamma.yaml', 'disabled'],
    ]);
    // alpha delivers
    expect(await send(portOf(relay, 'alpha'), 'alice@alpha.example', 'bob@alpha.example')).toBe(250);
    await waitUntil(() => sentTo('alice@alpha.example') === 1, 10_000, 'alpha delivered');
    // beta's own listener is open and answers a temporary error (its devices retry)
    const c = await SmtpClient.open(portOf(relay, 'beta'));
    const reply = await c.cmd('MAIL FROM:<carol@beta.example>');
    c.destroy();
    expect(reply.code).toBe(451);
    expect(reply.text).toMatch(/4\.3\.0 .*beta/);
  });

  it("at start, a practice's port that cannot be bound disables that practice: nothing listens there, the others run", async () => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      writeYaml('conf.d/alpha.yaml', practice('alpha'));
      writeYaml('conf.d/beta.yaml', { ...practice('beta'), listen: [{ name: 'beta', host: '127.0.0.1', port }] });
      relay = await rig.start(loadConfig(mainFile()));
      const [disabled] = rig.logs.events('practice.disabled');
      expect(disabled!.file).toMatch(/beta\.yaml$/);
      expect(disabled!.reason).toMatch(new RegExp(`listen\\[1\\]\\.port: 127\\.0\\.0\\.1:${port} is in use`));
      expect(relay.listeners.map((l) => l.name)).toEqual(['alpha']);
      // the relay is healthy (a liveness probe must not restart every practice for one's port)
      expect((await fetch(`http://127.0.0.1:${relay.http!.addresses[0]!.port}/healthz`)).status).toBe(200);
      expect(await send(portOf(relay, 'alpha'), 'alice@alpha.example', 'bob@alpha.example')).toBe(250);
      await waitUntil(() => sentTo('alice@alpha.example') === 1, 10_000, 'alpha delivered');
    } finally {
      await new Promise((r) => taken.close(r));
    }
  });

  it('at a reload, a broken file keeps its practice running on its old settings; the changed one applies; no session is dropped', async () => {
    writeYaml('conf.d/alpha.yaml', practice('alpha'));
    writeYaml('conf.d/beta.yaml', practice('beta'));
    const file = mainFile();
    relay = await rig.start(loadConfig(file));
    const betaPort = portOf(relay, 'beta');
    // a beta session open across the reload
    const open = await SmtpClient.open(betaPort);

    writeYaml('conf.d/alpha.yaml', practice('alpha', { domains: ['alpha.example', 'alpha2.example'] }));
    writeYaml('conf.d/beta.yaml', { workspaces: [{ name: 'beta', domains: ['beta.example'], transport: 'gmail-api' }] });
    await relay.reload(loadConfig(file, relay.config()));

    const refused = rig.logs.events('practice.reload_refused');
    expect(refused).toHaveLength(1);
    expect(refused[0]!.file).toMatch(/beta\.yaml$/);
    expect(refused[0]!.reason).toMatch(/workspaces\[0\]\.gmailApi/);
    expect(relay.config().workspaces.find((w) => w.name === 'alpha')!.domains).toEqual(['alpha.example', 'alpha2.example']);
    // beta still delivers, through the session opened before the reload
    expect((await open.send('carol@beta.example', ['dan@beta.example'], message({ From: 'carol@beta.example', To: 'dan@beta.example' }))).code).toBe(250);
    open.destroy();
    await waitUntil(() => sentTo('carol@beta.example') === 1, 10_000, 'beta delivered');
    expect(portOf(relay, 'beta')).toBe(betaPort);

    // a key that goes missing at a reload: the same, the practice keeps its running settings
    writeYaml('conf.d/beta.yaml', practice('beta', { keyFile: path.join(rig.dir, 'gone.json') }));
    await relay.reload(loadConfig(file, relay.config()));
    expect(rig.logs.events('practice.reload_refused').at(-1)!.reason).toContain('gone.json');
    expect(await send(betaPort, 'carol@beta.example', 'dan@beta.example')).toBe(250);
    await waitUntil(() => sentTo('carol@beta.example') === 2, 10_000, 'beta delivered again');
  });

  it('a disabled practice\'s queued mail is kept, and delivered once its file is fixed and reloaded', async () => {
    writeYaml('conf.d/alpha.yaml', practice('alpha'));
    const file = mainFile();
    relay = await rig.start(loadConfig(file));
    rig.google.fake.revoke(rig.google.sa.clientId); // alpha's mail waits in the queue (held)
    const c = await SmtpClient.open(portOf(relay, 'alpha'));
    const accepted = await c.send('alice@alpha.example', ['bob@alpha.example'], message({ From: 'alice@alpha.example', To: 'bob@alpha.example' }));
    c.destroy();
    expect(accepted.code).toBe(250);
    await rig.stop();
    // restarted with alpha's file broken: the message is neither sent nor bounced
    rig.google.fake.authorize(rig.google.sa.clientId, ['https://www.googleapis.com/auth/gmail.send']);
    writeYaml('conf.d/alpha.yaml', 'workspaces: [ broken');
    writeYaml('conf.d/beta.yaml', practice('beta'));
    relay = await rig.start(loadConfig(file));
    expect(await send(portOf(relay, 'beta'), 'carol@beta.example', 'dan@beta.example')).toBe(250);
    await waitUntil(() => sentTo('carol@beta.example') === 1, 10_000, 'beta delivered');
    expect(sentTo('alice@alpha.example')).toBe(0);
    expect((await relay.spool.find(queueIdOf(accepted)))?.state).toMatch(/^(queue|active)$/);
    expect(rig.logs.events('notify.sent').length + rig.logs.events('delivery.failed').length).toBe(0);
    // fixed: the kept message goes out
    writeYaml('conf.d/alpha.yaml', practice('alpha'));
    await relay.reload(loadConfig(file, relay.config()));
    await waitUntil(() => sentTo('alice@alpha.example') === 1, 10_000, 'alpha delivered after the fix');
  });

  it('workspaces[].limits refuse that practice\'s new mail only (452 4.3.1, 450 4.7.1)', async () => {
    writeYaml('conf.d/alpha.yaml', practice('alpha', { limits: { queued: 1 } }));
    writeYaml('conf.d/beta.yaml', practice('beta', { limits: { acceptedPerHour: 1 } }));
    writeYaml('conf.d/gamma.yaml', practice('gamma'));
    relay = await rig.start(loadConfig(mainFile()));
    rig.google.fake.revoke(rig.google.sa.clientId); // nothing leaves: alpha's first message stays queued
    expect(await send(portOf(relay, 'alpha'), 'alice@alpha.example', 'bob@alpha.example')).toBe(250);
    const a = await SmtpClient.open(portOf(relay, 'alpha'));
    const full = await a.cmd('MAIL FROM:<alice@alpha.example>');
    a.destroy();
    expect([full.code, full.text]).toEqual([452, expect.stringMatching(/^4\.3\.1 .*alpha/)]);

    expect(await send(portOf(relay, 'beta'), 'carol@beta.example', 'dan@beta.example')).toBe(250);
    const b = await SmtpClient.open(portOf(relay, 'beta'));
    const rate = await b.cmd('MAIL FROM:<carol@beta.example>');
    b.destroy();
    expect([rate.code, rate.text]).toEqual([450, expect.stringMatching(/^4\.7\.1 .*beta has sent its 1 messages this hour/)]);
    // a practice without limits is not affected
    expect(await send(portOf(relay, 'gamma'), 'erin@gamma.example', 'erin@gamma.example')).toBe(250);
    expect(await send(portOf(relay, 'gamma'), 'erin@gamma.example', 'erin@gamma.example')).toBe(250);
  });
});
