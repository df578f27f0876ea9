/**
 * transport: smtp-relay. Google's SMTP relay service, faked: STARTTLS required, the relay known
 * by its IP address (or SMTP AUTH), and the service's own answers: the daily relay limit holds
 * that user until the day rolls over while others go on, the peak limit backs off, relay denied
 * is held with the Admin console setting as the fix.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Relay } from '../src/app.js';
import { check } from '../src/cli/check.js';
import { CliExit } from '../src/cli/exit-codes.js';
import type { ConfigInput } from '../src/config/index.js';
import { writeConfigFile } from './support/daemon.js';
import { FakeSmtpRelay } from './support/fake-google-smtp.js';
import { LogCapture, removeDir, startTestRelay, tempDir, waitUntil } from './support/harness.js';
import { SmtpClient, message } from './support/smtp-client.js';

describe("relay through Google's SMTP relay service", () => {
  let dir: string;
  let service: FakeSmtpRelay;
  let relay: Relay | undefined;
  let logs: LogCapture;

  beforeEach(async () => {
    dir = tempDir();
    service = await FakeSmtpRelay.start(dir);
  });
  afterEach(async () => {
    await relay?.stop();
    relay = undefined;
    await service.close();
    removeDir(dir);
  });

  async function start(smtpRelay: Record<string, unknown> = {}): Promise<number> {
    const doc: ConfigInput = {
      hostname: 'relay.test',
      listen: [{ host: '127.0.0.1', port: 0 }],
      workspaces: [
        {
          name: 'clinic',
          domains: ['clinic.example'],
          transport: 'smtp-relay',
          smtpRelay: { host: '127.0.0.1', port: service.port, caFile: service.ca, heloName: 'relay.clinic.example', ...smtpRelay },
          senders: { map: { 'scanner@printer.local': 'scans@clinic.example' }, default: null },
        },
      ],
      queue: { dir: path.join(dir, 'spool'), retrySchedule: '200ms', heldRetry: '300ms', userRate: 100, rateLimitBackoff: '300ms' },
    };
    let port: number;
    ({ relay, logs, port } = await startTestRelay(doc));
    return port;
  }

  const send = async (port: number, from: string, to: string[], headers: Record<string, string> = {}) => {
    const c = await SmtpClient.open(port);
    const r = await c.send(from, to, message({ From: from, To: to[0]!, Subject: 'x', ...headers }));
    await c.quit();
    expect(r.code).toBe(250);
  };

  it('by IP address: STARTTLS, no AUTH, the sending user as envelope sender, the envelope honoured, our EHLO name', async () => {
    const port = await start();
    await send(port, 'scanner@printer.local', ['alice@clinic.example', 'bob@clinic.example'], { To: 'alice@clinic.example', Bcc: 'bob@clinic.example' });
    await waitUntil(() => service.received.length === 1, 10_000, 'delivered');
    expect(service.received[0]).toMatchObject({ user: '', from: 'scans@clinic.example', to: ['alice@clinic.example', 'bob@clinic.example'], secure: true, helo: 'relay.clinic.example' });
    expect(service.received[0]!.raw.toString('latin1')).not.toMatch(/^Bcc:/im);
    expect((await logs.waitFor('delivery.ok'))[0]).toMatchObject({ transport: 'smtp-relay' });
  });

  it('a message split into two transactions (same bytes) reaches each half of the envelope: no duplicate suppression, the envelope decides', async () => {
    const port = await start();
    const split = message({ From: 'alice@clinic.example', To: 'bob@clinic.example, scans@clinic.example', Subject: 'x', 'Message-ID': '<split@clinic.example>' });
    const c = await SmtpClient.open(port);
    expect((await c.send('alice@clinic.example', ['bob@clinic.example'], split)).code).toBe(250);
    expect((await c.send('alice@clinic.example', ['scans@clinic.example'], split)).code).toBe(250);
    await c.quit();
    await waitUntil(() => service.received.length === 2, 10_000, 'both transactions delivered');
    expect(service.received.map((m) => m.to).sort()).toEqual([['bob@clinic.example'], ['scans@clinic.example']]);
    expect(logs.events('delivery.duplicate_suppressed')).toEqual([]);
  });

  it('with SMTP AUTH as one user', async () => {
    service.login = { user: 'relay@clinic.example', pass: 'app-pass' };
    const passwordFile = path.join(dir, 'relay-password');
    writeFileSync(passwordFile, 'app-pass\n', { mode: 0o600 });
    const port = await start({ user: 'relay@clinic.example', passwordFile });
    await send(port, 'alice@clinic.example', ['bob@clinic.example']);
    await waitUntil(() => service.received.length === 1, 10_000, 'delivered');
    expect(service.received[0]).toMatchObject({ user: 'relay@clinic.example', from: 'alice@clinic.example' });
  });

  it("550 5.4.5 daily relay limit: that user's mail waits until midnight UTC; another user's goes on", async () => {
    const port = await start();
    service.limits.set('alice@clinic.example', ['daily']);
    await send(port, 'alice@clinic.example', ['bob@clinic.example']);
    const [deferred] = await logs.waitFor('delivery.deferred');
    const now = Date.now();
    const midnight = new Date(Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), new Date(now).getUTCDate() + 1)).toISOString();
    expect(deferred).toMatchObject({ code: 'delivery.relay.daily_limit', kind: 'temporary', sender: 'alice@clinic.example', userPausedUntil: midnight, attempts: 0 });
    await send(port, 'bob@clinic.example', ['alice@clinic.example']);
    await waitUntil(() => service.received.length === 1, 10_000, "bob's mail");
    expect(service.received[0]!.from).toBe('bob@clinic.example');
    // alice's next message waits too, without asking the service again
    await send(port, 'alice@clinic.example', ['bob@clinic.example']);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(service.answered.filter((a) => a.from === 'alice@clinic.example')).toEqual([{ from: 'alice@clinic.example', code: 550 }]);
    expect(relay!.scheduler.queued).toBe(2);
  });

  it('450 4.2.1 peak relay limit: backs off, then delivers', async () => {
    const port = await start();
    service.limits.set('alice@clinic.example', ['peak']);
    await send(port, 'alice@clinic.example', ['bob@clinic.example']);
    await waitUntil(() => service.received.length === 1, 10_000, 'delivered after the back-off');
    const [deferred] = logs.events('delivery.deferred');
    expect(deferred).toMatchObject({ code: 'delivery.relay.peak_limit', kind: 'temporary' });
    const answered = service.answered.filter((a) => a.from === 'alice@clinic.example');
    expect(answered.map((a) => a.code)).toEqual([450, 250]);
  });

  it("550 5.7.0 mail relay denied (this IP address is not allowed): held, the fix names the Admin console's SMTP relay setting", async () => {
    service.allowedIps.clear();
    const port = await start();
    await send(port, 'alice@clinic.example', ['bob@clinic.example']);
    const [held] = await logs.waitFor('delivery.held');
    expect(held).toMatchObject({ code: 'delivery.relay.denied', kind: 'held', alert: true });
    expect(String(held!.fix)).toMatch(/^in Admin console → Apps → Google Workspace → Gmail → Routing → SMTP relay service, allow this relay's public IP address/);
    service.allowedIps.add('127.0.0.1');
    await waitUntil(() => service.received.length === 1, 10_000, 'delivered once allowed');
  });

  it('check: connects with STARTTLS (by IP address), or logs in with SMTP AUTH and names a refused password\'s fix', async () => {
    const lines: string[] = [];
    const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) };
    const doc = (smtpRelay: Record<string, unknown>): ConfigInput => ({
      listen: [{ host: '127.0.0.1', port: 0 }],
      workspaces: [{ name: 'clinic', domains: ['clinic.example'], transport: 'smtp-relay', smtpRelay: { host: '127.0.0.1', port: service.port, caFile: service.ca, ...smtpRelay } }],
      queue: { dir: path.join(dir, 'spool') },
    });
    await check({ path: writeConfigFile(dir, doc({})), source: 'flag', isExample: false }, [], io);
    expect(lines).toContain(`workspace clinic: smtp-relay 127.0.0.1:${service.port}, known by this IP address (no AUTH)`);
    expect(lines).toContain(`  ok    127.0.0.1: connected to 127.0.0.1:${service.port} with TLS (whether the service relays for this IP address shows when mail is sent)`);
    service.login = { user: 'relay@clinic.example', pass: 'right' };
    const passwordFile = path.join(dir, 'relay-password');
    writeFileSync(passwordFile, 'wrong\n', { mode: 0o600 });
    lines.length = 0;
    await expect(check({ path: writeConfigFile(dir, doc({ user: 'relay@clinic.example', passwordFile })), source: 'flag', isExample: false }, [], io)).rejects.toThrow(CliExit);
    expect(lines).toContain('  FAIL  relay@clinic.example: the SMTP upstream refused the login of relay@clinic.example (535 5.7.8)');
    expect(lines.find((l) => l.startsWith('        fix:'))).toContain(passwordFile);
  });

  it('config: user without passwordFile names the key and the fix', async () => {
    await expect(start({ user: 'relay@clinic.example' })).rejects.toThrow(
      /workspaces\[0\]\.smtpRelay\.passwordFile: set both user and passwordFile for SMTP AUTH, or neither/,
    );
  });
});
