/**
 * The per-message audit trail (issue 19 item 5): one audit record per message that leaves the
 * queue for good, saying who handed it over (listener, client, device account), the sender, the
 * recipients Gmail took (Bcc included; a refused outside recipient never), when it was accepted
 * and finished, the outcome and Google's id; `trace --audit` exports them; a marker in subject or
 * body is in no trace file, with or without spool encryption.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SpoolKeys } from '../src/crypt/index.js';
import { TraceFiles, findTraces, type AuditRecord } from '../src/trace/index.js';
import { deviceHash } from './support/edge.js';
import { gmailConfig, relayEnv, startTestRelay, waitUntil } from './support/harness.js';
import { SmtpClient, message, queueIdOf } from './support/smtp-client.js';
import { testKeys, writeKeyFileFor } from './support/spool-crypt.js';
import { traceCli } from './support/trace-cli.js';

const plain = (user: string, pass: string) => Buffer.from(`\0${user}\0${pass}`).toString('base64');

describe('message audit trail', () => {
  const env = relayEnv();
  const traceDir = () => path.join(env.dir, 'spool', 'trace');
  const audits = async (queueId: string) => {
    const files = TraceFiles.inSpool(path.join(env.dir, 'spool'));
    return (await findTraces(files, { queueId })).traces[0]?.audits.at(-1) ?? null;
  };

  for (const encrypted of [false, true]) {
    it(`a delivered message: one audit record with who, sender, every recipient Gmail got (Bcc too, never a refused outsider), times and Google id${encrypted ? ' (encrypted spool)' : ''}`, async () => {
      const marker = `MARK${randomBytes(8).toString('hex')}`;
      const base = gmailConfig(env.dir, env.google, {
        listen: [{ host: '127.0.0.1', port: 0, name: 'front-desk', auth: { allowPlaintext: true } }],
        devices: [{ username: 'ehr', passwordHash: await deviceHash('ehr-pw'), workspace: 'clinic' }],
        audit: { file: path.join(env.dir, 'audit.log') },
      });
      const keys = encrypted ? testKeys() : SpoolKeys.none();
      const doc = encrypted ? { ...base, queue: { ...base.queue, encryption: { keyFiles: [writeKeyFileFor(path.join(env.dir, 'spool.key'), keys)] } } } : base;
      const { relay, logs, port, config } = await startTestRelay(doc);
      env.relay = relay;
      const c = await SmtpClient.open(port);
      expect((await c.cmd(`AUTH PLAIN ${plain('ehr', 'ehr-pw')}`)).code).toBe(235);
      expect((await c.cmd('MAIL FROM:<alice@clinic.example>')).code).toBe(250);
      expect((await c.cmd('RCPT TO:<bob@clinic.example>')).code).toBe(250);
      expect((await c.cmd('RCPT TO:<eve@outside.example>')).code).toBe(550);
      expect((await c.cmd('RCPT TO:<carol@clinic.example>')).code).toBe(250); // a Bcc: in no header
      const reply = await c.data(message({ From: 'alice@clinic.example', To: 'bob@clinic.example', Subject: `Results ${marker}` }, `Patient ${marker}.\r\n`));
      expect(reply.code).toBe(250);
      const id = queueIdOf(reply);
      await c.quit();
      await logs.waitFor('delivery.ok');
      const sent = env.google.fake.sent[0]!;
      const files = TraceFiles.inSpool(path.join(env.dir, 'spool'), keys);
      await waitUntil(async () => Boolean((await findTraces(files, { queueId: id })).traces[0]?.audits.length), 10_000, 'the audit record');
      const [t] = (await findTraces(files, { queueId: id })).traces;
      expect(t!.audits).toHaveLength(1);
      const audit = t!.audits[0]!;
      expect(audit).toMatchObject({
        type: 'audit',
        queueId: id,
        workspace: 'clinic',
        listener: 'front-desk',
        client: { address: '127.0.0.1' },
        device: 'ehr',
        mailFrom: 'alice@clinic.example',
        sender: 'alice@clinic.example',
        outcome: 'delivered',
        transport: 'gmail-api',
        providerId: sent.id,
        acceptedAt: t!.accepted!.at,
        attempts: 1,
      });
      expect([...audit.recipients].sort()).toEqual(['bob@clinic.example', 'carol@clinic.example']);
      expect(JSON.stringify(audit)).not.toContain('eve@outside.example');
      expect(Date.parse(audit.at)).toBeGreaterThanOrEqual(Date.parse(audit.acceptedAt));

      // exactly one, and exported alone as a JSON line
      const out = await traceCli(config, ['--audit', '--since', '1h']);
      const lines = out.trim().split('\n').map((l) => JSON.parse(l) as AuditRecord);
      expect(lines).toEqual([audit]);
      const records = [];
      for await (const r of files.read()) if (r.type === 'audit') records.push(r);
      expect(records).toEqual([audit]);
      expect(await traceCli(config, ['--id', id])).toMatch(/\n {2}audit {7}.* delivered, delivered to (bob|carol)@clinic\.example, (bob|carol)@clinic\.example\n/);

      // no subject or body in any trace file (sealed or not)
      for (const name of readdirSync(traceDir())) {
        const raw = readFileSync(path.join(traceDir(), name), 'utf8');
        expect(raw).not.toContain(marker);
        if (encrypted) expect(raw).not.toContain('carol@clinic.example');
      }
    });
  }

  it('a dead message: one audit record with its failure code and no recipient delivered', async () => {
    env.google.fake.addUser('postmaster@clinic.example');
    const { relay, logs, port } = await startTestRelay(gmailConfig(env.dir, env.google));
    env.relay = relay;
    const c = await SmtpClient.open(port);
    const dead = queueIdOf(await c.send('nobody@clinic.example', ['alice@clinic.example'], message({ From: 'nobody@clinic.example', To: 'alice@clinic.example', Subject: 'x' })));
    await c.quit();
    await logs.waitFor('delivery.failed');
    await waitUntil(async () => (await audits(dead)) !== null, 10_000, 'the audit record');
    const audit = await audits(dead);
    expect(audit).toMatchObject({ queueId: dead, outcome: 'failed', code: 'delivery.no_such_user', recipients: [], undelivered: ['alice@clinic.example'], sender: 'nobody@clinic.example', client: { address: '127.0.0.1' } });
    expect(audit!.listener).toEqual(expect.any(String));
    expect(audit!.providerId).toBeUndefined();
  });
});
