/** The command line as an admin runs it: real processes, exit codes, what they print. */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startDaemon, writeConfigFile } from './support/daemon.js';
import { type GoogleEnv, gmailConfig, removeDir, startGoogle, tempDir } from './support/harness.js';

describe('workspace-relay CLI', () => {
  let dir: string;
  let google: GoogleEnv;
  let configFile: string;

  beforeAll(async () => {
    dir = tempDir();
    google = await startGoogle(dir);
    configFile = writeConfigFile(dir, gmailConfig(dir, google));
  });
  afterAll(async () => {
    await google.fake.close();
    removeDir(dir);
  });

  it('check: ok for authorised users, exit 0', async () => {
    const r = await runCli(['--config', configFile, 'check', 'alice@clinic.example']);
    expect(r.stdout).toMatch(/ok +alice@clinic\.example/);
    expect(r.stdout).toContain(`client ID ${google.sa.clientId}`);
    expect(r.code).toBe(0);
  });

  it('check: names the client ID, scope and Admin console page when delegation is missing, exit 1', async () => {
    google.fake.revoke(google.sa.clientId);
    try {
      const r = await runCli(['check', 'alice@clinic.example'], { WORKSPACE_RELAY_CONFIG: configFile });
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/FAIL +alice@clinic\.example/);
      expect(r.stdout).toContain(
        `authorise client ID ${google.sa.clientId} for scope https://www.googleapis.com/auth/gmail.send in Admin console → Security → Access and data control → API controls → Domain-wide delegation`,
      );
    } finally {
      google.fake.authorize(google.sa.clientId, ['https://www.googleapis.com/auth/gmail.send']);
    }
  });

  it('check: says when the user does not exist', async () => {
    const r = await runCli(['--config', configFile, 'check', 'nobody@clinic.example']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/FAIL +nobody@clinic\.example: .*(no such user|not .*exist)/i);
  });

  it('a bad config exits 78 naming the key and the fix', async () => {
    const bad = path.join(dir, 'bad.yaml');
    writeFileSync(bad, 'workspaces:\n  - name: clinic\n    domains: [clinic.example]\n    transport: gmail-api\nqueue: { dir: x }\n');
    const r = await runCli(['--config', bad, 'serve']);
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(/workspaces\[0\]\.gmailApi: transport is "gmail-api", so this workspace needs a "gmailApi" section/);
  });

  it('a key file others can read is refused at start with the chmod to run', async () => {
    const doc = gmailConfig(dir, google);
    const open = path.join(dir, 'open-sa.json');
    writeFileSync(open, JSON.stringify(google.sa.json), { mode: 0o644 });
    doc.workspaces[0]!.gmailApi = { serviceAccountKeyFile: open };
    const r = await runCli(['--config', writeConfigFile(dir, doc, 'open.yaml'), 'serve']);
    expect(r.code).toBe(78);
    expect(r.stderr).toContain(`chmod 600 ${open}`);
  });

  it('serve with an outbox workspace says plainly that it is a dry run, and send-test goes through', async () => {
    const doc = gmailConfig(dir, google);
    doc.workspaces[0] = { name: 'clinic', domains: ['clinic.example'], transport: 'outbox', outbox: { dir: path.join(dir, 'outbox') } };
    const file = writeConfigFile(dir, doc, 'dry.yaml');
    const d = await startDaemon(file);
    try {
      const dry = d.lines.find((l) => l.event === 'relay.dry_run');
      expect(dry?.msg).toMatch(/DRY RUN.*transport: gmail-api/);
      const r = await runCli(['--config', file, 'send-test', '--from', 'alice@clinic.example', '--to', 'bob@clinic.example', '--server', `127.0.0.1:${d.port}`]);
      expect(r.stdout).toMatch(/accepted by 127\.0\.0\.1:\d+: 250 2\.0\.0 Ok: queued as \S+\nnot delivered yet: --wait follows it to Google/);
      expect(r.code).toBe(0);
    } finally {
      d.child.kill('SIGTERM');
      expect(await d.exited).toBe(0);
    }
  });
});
