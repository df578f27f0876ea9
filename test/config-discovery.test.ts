/** Which config a command uses without --config, and what relative paths in it mean. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CliExit } from '../src/cli/exit-codes.js';
import { SYSTEM_CONFIG_PATH, chooseConfig, exampleNotice, isSourceCheckout } from '../src/cli/context.js';
import { EXAMPLE_CONFIG_PATH, loadConfig, readConfigDocument } from '../src/config/index.js';
import { parseSmimeConfig } from '../src/smime/index.js';
import { removeDir, tempDir } from './support/harness.js';

const dir = tempDir('wr-discovery-');
afterAll(() => removeDir(dir));

describe('config discovery', () => {
  const system = '/etc/workspace-relay/config.yaml';

  it('--config wins, then WORKSPACE_RELAY_CONFIG', () => {
    const env = { WORKSPACE_RELAY_CONFIG: '/srv/env.yaml' };
    expect(chooseConfig('/srv/flag.yaml', env, { exists: () => true })).toMatchObject({ path: '/srv/flag.yaml', source: 'flag', isExample: false });
    expect(chooseConfig(undefined, env, { exists: () => true })).toMatchObject({ path: '/srv/env.yaml', source: 'env', isExample: false });
  });

  it('without either, /etc/workspace-relay/config.yaml when it exists, in a checkout too', () => {
    expect(SYSTEM_CONFIG_PATH).toBe(system);
    const seen: string[] = [];
    const c = chooseConfig(undefined, {}, { exists: (f) => (seen.push(f), f === system), isCheckout: true });
    expect(c).toMatchObject({ path: system, source: 'system', isExample: false });
    expect(seen).toEqual([system]);
    expect(exampleNotice(c)).toBeNull();
  });

  it('the example (a dry run) only from a source checkout, and it says so', () => {
    const c = chooseConfig(undefined, {}, { exists: () => false, isCheckout: true });
    expect(c).toMatchObject({ path: EXAMPLE_CONFIG_PATH, source: 'example', isExample: true });
    expect(exampleNotice(c)).toMatch(/no --config, no WORKSPACE_RELAY_CONFIG and no \/etc\/workspace-relay\/config\.yaml: using this checkout's example config .*\(a dry run\)/);
    expect(isSourceCheckout()).toBe(true); // these tests run from the checkout
    expect(isSourceCheckout(dir)).toBe(false);
  });

  it('an installed copy with no config ends with exit 78, naming the file it looked for and the way out', () => {
    let err: unknown;
    try {
      chooseConfig(undefined, {}, { exists: () => false, isCheckout: false });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CliExit);
    expect((err as CliExit).exitCode).toBe(78);
    expect((err as CliExit).message).toMatch(/\/etc\/workspace-relay\/config\.yaml does not exist.*--config PATH/);
  });
});

describe('relative paths in a config file', () => {
  const etc = path.join(dir, 'etc');
  mkdirSync(path.join(etc, 'tls'), { recursive: true });
  const file = path.join(etc, 'config.yaml');
  writeFileSync(
    file,
    [
      'listen:',
      '  - port: 2525',
      '    tls: { mode: starttls, certFile: tls/cert.pem, keyFile: ./tls/key.pem }',
      'workspaces:',
      '  - name: clinic',
      '    domains: [clinic.example]',
      '    transport: gmail-api',
      '    gmailApi: { serviceAccountKeyFile: sa.json }',
      '  - name: lab',
      '    domains: [lab.example]',
      '    transport: smtp',
      '    smtp: { user: relay@lab.example, appPasswordFile: ../secrets/app-password, caFile: /abs/ca.pem }',
      '    outbox: { dir: outbox }',
      'queue: { dir: ../spool }',
      'control: { socket: run/control.sock }',
      'smime:',
      '  serviceAccountKeyFile: smime-sa.json',
      '  workspaces: [{ name: lab, domains: [lab.example], serviceAccountKeyFile: lab-smime.json }]',
    ].join('\n'),
  );

  it('are relative to the file, not to the directory the command runs in', () => {
    const cwd = process.cwd();
    process.chdir(dir); // anywhere else
    try {
      const c = loadConfig(path.relative(dir, file));
      expect(c.queue.dir).toBe(path.join(dir, 'spool'));
      expect(c.control.socket).toBe(path.join(etc, 'run/control.sock'));
      expect(c.listen[0]!.tls).toMatchObject({ certFile: path.join(etc, 'tls/cert.pem'), keyFile: path.join(etc, 'tls/key.pem') });
      expect(c.workspaces[0]!.gmailApi!.serviceAccountKeyFile).toBe(path.join(etc, 'sa.json'));
      expect(c.workspaces[1]!.smtp).toMatchObject({ appPasswordFile: path.join(dir, 'secrets/app-password'), caFile: '/abs/ca.pem' });
      expect(c.workspaces[1]!.outbox!.dir).toBe(path.join(etc, 'outbox'));
      // audit.file defaults to the spool directory, which the relay's user can write
      expect(c.audit.file).toBe(path.join(dir, 'spool', 'audit.log'));
      const smime = parseSmimeConfig(readConfigDocument(file));
      expect(smime.serviceAccountKeyFile).toBe(path.join(etc, 'smime-sa.json'));
      expect(smime.workspaces[0]!.serviceAccountKeyFile).toBe(path.join(etc, 'lab-smime.json'));
      expect(smime.auditLog).toBe(path.join(dir, 'spool', 'audit.log'));
    } finally {
      process.chdir(cwd);
    }
  });

  it("the checkout's example keeps its dry run in the checkout's var/", () => {
    const c = loadConfig(EXAMPLE_CONFIG_PATH);
    const root = path.resolve(path.dirname(EXAMPLE_CONFIG_PATH), '..');
    expect(c.queue.dir).toBe(path.join(root, 'var', 'spool'));
    expect(c.workspaces[0]!.outbox!.dir).toBe(path.join(root, 'var', 'outbox'));
  });
});
