/**
 * `send-test --wait`: the message followed from the 250 to Google's message id, or to the
 * failure with its fix; exit 0 only when it was delivered.
 */
import { describe, expect, it } from 'vitest';
import type { ConfigInput } from '../src/config/index.js';
import { writeConfigFile } from './support/daemon.js';
import { freePort, gmailConfig, relayEnv, startTestRelay } from './support/harness.js';
import { runProgram } from './support/program.js';

describe('send-test --wait', () => {
  const env = relayEnv();
  let file: string;
  let port: number;

  async function start(doc: ConfigInput): Promise<void> {
    file = writeConfigFile(env.dir, doc);
    const started = await startTestRelay(doc);
    env.relay = started.relay;
    port = started.port;
  }
  const sendTest = (...extra: string[]) =>
    runProgram(['--config', file, 'send-test', '--from', 'alice@clinic.example', '--to', 'bob@clinic.example', '--server', `127.0.0.1:${port}`, '--wait', ...extra]);

  it("waits for Google's message id, and exits 0", async () => {
    await start(gmailConfig(env.dir, env.google));
    const r = await sendTest();
    expect(r.stderr).toBe('');
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^accepted by 127\\.0\\.0\\.1:${port}: 250 2\\.0\\.0 Ok: queued as \\S+$`));
    const sent = env.google.fake.sent.at(-1)!;
    expect(lines.at(-1)).toBe(`delivered (workspace clinic): message id ${sent.id}`);
    expect(r.code).toBe(0);
  }, 30_000);

  it('--json: the queue id, and what became of it', async () => {
    await start(gmailConfig(env.dir, env.google));
    const r = await sendTest('--json');
    const out = JSON.parse(r.stdout) as { accepted: boolean; queueId: string; wait: { outcome: string; providerId: string } };
    expect(out).toMatchObject({ accepted: true, wait: { outcome: 'delivered', providerId: env.google.fake.sent.at(-1)!.id, workspace: 'clinic', partial: false } });
    expect(r.code).toBe(0);
  }, 30_000);

  it('a delegation error: held, with the client ID and scope to authorise; exit 1', async () => {
    await start(gmailConfig(env.dir, env.google));
    env.google.fake.revoke(env.google.sa.clientId);
    const r = await sendTest();
    expect(r.code).toBe(1);
    const lines = r.stdout.trimEnd().split('\n');
    // The default config asks for the sending scope on its own (gmail.send, else mail.google.com):
    // neither is authorised.
    expect(lines[1]).toMatch(/^held: delivery\.token\.no_send_scope: Google refused a token as alice@clinic\.example \(unauthorized_client\)/);
    expect(lines[2]).toBe(
      `  fix: authorise client ID ${env.google.sa.clientId} for scope https://www.googleapis.com/auth/gmail.send in Admin console → Security → Access and data control → API controls → Domain-wide delegation (least privilege; https://mail.google.com/, which many set-up guides name, also works but lets the key read every mailbox); changes can take up to 24 h to propagate`,
    );
    expect(lines[3]).toMatch(/^ {2}the message stays queued and is retried \(queue show \S+\); fix it, then: workspace-relay queue retry \S+$/);
    expect(env.google.fake.sent).toHaveLength(0);
  }, 30_000);

  it('a sender Google has no user for: failed (dead), with the fix; exit 1', async () => {
    const doc = gmailConfig(env.dir, env.google);
    doc.workspaces[0]!.senders = { map: { 'alice@clinic.example': 'gone@clinic.example' }, default: null };
    await start(doc);
    const r = await sendTest('--json');
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as { wait: { outcome: string; code: string; fix: string } };
    expect(out.wait).toMatchObject({ outcome: 'failed', code: 'delivery.no_such_user', state: 'dead' });
    expect(out.wait.fix).toMatch(/gone@clinic\.example must be a real user with Gmail/);
  }, 30_000);

  it('a temporary failure is shown with its fix and waited through; past --timeout: exit 75', async () => {
    const closed = await freePort(); // the Gmail API cannot be reached: refused
    const doc = gmailConfig(env.dir, env.google, { google: { tokenUrl: env.google.fake.tokenUrl, apiRootUrl: `http://127.0.0.1:${closed}/` } });
    doc.queue = { ...doc.queue, retrySchedule: '1h' };
    await start(doc);
    const r = await sendTest('--timeout', '1500ms');
    expect(r.code).toBe(75);
    const out = r.stdout;
    expect(out).toMatch(/attempt 1 failed, will retry: delivery\.network\.refused: the connection to 127\.0\.0\.1:\d+ was refused \(ECONNREFUSED\): will retry/);
    expect(out).toContain(`  fix: allow outgoing TCP to 127.0.0.1:${closed} in the firewall`);
    expect(out).toMatch(/not delivered within 1500ms: last attempt delivery\.network\.refused: /);
    expect(out).toMatch(/the relay keeps trying \(next attempt [^)]+\): workspace-relay queue show \S+/);
  }, 30_000);
});
