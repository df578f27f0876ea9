/** One audit log for the queue and S/MIME CLIs, and a change that could not be audited is reported. */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { Spool, createQueueId, type MessageMeta } from '../src/spool/index.js';
import { parseSmimeConfig } from '../src/smime/index.js';
import { removeDir, tempDir } from './support/harness.js';
import { auditEntries, queueCli } from './queue-cli-helpers.js';

let dir: string;
beforeEach(() => {
  dir = tempDir('wr-qaudit-');
});
afterEach(() => removeDir(dir));

function doc(auditFile: string) {
  return parseConfig({
    workspaces: [{ name: 'clinic', domains: ['clinic.example'], transport: 'outbox', outbox: { dir: path.join(dir, 'outbox') } }],
    queue: { dir: path.join(dir, 'spool') },
    audit: { file: auditFile },
  });
}

describe('audit log', () => {
  it('the S/MIME CLI writes to audit.file unless smime.auditLog says otherwise', () => {
    const file = path.join(dir, 'shared-audit.log');
    expect(parseSmimeConfig({ audit: { file }, smime: { serviceAccountKeyFile: 'k.json' } }).auditLog).toBe(file);
    expect(parseSmimeConfig({ audit: { file }, smime: { serviceAccountKeyFile: 'k.json', auditLog: '/var/log/smime.log' } }).auditLog).toBe('/var/log/smime.log');
  });

  it('a change that was made but could not be audited exits 1 and says so', async () => {
    const spool = await Spool.open(path.join(dir, 'spool'));
    const id = createQueueId();
    const w = spool.createWriter(id);
    await w.write(Buffer.from('x'));
    const meta: MessageMeta = {
      version: 1, id, receivedAt: new Date().toISOString(), workspace: 'clinic', mailFrom: 'a@clinic.example', sender: 'a@clinic.example',
      recipients: ['b@clinic.example'], bcc: [], headerRecipients: ['b@clinic.example'], messageId: null, from: null, size: 1, sha256: '',
      client: { address: '127.0.0.1' }, attempts: 0, nextAttemptAt: new Date().toISOString(), lastError: null,
    };
    await w.commit(meta);
    const notAFile = path.join(dir, 'audit-dir');
    mkdirSync(notAFile);
    const r = await queueCli(doc(notAFile), ['hold', id]);
    expect(r.stdout).toContain(`held ${id}`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`queue hold was done, but the audit log ${notAFile} could not be written`);
    expect((await spool.find(id))?.state).toBe('hold');

    // reads are on record too (who looked at which messages' addresses); one that cannot be
    // written is a warning, and the admin still gets the answer
    const file = path.join(dir, 'audit.log');
    expect((await queueCli(doc(file), ['list'])).code).toBe(0);
    expect((await queueCli(doc(file), ['show', id])).code).toBe(0);
    expect((await queueCli(doc(file), ['find', '--recipient', 'b@clinic.example'])).code).toBe(0);
    expect((await queueCli(doc(file), ['dead'])).code).toBe(0);
    expect(auditEntries(file).map((e) => [e.action, e.outcome])).toEqual([
      ['queue.list', 'ok'],
      ['queue.show', 'ok'],
      ['queue.find', 'ok'],
      ['queue.dead', 'ok'],
    ]);
    expect(auditEntries(file)[2]).toMatchObject({ query: { recipient: 'b@clinic.example' }, ids: [id] });
    const unwritable = await queueCli(doc(notAFile), ['list']);
    expect(unwritable.code).toBe(0);
    expect(unwritable.stderr).toContain(`warning: the audit log ${notAFile} could not be written`);
  });
});
