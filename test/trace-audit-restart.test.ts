/**
 * The audit record survives a restart (issue 19 item 5): who handed a message over (listener,
 * client address, device account) is kept in its metadata on disk, sealed with the rest when the
 * spool is encrypted, so a relay that stops between acceptance and delivery, and one started on
 * the same spool, write the same audit record as one that never stopped. A message accepted
 * before the spool kept those fields still loads and is delivered, its record without them.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SpoolKeys } from '../src/crypt/index.js';
import { Spool, createQueueId } from '../src/spool/index.js';
import { TraceFiles, findTraces, type AuditRecord } from '../src/trace/index.js';
import { deviceHash } from './support/edge.js';
import { gmailConfig, relayEnv, startTestRelay, waitUntil } from './support/harness.js';
import { SmtpClient, message, queueIdOf } from './support/smtp-client.js';
import { makeMeta } from './support/spool-meta.js';
import { testKeys, writeKeyFileFor } from './support/spool-crypt.js';

const plain = (user: string, pass: string) => Buffer.from(`\0${user}\0${pass}`).toString('base64');
const GMAIL_SEND = ['https://www.googleapis.com/auth/gmail.send'];

describe('message audit trail across a restart', () => {
  const env = relayEnv();
  const spoolDir = () => path.join(env.dir, 'spool');

  async function auditOf(id: string, keys: SpoolKeys): Promise<AuditRecord> {
    const files = TraceFiles.inSpool(spoolDir(), keys);
    let audit: AuditRecord | undefined;
    await waitUntil(async () => Boolean((audit = (await findTraces(files, { queueId: id })).traces[0]?.audits.at(-1))), 10_000, 'the audit record');
    return audit!;
  }

  it('a relay stopped between acceptance and delivery: the next one writes listener, client and device from the spool (encrypted)', async () => {
    const keys = testKeys();
    const base = gmailConfig(env.dir, env.google, {
      listen: [{ host: '127.0.0.1', port: 0, name: 'front-desk-listener', auth: { allowPlaintext: true } }],
      devices: [{ username: 'ehr-workstation-7', passwordHash: await deviceHash('ehr-pw'), workspace: 'clinic' }],
    });
    const doc = { ...base, queue: { ...base.queue, encryption: { keyFiles: [writeKeyFileFor(path.join(env.dir, 'spool.key'), keys)] } } };
    env.google.fake.revoke(env.google.sa.clientId); // held: nothing leaves before the stop
    const first = await startTestRelay(doc);
    env.relay = first.relay;
    const c = await SmtpClient.open(first.port);
    expect((await c.cmd(`AUTH PLAIN ${plain('ehr-workstation-7', 'ehr-pw')}`)).code).toBe(235);
    const id = queueIdOf(await c.send('alice@clinic.example', ['bob@clinic.example'], message({ From: 'alice@clinic.example', To: 'bob@clinic.example', Subject: 'x' })));
    await c.quit();
    await first.logs.waitFor('delivery.held');
    await first.relay.stop();
    env.relay = undefined;
    expect(env.google.fake.sent).toHaveLength(0);

    // On disk, in the message's sealed metadata: readable with the key, not without it.
    const stored = (await (await Spool.open(spoolDir(), { recover: false, keys })).find(id))!;
    expect(stored.meta).toMatchObject({ listener: 'front-desk-listener', device: 'ehr-workstation-7' });
    for (const dir of ['data', 'queue']) {
      for (const name of readdirSync(path.join(spoolDir(), dir))) {
        const raw = readFileSync(path.join(spoolDir(), dir, name), 'latin1');
        expect(raw).not.toContain('front-desk-listener');
        expect(raw).not.toContain('ehr-workstation-7');
      }
    }

    env.google.fake.authorize(env.google.sa.clientId, GMAIL_SEND);
    const second = await startTestRelay(doc);
    env.relay = second.relay;
    await second.logs.waitFor('delivery.ok');
    const audit = await auditOf(id, keys);
    expect(audit).toMatchObject({
      queueId: id,
      outcome: 'delivered',
      listener: 'front-desk-listener',
      client: { address: '127.0.0.1' },
      device: 'ehr-workstation-7',
      acceptedAt: stored.meta.receivedAt,
      providerId: env.google.fake.sent[0]!.id,
      recipients: ['bob@clinic.example'],
    });
    expect(audit.attempts).toBeGreaterThanOrEqual(2); // the held attempt(s) before the stop count
  });

  it('metadata written before the spool kept the origin loads and is delivered; its record has no listener or device', async () => {
    const keys = SpoolKeys.none();
    const spool = await Spool.open(spoolDir(), { keys });
    const id = createQueueId();
    const bytes = Buffer.from(message({ From: 'alice@clinic.example', To: 'bob@clinic.example', Subject: 'old' }));
    const w = spool.createWriter(id);
    await w.write(bytes);
    const now = new Date().toISOString();
    const old = makeMeta(id, { mailFrom: 'alice@clinic.example', sender: 'alice@clinic.example', recipients: ['bob@clinic.example'], headerRecipients: ['bob@clinic.example'], from: 'alice@clinic.example', receivedAt: now, nextAttemptAt: now, size: w.size, sha256: w.sha256(), client: { address: '192.0.2.7' } });
    expect(old).not.toHaveProperty('listener');
    await w.commit(old);

    const { relay, logs } = await startTestRelay(gmailConfig(env.dir, env.google));
    env.relay = relay;
    await logs.waitFor('delivery.ok');
    const audit = await auditOf(id, keys);
    expect(audit).toMatchObject({ queueId: id, outcome: 'delivered', client: { address: '192.0.2.7' }, acceptedAt: now, recipients: ['bob@clinic.example'] });
    expect(audit).not.toHaveProperty('listener');
    expect(audit).not.toHaveProperty('device');
  });
});
