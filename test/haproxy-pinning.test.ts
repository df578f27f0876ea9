/**
 * Per-user limits across two instances (issue 18): each instance counts a user's sends in its
 * own spool, so a practice must be pinned to one instance. Two relays (each its own spool and
 * daily counts, queue.dailyMessages 5) behind a real HAProxy speaking PROXY v2, and a fake Gmail
 * whose per-user daily quota is also 5:
 * - pinned (the practice's frontend goes to instance A, B only as its backup): A sends five of
 *   alice's eight messages and holds the rest; Gmail refuses nothing;
 * - spread (roundrobin, the set-up pinning avoids): A and B each allow bob five, together more
 *   than his quota, and Gmail refuses what is over it.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Relay } from '../src/app.js';
import { EdgeClient, mail } from './support/edge-client.js';
import { type GoogleEnv, LogCapture, freePort, gmailConfig, removeDir, sleep, startGoogle, startTestRelay, tempDir, waitUntil } from './support/harness.js';
import { HAPROXY_DEFAULTS, startHaproxy, type Haproxy } from './support/haproxy.js';

const DAILY = 5;
const MESSAGES = 8;

describe('per-user daily limits across two instances behind HAProxy', () => {
  let dir: string;
  let google: GoogleEnv;
  const relays: { relay: Relay; logs: LogCapture; port: number; spool: string }[] = [];
  let haproxy: Haproxy;
  const front = { pinned: 0, spread: 0 };

  beforeAll(async () => {
    dir = tempDir('wr-pin-');
    google = await startGoogle(dir, ['alice@clinic.example', 'bob@clinic.example']);
    google.fake.dailyQuota = DAILY;
    for (const name of ['a', 'b']) {
      const port = await freePort();
      const spool = path.join(dir, `spool-${name}`);
      const doc = gmailConfig(dir, google, {
        listen: [{ host: '127.0.0.1', port, allow: ['127.0.0.1'], proxyProtocol: { trusted: ['127.0.0.1'] }, greetingDelay: 0 }],
      });
      doc.queue = { ...doc.queue, dir: spool, dailyMessages: DAILY };
      const logs = new LogCapture();
      const { relay } = await startTestRelay(doc, logs);
      relays.push({ relay, logs, port, spool });
    }
    front.pinned = await freePort();
    front.spread = await freePort();
    const [a, b] = relays.map((r) => `127.0.0.1:${r.port}`);
    haproxy = await startHaproxy(
      dir,
      `${HAPROXY_DEFAULTS}
frontend clinic
  bind 127.0.0.1:${front.pinned}
  default_backend clinic

backend clinic
  server a ${a} send-proxy-v2 check check-send-proxy inter 1s
  server b ${b} send-proxy-v2 check check-send-proxy inter 1s backup

frontend spread
  bind 127.0.0.1:${front.spread}
  default_backend spread

backend spread
  balance roundrobin
  server a ${a} send-proxy-v2
  server b ${b} send-proxy-v2
`,
      [front.pinned, front.spread],
    );
  }, 30_000);

  afterAll(async () => {
    await haproxy?.stop();
    for (const r of relays) await r.relay.stop();
    await google?.fake.close();
    removeDir(dir);
  });

  /** One connection per message, as devices send (so roundrobin alternates between instances). */
  async function sendAs(port: number, user: string): Promise<void> {
    for (let i = 0; i < MESSAGES; i++) {
      const { client } = await EdgeClient.open(port);
      const reply = await client.send(user, ['bob@clinic.example'], mail({ From: user, To: 'bob@clinic.example', 'Message-ID': `<${user}-${port}-${i}@clinic.example>` }));
      expect(reply.code).toBe(250);
      await client.quit();
    }
  }
  const sentBy = (user: string) => google.fake.sent.filter((s) => s.user === user).length;
  const refusedFor = (user: string) => google.fake.quotaRefused.filter((r) => r.user === user).length;
  const queued = (spool: string) => readdirSync(path.join(spool, 'queue')).filter((f) => f.endsWith('.json')).length;
  const accepted = (i: number) => relays[i]!.logs.events('message.accepted').length;

  it('pinned: one instance counts all of the user, holds what is over the limit, and Gmail refuses nothing', async () => {
    await sendAs(front.pinned, 'alice@clinic.example');
    await waitUntil(() => sentBy('alice@clinic.example') === DAILY, 20_000, `${DAILY} of alice's messages at Gmail`);
    await waitUntil(() => relays[0]!.logs.events('pace.daily_limit').length > 0, 10_000, 'instance A to hold alice at her daily limit');
    await sleep(1500); // retries would come every 200 ms: give any over-limit send time to show
    expect(sentBy('alice@clinic.example')).toBe(DAILY);
    expect(refusedFor('alice@clinic.example')).toBe(0);
    expect(queued(relays[0]!.spool)).toBe(MESSAGES - DAILY);
    expect(accepted(0)).toBe(MESSAGES);
    expect(accepted(1)).toBe(0);
  });

  it('spread (roundrobin): the two instances together go over the user quota and Gmail refuses the excess', async () => {
    await sendAs(front.spread, 'bob@clinic.example');
    await waitUntil(() => refusedFor('bob@clinic.example') > 0, 20_000, 'Gmail to refuse bob over his quota');
    expect(sentBy('bob@clinic.example')).toBe(DAILY);
    // each instance took half, within its own count of bob's day
    expect([accepted(0), accepted(1)]).toEqual([MESSAGES + MESSAGES / 2, MESSAGES / 2]);
  });
});
