/**
 * What the devices and senders of a disabled practice are answered (issue 18, item 2): always a
 * temporary error, so they keep their mail and try again; never a permanent one, and never
 * acceptance. A practice whose file cannot be read names none of its devices or domains: while
 * there is one, a shared listener answers a login or sender it cannot place with a 4xx.
 */
import path from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import type { Relay } from '../src/app.js';
import { loadConfig } from '../src/config/index.js';
import { EdgeClient, b64 } from './support/edge-client.js';
import { deviceHash } from './support/edge.js';
import { waitUntil } from './support/harness.js';
import { portOf, usePracticeRig, type PracticeDir } from './support/practices.js';
import { message } from './support/smtp-client.js';

const USERS = ['alice@alpha.example', 'bob@alpha.example', 'carol@beta.example', 'erin@gamma.example'];
const rig = usePracticeRig('wr-tenancy-replies-', USERS);
let relay: Relay;
let hashes: Record<string, string>;
beforeAll(async () => {
  const names = ['alpha', 'beta', 'gamma', 'delta'];
  hashes = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await deviceHash(`${n}-pw`)] as const)));
});
const SHARED = { name: 'shared', host: '127.0.0.1', port: 0, auth: { allowPlaintext: true }, greetingDelay: 0 };

/** A practice with a device account `<name>-scanner` (password `<name>-pw`) and a listener that takes AUTH in plain text. */
function practice(name: string, extra: Parameters<PracticeDir['practice']>[1] = {}) {
  const doc = rig.files.practice(name, { devices: [{ username: `${name}-scanner`, passwordHash: hashes[name]!, workspace: name }], ...extra });
  return { ...doc, listen: doc.listen.map((l) => ({ ...l, auth: { allowPlaintext: true }, greetingDelay: 0 })) };
}

/** AUTH PLAIN on a new connection: the reply, and the client (for MAIL after a 235). */
async function login(port: number, user: string, pass: string) {
  const { client } = await EdgeClient.open(port);
  return { reply: await client.cmd(`AUTH PLAIN ${b64(`\0${user}\0${pass}`)}`), client };
}

/** A login's reply, the connection closed. */
async function loginReply(port: number, user: string, pass: string) {
  const { reply, client } = await login(port, user, pass);
  client.destroy();
  return reply;
}

async function mailFrom(port: number, sender: string) {
  const { client } = await EdgeClient.open(port);
  const reply = await client.cmd(`MAIL FROM:<${sender}>`);
  client.destroy();
  return reply;
}

const codeAndText = (r: { code: number; text: string }) => [r.code, r.text];

it("a disabled practice's devices get 454 at AUTH and its senders 451 at MAIL; the others are answered as ever", async () => {
  rig.files.write('conf.d/alpha.yaml', practice('alpha'));
  rig.files.write('conf.d/beta.yaml', practice('beta', { keyFile: path.join(rig.dir, 'no-such-key.json') })); // its key fails
  const delta = practice('delta');
  rig.files.write('conf.d/delta.yaml', { ...delta, listen: [{ ...delta.listen[0], tls: { mode: 'starttls', certFile: path.join(rig.dir, 'none.pem'), keyFile: path.join(rig.dir, 'none.key') } }] }); // its listener fails
  relay = await rig.start(loadConfig(rig.files.main({ listen: [SHARED] })));
  const shared = portOf(relay, 'shared');

  // the right password: 454, naming the practice (its devices keep the mail and try again)
  for (const [name, port] of [['beta', shared], ['beta', portOf(relay, 'beta')], ['delta', shared]] as const) {
    const reply = await loginReply(port, `${name}-scanner`, `${name}-pw`);
    expect(codeAndText(reply), name).toEqual([454, expect.stringMatching(new RegExp(`^4\\.7\\.0 the relay is paused for ${name} `))]);
  }
  expect(rig.logs.events('auth.practice_disabled').map((l) => l.workspace)).toEqual(['beta', 'beta', 'delta']);
  // a wrong password is still wrong (535), as is a name no practice has: nothing tells them apart
  for (const [user, pass] of [['beta-scanner', 'guess'], ['nobody', 'guess']]) {
    const reply = await loginReply(shared, user!, pass!);
    expect(reply.code, user).toBe(535);
  }
  // its senders: 451
  expect(codeAndText(await mailFrom(shared, 'carol@beta.example'))).toEqual([451, expect.stringMatching(/^4\.3\.0 .*beta/)]);
  // a running practice's device rig.logs in and sends; an unknown sender is refused for good
  const { reply, client } = await login(shared, 'alpha-scanner', 'alpha-pw');
  expect(reply.code).toBe(235);
  expect((await client.send('alice@alpha.example', ['bob@alpha.example'], message({ From: 'alice@alpha.example', To: 'bob@alpha.example' }))).code).toBe(250);
  client.destroy();
  expect((await mailFrom(shared, 'x@nowhere.example')).code).toBe(550);
  await waitUntil(() => rig.files.sentBy('alice@alpha.example') === 1, 10_000, 'alpha delivered');
});

it('while a practice file cannot be read, a shared listener answers what it cannot place with 4xx, accepts nothing for it, and answers as ever once the file is fixed', async () => {
  rig.files.write('conf.d/alpha.yaml', practice('alpha'));
  rig.files.write('conf.d/gamma.yaml', 'workspaces: [ { name: gamma'); // gamma's devices and domains are unknown
  const main = rig.files.main({ listen: [SHARED] });
  relay = await rig.start(loadConfig(main));
  const shared = portOf(relay, 'shared');

  // logins: gamma's device (unknown), and a wrong password of a known one, get the same 454
  for (const [user, pass] of [['gamma-scanner', 'gamma-pw'], ['alpha-scanner', 'guess'], ['nobody', 'guess']]) {
    const reply = await loginReply(shared, user!, pass!);
    expect(codeAndText(reply), user).toEqual([454, '4.7.0 temporary authentication failure, try again later']);
  }
  // senders: gamma's domain, and any the relay cannot place, 451; alpha's are taken
  for (const sender of ['erin@gamma.example', 'x@nowhere.example', '']) {
    expect(codeAndText(await mailFrom(shared, sender)), sender).toEqual([451, expect.stringMatching(/^4\.3\.0 cannot check sender <.*> now, try again later$/)]);
  }
  const { reply, client } = await login(shared, 'alpha-scanner', 'alpha-pw');
  expect(reply.code).toBe(235);
  expect((await client.send('alice@alpha.example', ['bob@alpha.example'], message({ From: 'alice@alpha.example', To: 'bob@alpha.example' }))).code).toBe(250);
  client.destroy();
  // a listener bound to a running practice answers for that practice alone, as ever
  expect((await loginReply(portOf(relay, 'alpha'), 'nobody', 'guess')).code).toBe(535);
  expect((await mailFrom(portOf(relay, 'alpha'), 'erin@gamma.example')).code).toBe(550);
  expect(rig.logs.events('message.accepted').map((l) => l.workspace)).toEqual(['alpha']);

  // fixed and reloaded: gamma's device rig.logs in and its mail goes out; an unknown name is 535 again
  rig.files.write('conf.d/gamma.yaml', practice('gamma'));
  await relay.reload(loadConfig(main, relay.config()));
  const g = await login(shared, 'gamma-scanner', 'gamma-pw');
  expect(g.reply.code).toBe(235);
  expect((await g.client.send('erin@gamma.example', ['erin@gamma.example'], message({ From: 'erin@gamma.example', To: 'erin@gamma.example' }))).code).toBe(250);
  g.client.destroy();
  await waitUntil(() => rig.files.sentBy('erin@gamma.example') === 1 && rig.files.sentBy('alice@alpha.example') === 1, 10_000, 'gamma and alpha delivered');
  expect((await loginReply(shared, 'nobody', 'guess')).code).toBe(535);
  expect((await mailFrom(shared, 'x@nowhere.example')).code).toBe(550);
});
