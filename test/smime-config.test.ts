import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/errors.js';
import { configErrorReport } from '../src/config/index.js';
import { DEFAULT_API_ROOT_URL, DEFAULT_TOKEN_URL } from '../src/config/index.js';
import {
  GMAIL_SETTINGS_BASIC_SCOPE,
  GMAIL_SETTINGS_SHARING_SCOPE,
  parseSmimeConfig,
  smimeConfigWarnings,
  smimeWorkspaceFor,
} from '../src/smime/index.js';

function configError(doc: unknown): ConfigError {
  try {
    parseSmimeConfig(doc);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('smime config section', () => {
  it('defaults to the two settings scopes (not gmail.send), ./var/audit.log and Google endpoints', () => {
    const c = parseSmimeConfig({ workspaces: [], smime: { serviceAccountKeyFile: '/etc/wr/smime.json' } });
    expect(c.scopes).toEqual([GMAIL_SETTINGS_BASIC_SCOPE, GMAIL_SETTINGS_SHARING_SCOPE]);
    expect(c.auditLog).toBe('./var/audit.log');
    expect(c.tokenUrl).toBe(DEFAULT_TOKEN_URL);
    expect(c.apiRootUrl).toBe(DEFAULT_API_ROOT_URL);
    expect(c.workspaces).toEqual([]);
  });

  it('explains a missing section: its own credentials, which scopes', () => {
    const err = configError({ workspaces: [] });
    expect(err.path).toBe('smime');
    expect(err.message).toMatch(/smime: is missing: .*serviceAccountKeyFile.*gmail\.settings\.basic and gmail\.settings\.sharing/);
  });

  it('names the key path of every problem', () => {
    const err = configError({
      smime: {
        serviceAccountKeyFile: '/k.json',
        scop: [],
        workspaces: [
          { name: 'a', domains: ['clinic.example'] },
          { name: 'b', domains: ['Clinic.Example'], users: ['not-an-address'] },
        ],
      },
    });
    const report = configErrorReport(err);
    expect(report).toContain('smime: unknown key scop');
    expect(report).toContain('smime.workspaces[1].users[0]: expected an email address');
    expect(report).toContain('smime.workspaces[1].domains[0]: domain clinic.example already belongs to S/MIME workspace "a"');
  });

  it('needs a key for every workspace, from the workspace or the top level', () => {
    const err = configError({ smime: { workspaces: [{ name: 'a', domains: ['a.example'] }] } });
    expect(err.path).toBe('smime.workspaces[0].serviceAccountKeyFile');
    expect(configError({ smime: {} }).path).toBe('smime.serviceAccountKeyFile');
  });

  it('finds the workspace of a user by name, domain or user list', () => {
    const c = parseSmimeConfig({
      smime: {
        serviceAccountKeyFile: '/top.json',
        workspaces: [
          { name: 'north', domains: ['north.example'], serviceAccountKeyFile: '/north.json' },
          { name: 'south', users: ['Dr.Who@elsewhere.example'] },
        ],
      },
    });
    expect(smimeWorkspaceFor(c, 'a@NORTH.example')?.name).toBe('north');
    expect(smimeWorkspaceFor(c, 'dr.who@elsewhere.example')?.name).toBe('south');
    expect(smimeWorkspaceFor(c, 'x@other.example')).toBeUndefined();
    expect(smimeWorkspaceFor(c, 'x@other.example', 'south')?.name).toBe('south');
    expect(() => smimeWorkspaceFor(c, 'x@other.example', 'west')).toThrow(/no S\/MIME workspace named "west" \(configured: north, south\)/);
  });
});

describe('smime least privilege', () => {
  it('warns when the S/MIME key is the relay daemon\'s own key', () => {
    const doc = {
      workspaces: [{ name: 'w', gmailApi: { serviceAccountKeyFile: '/etc/wr/relay.json' } }],
      smime: { serviceAccountKeyFile: '/etc/wr/../wr/relay.json' },
    };
    expect(smimeConfigWarnings(doc, parseSmimeConfig(doc))).toEqual([
      "smime.serviceAccountKeyFile is the relay's own key (workspaces[0].gmailApi.serviceAccountKeyFile): use a separate service account for S/MIME, so the relay never holds the settings scopes",
    ]);
    const separate = { ...doc, smime: { serviceAccountKeyFile: '/etc/wr/smime.json' } };
    expect(smimeConfigWarnings(separate, parseSmimeConfig(separate))).toEqual([]);
  });
});
