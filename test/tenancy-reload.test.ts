/**
 * A reload per practice (issue 18, items 2 and 3): a practice whose new settings fail — a port
 * that cannot be bound, a broken file — is held back alone: kept on its running settings if it
 * has some, else disabled and named (log, metric, status, the reload's answer). Every other
 * practice's change applies, and no session of an unchanged practice is dropped.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { expect, it } from 'vitest';
import type { Relay } from '../src/app.js';
import { check } from '../src/cli/check.js';
import { loadConfig } from '../src/config/index.js';
import { practiceStatus, reloadApplied } from '../src/control/index.js';
import { SmtpClient, message } from './support/smtp-client.js';
import { waitUntil } from './support/harness.js';
import { portOf, practiceGauge, send, usePracticeRig } from './support/practices.js';

const taken: net.Server[] = [];

const USERS = ['alice@alpha.example', 'bob@alpha.example', 'carol@beta.example', 'dan@beta.example', 'erin@gamma.example', 'fay@delta.example'];
const rig = usePracticeRig('wr-tenancy-reload-', USERS, () => Promise.all(taken.splice(0).map((s) => new Promise((r) => s.close(r)))));
let relay: Relay;

/** A port some other program holds (the test's own server). */
async function takePort(): Promise<{ port: number; free: () => Promise<void> }> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  taken.push(server);
  return { port: (server.address() as net.AddressInfo).port, free: () => new Promise((r) => server.close(() => r())) };
}

it("a practice's new port that cannot be bound holds back only that practice; the others apply; no session of an unchanged practice drops", async () => {
  rig.files.write('conf.d/alpha.yaml', rig.files.practice('alpha'));
  rig.files.write('conf.d/beta.yaml', rig.files.practice('beta'));
  const main = rig.files.main();
  relay = await rig.start(loadConfig(main));
  const betaPort = portOf(relay, 'beta');
  // sessions open across the reload: alpha's file is left alone, beta's changes
  const alphaSession = await SmtpClient.open(portOf(relay, 'alpha'));
  const betaSession = await SmtpClient.open(betaPort);

  const busyForBeta = await takePort();
  const busyForGamma = await takePort();
  // beta moves to a port in use (and adds a domain); gamma is new on a port in use; delta is new and fine
  rig.files.write('conf.d/beta.yaml', rig.files.practice('beta', { port: busyForBeta.port, domains: ['beta.example', 'beta2.example'] }));
  rig.files.write('conf.d/gamma.yaml', rig.files.practice('gamma', { port: busyForGamma.port }));
  rig.files.write('conf.d/delta.yaml', rig.files.practice('delta'));
  await relay.reload(loadConfig(main, relay.config()));

  // beta: kept on its running settings, and says so
  const refused = rig.logs.events('practice.reload_refused');
  expect(refused.map((l) => l.file)).toEqual([expect.stringMatching(/beta\.yaml$/)]);
  expect(refused[0]!.reason).toMatch(new RegExp(`127\\.0\\.0\\.1:${busyForBeta.port} is in use`));
  expect(relay.config().workspaces.find((w) => w.name === 'beta')!.domains).toEqual(['beta.example']);
  expect(portOf(relay, 'beta')).toBe(betaPort);
  // gamma: new, so disabled, and named by the log, the metric, status and the reload's answer
  const disabled = rig.logs.events('practice.disabled');
  expect(disabled.map((l) => l.file)).toEqual([expect.stringMatching(/gamma\.yaml$/)]);
  expect(disabled[0]!.reason).toMatch(new RegExp(`listen\\[\\d+\\]\\.port: 127\\.0\\.0\\.1:${busyForGamma.port} is in use`));
  expect(await practiceGauge(relay, 'practice_disabled', 'gamma')).toBe('1');
  expect(await practiceGauge(relay, 'practice_reload_refused', 'beta')).toBe('1');
  expect(practiceStatus(relay.config()).map((p) => [p.workspaces.join(), p.state])).toEqual([
    ['alpha', 'running'],
    ['beta', 'kept'],
    ['delta', 'running'],
    ['gamma', 'disabled'],
  ]);
  expect(reloadApplied(main, relay.config()).outcome).toBe('partial');
  // `check` asks the running relay: gamma's file is fine, the relay could not bind its port
  const out: string[] = [];
  await expect(check({ path: main, source: 'flag', isExample: false }, [], { out: (l) => out.push(l), err: () => undefined })).rejects.toThrow(/check\(s\) failed/);
  expect(out.join('\n')).toMatch(new RegExp(`FAIL +DISABLED in the running relay: .*gamma\\.yaml: listen\\[\\d\\]\\.port: 127\\.0\\.0\\.1:${busyForGamma.port} is in use`));
  expect(out.join('\n')).toMatch(/warn +the running relay refused its new settings at the last reload and runs the previous ones: .*beta\.yaml: /);
  expect(rig.logs.events('config.reloaded')).toHaveLength(1);
  // the relay stays healthy: one practice's port is not a reason to restart it
  expect((await fetch(`http://127.0.0.1:${relay.http!.addresses[0]!.port}/healthz`)).status).toBe(200);

  // delta's new settings apply: it listens and delivers
  expect(await send(portOf(relay, 'delta'), 'fay@delta.example', 'fay@delta.example')).toBe(250);
  // the sessions opened before the reload carry on, for alpha and for the kept beta
  const mail = (from: string, to: string) => message({ From: from, To: to });
  expect((await alphaSession.send('alice@alpha.example', ['bob@alpha.example'], mail('alice@alpha.example', 'bob@alpha.example'))).code).toBe(250);
  expect((await betaSession.send('carol@beta.example', ['dan@beta.example'], mail('carol@beta.example', 'dan@beta.example'))).code).toBe(250);
  alphaSession.destroy();
  betaSession.destroy();
  await waitUntil(() => rig.files.sentBy('alice@alpha.example') === 1 && rig.files.sentBy('carol@beta.example') === 1 && rig.files.sentBy('fay@delta.example') === 1, 10_000, 'alpha, beta and delta delivered');

  // the ports freed: the next reload applies beta's and gamma's settings
  await busyForBeta.free();
  await busyForGamma.free();
  await relay.reload(loadConfig(main, relay.config()));
  expect(practiceStatus(relay.config()).every((p) => p.state === 'running')).toBe(true);
  expect(portOf(relay, 'beta')).toBe(busyForBeta.port);
  expect(relay.config().workspaces.find((w) => w.name === 'beta')!.domains).toEqual(['beta.example', 'beta2.example']);
  expect(await send(busyForGamma.port, 'erin@gamma.example', 'erin@gamma.example')).toBe(250);
  await waitUntil(() => rig.files.sentBy('erin@gamma.example') === 1, 10_000, 'gamma delivered');
  expect(await practiceGauge(relay, 'practice_disabled', 'gamma')).toBe('0');
});

it("a port that is not a practice's (the main file's listener) still refuses the whole reload", async () => {
  rig.files.write('conf.d/alpha.yaml', rig.files.practice('alpha'));
  const main = rig.files.main();
  relay = await rig.start(loadConfig(main));
  const busy = await takePort();
  rig.files.write('conf.d/beta.yaml', rig.files.practice('beta'));
  rig.files.main({ listen: [{ name: 'shared', host: '127.0.0.1', port: busy.port }] });
  await expect(relay.reload(loadConfig(main, relay.config()))).rejects.toThrow(new RegExp(`127\\.0\\.0\\.1:${busy.port} is in use`));
  // nothing changed: beta did not come in, and nothing of it listens
  expect(relay.config().workspaces.map((w) => w.name)).toEqual(['alpha']);
  expect(relay.listeners.map((l) => l.name)).toEqual(['alpha']);
});

it('a disabled practice whose file then breaks stays disabled (its mail held, 451) while the others\' changes apply', async () => {
  rig.files.write('conf.d/alpha.yaml', rig.files.practice('alpha'));
  rig.files.write('conf.d/beta.yaml', rig.files.practice('beta', { keyFile: `${rig.dir}/no-such-key.json` }));
  const main = rig.files.main();
  relay = await rig.start(loadConfig(main));
  const betaPort = portOf(relay, 'beta');
  rig.files.write('conf.d/alpha.yaml', rig.files.practice('alpha', { domains: ['alpha.example', 'alpha2.example'] }));
  rig.files.write('conf.d/beta.yaml', 'workspaces: [ { name: beta');
  await relay.reload(loadConfig(main, relay.config()));
  expect(relay.config().workspaces.map((w) => [w.name, w.domains])).toEqual([['alpha', ['alpha.example', 'alpha2.example']]]);
  const beta = practiceStatus(relay.config()).find((p) => p.workspaces.includes('beta'))!;
  expect([beta.state, beta.reason]).toEqual(['disabled', expect.stringMatching(/beta\.yaml is not valid YAML/)]);
  const c = await SmtpClient.open(betaPort);
  const reply = await c.cmd('MAIL FROM:<carol@beta.example>');
  c.destroy();
  expect([reply.code, reply.text]).toEqual([451, expect.stringMatching(/^4\.3\.0 .*beta/)]);
});

it("a key file changed in place, its practice file left alone, is read again at a reload: fixed, the practice runs; broken, it keeps its running settings", async () => {
  const key = path.join(rig.dir, 'beta-key.json');
  const good = readFileSync(rig.google.keyFile);
  writeFileSync(key, '{ not a key', { mode: 0o600 });
  rig.files.write('conf.d/alpha.yaml', rig.files.practice('alpha'));
  rig.files.write('conf.d/beta.yaml', rig.files.practice('beta', { keyFile: key }));
  const main = rig.files.main();
  relay = await rig.start(loadConfig(main));
  expect(practiceStatus(relay.config()).map((p) => p.state)).toEqual(['running', 'disabled']);

  writeFileSync(key, good);
  await relay.reload(loadConfig(main, relay.config()));
  expect(practiceStatus(relay.config()).map((p) => p.state)).toEqual(['running', 'running']);
  expect(await send(portOf(relay, 'beta'), 'carol@beta.example', 'dan@beta.example')).toBe(250);
  await waitUntil(() => rig.files.sentBy('carol@beta.example') === 1, 10_000, 'beta delivered');

  writeFileSync(key, '{ not a key either');
  await relay.reload(loadConfig(main, relay.config()));
  const beta = practiceStatus(relay.config())[1]!;
  expect([beta.state, beta.reason]).toEqual(['kept', expect.stringMatching(/beta-key\.json is not JSON/)]);
  expect(await send(portOf(relay, 'beta'), 'carol@beta.example', 'dan@beta.example')).toBe(250);
  await waitUntil(() => rig.files.sentBy('carol@beta.example') === 2, 10_000, 'beta delivered on its running settings');
});
