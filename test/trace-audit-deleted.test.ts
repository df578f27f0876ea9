/**
 * Every message ends with an audit record (issue 19 item 5), a deleted one too: `queue delete`
 * (through the running relay, or on the spool when none runs) writes one with outcome `deleted`,
 * who deleted it and from where, so `trace --audit` shows the message's end; a dead message keeps
 * its `failed` record before it. With no relay, the record is sealed as the relay seals it, and
 * one that cannot be written is a warning (the deletion is done and in the audit log).
 */
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SpoolKeys } from '../src/crypt/index.js';
import { Spool, createQueueId } from '../src/spool/index.js';
import { TraceFiles, findTraces, type AuditRecord, type MessageTrace } from '../src/trace/index.js';
import { gmailConfig, relayEnv, startTestRelay, waitUntil } from './support/harness.js';
import { SmtpClient, message, queueIdOf } from './support/smtp-client.js';
import { makeMeta } from './support/spool-meta.js';
import { testKeys, writeKeyFileFor } from './support/spool-crypt.js';
import { traceCli } from './support/trace-cli.js';
import { auditEntries, queueCli } from './queue-cli-helpers.js';

const osUser = os.userInfo().username;

describe('audit record of a deleted message', () => {
  const env = relayEnv();
  const spoolDir = () => path.join(env.dir, 'spool');
  const auditFile = () => path.join(env.dir, 'audit.log');

  async function traceOf(id: string, keys = SpoolKeys.none(), n = 1): Promise<MessageTrace> {
    const files = TraceFiles.inSpool(spoolDir(), keys);
    let t: MessageTrace | undefined;
    await waitUntil(async () => ((t = (await findTraces(files, { queueId: id })).traces[0])?.audits.length ?? 0) >= n, 10_000, `${n} audit record(s)`);
    return t!;
  }

  it('queue delete through the relay: a held message ends with `deleted`, by whom, from where; a dead one keeps its `failed` record before it', async () => {
    env.google.fake.addUser('postmaster@clinic.example');
    const doc = gmailConfig(env.dir, env.google, { listen: [{ host: '127.0.0.1', port: 0, name: 'scanners' }], audit: { file: auditFile() } });
    env.google.fake.revoke(env.google.sa.clientId); // alice's mail is held
    const { relay, logs, port, config } = await startTestRelay({ ...doc, queue: { ...doc.queue, heldRetry: '1h' } });
    env.relay = relay;
    const c = await SmtpClient.open(port);
    const marker = `MARK${Date.now().toString(36)}Q`;
    const held = queueIdOf(await c.send('alice@clinic.example', ['bob@clinic.example'], message({ From: 'alice@clinic.example', To: 'bob@clinic.example', Subject: `Results ${marker}` }, `Patient ${marker}\r\n`)));
    await c.quit();
    await logs.waitFor('delivery.held');

    const r = await queueCli(config, ['delete', held], { env: { SUDO_USER: 'drsmith' } });
    expect(r.code).toBe(0);
    expect(auditEntries(auditFile()).at(-1)).toMatchObject({ action: 'queue.delete', ids: [held], via: 'daemon', outcome: 'ok' });
    const t = await traceOf(held);
    expect(t.outcome).toBe('deleted');
    expect(t.audits).toHaveLength(1);
    expect(t.audits[0]).toMatchObject({
      type: 'audit',
      queueId: held,
      outcome: 'deleted',
      deletedBy: { action: 'queue.delete', osUser, sudoUser: 'drsmith' },
      deletedFrom: 'queue',
      listener: 'scanners',
      client: { address: '127.0.0.1' },
      mailFrom: 'alice@clinic.example',
      recipients: [],
      undelivered: ['bob@clinic.example'],
      code: 'delivery.token.no_send_scope',
      acceptedAt: t.accepted!.at,
    } satisfies Partial<AuditRecord>);
    expect(t.audits[0]!.attempts).toBeGreaterThanOrEqual(1);
    const shown = await traceCli(config, ['--id', held]);
    expect(shown).toContain('deleted: removed from the spool undelivered');
    expect(shown).toMatch(new RegExp(`audit .* deleted from queue/ by queue\\.delete by ${osUser} \\(sudo: drsmith\\) delivery\\.token\\.no_send_scope, delivered to no one; not to bob@clinic\\.example`));

    // dead (no such user), then deleted: both records, in order
    env.google.fake.authorize(env.google.sa.clientId, ['https://www.googleapis.com/auth/gmail.send']);
    const c2 = await SmtpClient.open(port);
    const dead = queueIdOf(await c2.send('nobody@clinic.example', ['alice@clinic.example'], message({ From: 'nobody@clinic.example', To: 'alice@clinic.example', Subject: 'x' })));
    await c2.quit();
    await traceOf(dead);
    expect((await queueCli(config, ['delete', dead])).code).toBe(0);
    const d = await traceOf(dead, SpoolKeys.none(), 2);
    expect(d.audits.map((a) => [a.outcome, a.deletedFrom, a.code])).toEqual([
      ['failed', undefined, 'delivery.no_such_user'],
      ['deleted', 'dead', 'delivery.no_such_user'],
    ]);
    const exported = (await traceCli(config, ['--audit', '--id', dead])).trim().split('\n').map((l) => JSON.parse(l) as AuditRecord);
    expect(exported).toEqual(d.audits);
    // no subject or body in the trace, the log or the audit log
    for (const name of readdirSync(path.join(spoolDir(), 'trace'))) expect(readFileSync(path.join(spoolDir(), 'trace', name), 'utf8')).not.toContain(marker);
    expect(logs.raw.join('\n')).not.toContain(marker);
    expect(readFileSync(auditFile(), 'utf8')).not.toContain(marker);
  });

  it('queue delete with no relay running: the command writes the record, sealed with the spool key; one it cannot write is a warning', async () => {
    const keys = testKeys();
    const base = gmailConfig(env.dir, env.google, { audit: { file: auditFile() } });
    const doc = { ...base, queue: { ...base.queue, encryption: { keyFiles: [writeKeyFileFor(path.join(env.dir, 'spool.key'), keys)] } } };
    const { relay, config } = await startTestRelay(doc); // (a spool as the relay made it)
    await relay.stop();
    const spool = await Spool.open(spoolDir(), { keys });
    const put = async (over: Parameters<typeof makeMeta>[1] = {}) => {
      const id = createQueueId();
      const w = spool.createWriter(id);
      await w.write(Buffer.from(message({ From: 'alice@clinic.example', To: 'carol-direct@clinic.example', Subject: 'x' })));
      await w.commit(makeMeta(id, { recipients: ['carol-direct@clinic.example'], size: w.size, sha256: w.sha256(), listener: 'front-desk', device: 'ehr', nextAttemptAt: new Date(Date.now() + 3_600_000).toISOString(), ...over }));
      return id;
    };
    const id = await put();
    await spool.hold(id);

    const r = await queueCli(config, ['delete', id], { env: { SUDO_USER: 'drsmith' } });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('changed the spool directly');
    const t = await traceOf(id, keys);
    expect(t.audits).toEqual([
      expect.objectContaining({ outcome: 'deleted', deletedBy: { action: 'queue.delete', osUser, sudoUser: 'drsmith' }, deletedFrom: 'hold', listener: 'front-desk', device: 'ehr', undelivered: ['carol-direct@clinic.example'] }),
    ]);
    for (const name of readdirSync(path.join(spoolDir(), 'trace'))) {
      expect(readFileSync(path.join(spoolDir(), 'trace', name), 'latin1')).not.toContain('carol-direct@clinic.example');
    }

    // the trace cannot be written (a file where its directory goes): deleted all the same, with a warning
    const other = await put();
    const traceDir = path.join(spoolDir(), 'trace');
    rmSync(traceDir, { recursive: true });
    writeFileSync(traceDir, 'not a directory');
    const failed = await queueCli(config, ['delete', other]);
    expect(failed.code).toBe(0);
    expect(failed.stdout).toContain(`deleted ${other}`);
    expect(failed.stderr).toMatch(/warning: could not write the message trace/);
    expect(await spool.find(other)).toBeNull();
    expect(auditEntries(auditFile()).at(-1)).toMatchObject({ action: 'queue.delete', ids: [other], via: 'direct', outcome: 'ok' });
  });
});
