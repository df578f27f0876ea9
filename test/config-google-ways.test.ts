/** The config of the other ways into Google: gmail-xoauth2, smtp-relay, recipientCheck: directory. */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/errors.js';
import { parseConfig } from '../src/config/index.js';
import type { ConfigInput } from '../src/config/index.js';

const doc = (workspace: Record<string, unknown>): ConfigInput =>
  ({ workspaces: [{ name: 'clinic', domains: ['clinic.example'], ...workspace }], queue: { dir: './var/spool' } }) as ConfigInput;

function errorOf(d: unknown): string {
  try {
    parseConfig(d);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('config: gmail-xoauth2, smtp-relay, recipientCheck', () => {
  it('gmail-xoauth2: smtp.gmail.com:465 with implicit TLS by default; 587 means STARTTLS', () => {
    const c = parseConfig(doc({ transport: 'gmail-xoauth2', gmailXoauth2: { serviceAccountKeyFile: '/k.json' } }));
    expect(c.workspaces[0]!.gmailXoauth2).toEqual({ serviceAccountKeyFile: '/k.json', host: 'smtp.gmail.com', port: 465, secure: true });
    expect(parseConfig(doc({ transport: 'gmail-xoauth2', gmailXoauth2: { serviceAccountKeyFile: '/k.json', port: 587 } })).workspaces[0]!.gmailXoauth2!.secure).toBe(false);
    expect(errorOf(doc({ transport: 'gmail-xoauth2' }))).toBe('workspaces[0].gmailXoauth2: transport is "gmail-xoauth2", so this workspace needs a "gmailXoauth2" section');
  });

  it('smtp-relay: smtp-relay.gmail.com:587 with STARTTLS, no AUTH by default; an AUTH user must be inside the workspace', () => {
    const c = parseConfig(doc({ transport: 'smtp-relay', smtpRelay: {} }));
    expect(c.workspaces[0]!.smtpRelay).toEqual({ host: 'smtp-relay.gmail.com', port: 587, secure: false });
    expect(errorOf(doc({ transport: 'smtp-relay', smtpRelay: { user: 'relay@elsewhere.example', passwordFile: '/p' } }))).toBe(
      "workspaces[0].smtpRelay.user: relay@elsewhere.example is not in this workspace's domains (clinic.example)",
    );
    expect(errorOf(doc({ transport: 'smtp-relay', smtpRelay: { passwordFile: '/p' } }))).toMatch(/^workspaces\[0\]\.smtpRelay\.user: set both user and passwordFile/);
    expect(errorOf(doc({ transport: 'smtp-relay', smtpRelay: { heloName: 'bad name' } }))).toMatch(/^workspaces\[0\]\.smtpRelay\.heloName: a host name/);
  });

  it('recipientCheck: directory needs a directory entry, with sensible lifetimes by default', () => {
    expect(errorOf(doc({ transport: 'outbox', outbox: { dir: 'x' }, recipientCheck: 'directory' }))).toMatch(
      /^workspaces\[0\]\.directory: recipientCheck is "directory", so this workspace needs a "directory" section: serviceAccountKeyFile .* and adminUser$/,
    );
    const c = parseConfig(doc({ transport: 'outbox', outbox: { dir: 'x' }, recipientCheck: 'directory', directory: { serviceAccountKeyFile: '/d.json', adminUser: 'Admin@Clinic.example' } }));
    expect(c.workspaces[0]!.directory).toEqual({
      serviceAccountKeyFile: '/d.json',
      adminUser: 'admin@clinic.example',
      scopes: ['https://www.googleapis.com/auth/admin.directory.user.readonly', 'https://www.googleapis.com/auth/admin.directory.group.readonly'],
      customer: 'my_customer',
      foundTtl: 3_600_000,
      missingTtl: 300_000,
      timeout: 5_000,
    });
    expect(c.google.directoryRootUrl).toBe('https://admin.googleapis.com/');
    expect(errorOf(doc({ transport: 'outbox', outbox: { dir: 'x' }, directory: { serviceAccountKeyFile: '/d', adminUser: 'a@clinic.example', timeout: '5m' } }))).toMatch(
      /^workspaces\[0\]\.directory\.timeout: "5m" is too long: use at most 60s \(the client waits on it at RCPT\)/,
    );
  });
});
