/** The real daemon process: a clean stop and a SIGKILL both leave accepted mail to deliver. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SmtpClient, message } from './support/smtp-client.js';
import { startDaemon, writeConfigFile } from './support/daemon.js';
import { type GoogleEnv, gmailConfig, removeDir, sleep, startGoogle, tempDir, waitUntil } from './support/harness.js';

describe('daemon restart', () => {
  let dir: string;
  let google: GoogleEnv;
  let configFile: string;

  beforeEach(async () => {
    dir = tempDir();
    google = await startGoogle(dir);
    const doc = gmailConfig(dir, google);
    configFile = writeConfigFile(dir, { ...doc, log: { level: 'info' } });
  });
  afterEach(async () => {
    await google.fake.close();
    removeDir(dir);
  });

  async function spoolHeldMail(port: number, n: number) {
    const c = await SmtpClient.open(port);
    for (let i = 0; i < n; i++) {
      const r = await c.send('alice@clinic.example', ['bob@clinic.example'], message({ From: 'alice@clinic.example', To: 'bob@clinic.example', 'Message-ID': `<r${i}@x>` }));
      expect(r.code).toBe(250);
    }
    await c.quit();
  }

  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    it(`delivers mail accepted before a ${signal} once started again`, async () => {
      google.fake.revoke(google.sa.clientId); // mail is held, not delivered
      const first = await startDaemon(configFile);
      await spoolHeldMail(first.port, 5);
      await waitUntil(() => first.lines.filter((l) => l.event === 'delivery.held').length >= 1, 10_000, 'held');
      first.child.kill(signal);
      const code = await first.exited;
      if (signal === 'SIGTERM') expect(code).toBe(0);
      expect(google.fake.sent).toHaveLength(0);
      google.fake.authorize(google.sa.clientId, ['https://www.googleapis.com/auth/gmail.send']);
      await sleep(10);
      const second = await startDaemon(configFile);
      try {
        await waitUntil(() => google.fake.sent.length === 5, 15_000, 'all five delivered');
        const ids = google.fake.sent.map((s) => /Message-ID: <(r\d)@x>/.exec(s.raw.toString())?.[1]).sort();
        expect(ids).toEqual(['r0', 'r1', 'r2', 'r3', 'r4']);
      } finally {
        second.child.kill('SIGTERM');
        await second.exited;
      }
    });
  }
});
