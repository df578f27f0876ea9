/**
 * `workspace-relay status` as an admin runs it against the real daemon (a process of its own):
 * running or not, and why mail waits. The commands run in this process (the same program).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueueAdmin } from '../src/control/index.js';
import type { Spool, SpoolState } from '../src/spool/index.js';
import { startDaemon, writeConfigFile, type Daemon } from './support/daemon.js';
import { type GoogleEnv, gmailConfig, removeDir, startGoogle, tempDir, waitUntil } from './support/harness.js';
import { runProgram } from './support/program.js';
import { makeMeta } from './support/spool-meta.js';

const SEND_SCOPE = 'https://www.googleapis.com/auth/gmail.send';

describe('workspace-relay status', () => {
  let dir: string;
  let google: GoogleEnv;
  let configFile: string;
  let daemon: Daemon | undefined;

  beforeAll(async () => {
    dir = tempDir('wr-status-');
    google = await startGoogle(dir);
    configFile = writeConfigFile(dir, gmailConfig(dir, google));
  });
  afterAll(async () => {
    daemon?.child.kill('SIGKILL');
    await google.fake.close();
    removeDir(dir);
  });

  const status = (...args: string[]) => runProgram(['--config', configFile, 'status', ...args]);

  it('not running: exit 3 and a plain sentence (also as JSON)', async () => {
    const r = await status();
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^workspace-relay is not running \(nothing answers on .*control\.sock\)/);
    const j = await status('--json');
    expect(j.code).toBe(3);
    expect(JSON.parse(j.stdout)).toMatchObject({ running: false, code: 'control.unavailable' });
  });

  it('running: pid, uptime, listeners, the queue by state, and held mail with its reason and fix', async () => {
    google.fake.revoke(google.sa.clientId);
    daemon = await startDaemon(configFile);
    const sent = await runProgram(['--config', configFile, 'send-test', '--from', 'alice@clinic.example', '--to', 'bob@clinic.example', '--server', `127.0.0.1:${daemon.port}`, '--json']);
    expect(sent.code).toBe(0);
    const queueId = (JSON.parse(sent.stdout) as { queueId: string }).queueId;
    await waitUntil(() => daemon!.lines.some((l) => l.event === 'delivery.held' && l.queueId === queueId));

    const r = await status('--json');
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s).toMatchObject({
      running: true,
      pid: daemon.child.pid,
      config: configFile,
      listeners: [{ host: '127.0.0.1', port: daemon.port, tls: 'none' }],
      queue: { hold: { count: 0, oldestReceivedAt: null }, dead: { count: 0 } },
      workspaces: [
        {
          name: 'clinic',
          transport: 'gmail-api',
          waiting: 1,
          // no gmailApi.scopes: the relay asked for gmail.send, then https://mail.google.com/
          held: { count: 1, code: 'delivery.token.no_send_scope' },
          lastDelivery: null,
        },
      ],
    });
    expect(s.uptimeSeconds).toBeGreaterThanOrEqual(0);
    expect(s.queue.queue.count + s.queue.active.count).toBe(1);
    expect(s.workspaces[0].held.fix).toContain(`authorise client ID ${google.sa.clientId} for scope ${SEND_SCOPE}`);

    const text = await status();
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`^workspace-relay \\S+ is running: pid ${daemon.child.pid}, up \\d+s`, 'm'));
    expect(text.stdout).toContain(`127.0.0.1:${daemon.port} (none)`);
    expect(text.stdout).toMatch(/^clinic +gmail-api +1 +none since start +1: delivery\.token\.no_send_scope$/m);
    expect(text.stdout).toMatch(/^ {2}fix: authorise client ID/m);
  });

  it('once delegation works again: the last delivery, and nothing held', async () => {
    google.fake.authorize(google.sa.clientId, [SEND_SCOPE]);
    await waitUntil(() => daemon!.lines.some((l) => l.event === 'delivery.ok'), 15_000);
    const s = JSON.parse((await status('--json')).stdout);
    expect(s.workspaces[0]).toMatchObject({ waiting: 0, held: null, lastDelivery: { queueId: expect.any(String), at: expect.stringMatching(/^\d{4}-/) } });
    daemon!.child.kill('SIGTERM');
    expect(await daemon!.exited).toBe(0);
    daemon = undefined;
    expect((await status()).code).toBe(3);
  });
});

describe('the spool as status and queue list count it', () => {
  it('a message the scheduler moves from queue/ to active/ while the directories are read is counted once, as active', async () => {
    const meta = makeMeta('1M942FC6C0BBR0');
    // queue/ is read first, then active/: the rename happened in between
    const spool = { list: async (state: SpoolState) => (state === 'queue' || state === 'active' ? [meta] : []) } as unknown as Spool;
    const items = await new QueueAdmin({ spool }).list(['queue', 'active', 'hold', 'dead']);
    expect(items.map((m) => [m.id, m.state])).toEqual([['1M942FC6C0BBR0', 'active']]);
  });
});
