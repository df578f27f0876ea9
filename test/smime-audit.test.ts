import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { appendAudit, auditActor } from '../src/audit/index.js';

describe('audit log', () => {
  it('appends one JSON line per change, creating the file 0600 (and its directory 0700)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'wr-audit-'));
    const file = path.join(dir, 'var', 'audit.log');
    const who = { osUser: 'admin' };
    await appendAudit(file, { action: 'smime.insert', who, user: 'a@x.example', certificateId: 'c1' }, new Date('2030-01-02T03:04:05Z'));
    await appendAudit(file, { action: 'smime.delete', who, user: 'a@x.example', certificateId: 'c1' });
    const lines = readFileSync(file, 'utf8').split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('');
    expect(JSON.parse(lines[0]!)).toEqual({ at: '2030-01-02T03:04:05.000Z', action: 'smime.insert', who, user: 'a@x.example', certificateId: 'c1' });
    expect(JSON.parse(lines[1]!).action).toBe('smime.delete');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
  });

  it('drops fields that look secret even if a caller passes them', async () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'wr-audit-')), 'audit.log');
    await appendAudit(file, {
      action: 'smime.insert',
      who: { osUser: 'admin' },
      password: 'hunter2',
      encryptedKeyPassword: 'hunter3',
      pkcs12: 'MIIK',
      privateKey: 'PEM',
      alias: 'a@x.example',
    });
    const text = readFileSync(file, 'utf8');
    expect(text).not.toMatch(/hunter|MIIK|PEM/);
    expect(JSON.parse(text).alias).toBe('a@x.example');
  });

  it('records the OS user and the sudo user behind it', () => {
    expect(auditActor({ SUDO_USER: 'jdoe' })).toEqual({ osUser: os.userInfo().username, sudoUser: 'jdoe' });
    expect(auditActor({})).toEqual({ osUser: os.userInfo().username });
  });
});
