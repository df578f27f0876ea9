/**
 * Patient data at rest (issue 19): with queue.encryption on, nothing a device sent is readable on
 * the spool's disk while it waits, it reaches Gmail byte for byte, and a spool file that was
 * changed on disk is never sent: the message is held and the reason logged.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { GMAIL_SEND_SCOPE } from '../src/config/schema.js';
import { isSealed, openWhole, type SpoolKeys } from '../src/crypt/index.js';
import { keyIdOfFile } from '../src/spool/index.js';
import { SmtpClient, message, queueIdOf } from './support/smtp-client.js';
import { LogCapture, gmailConfig, relayEnv, startTestRelay, waitUntil } from './support/harness.js';
import { chunkAt, cutFile, flipByte, swapChunks, testKeys, writeKeyFileFor } from './support/spool-crypt.js';

/** Every file under `dir` (recursively). */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : statSync(p).isFile() ? [p] : [];
  });
}

/** A message with `marker` in its subject, its body and a text attachment (name and content), `filler` bytes long at least. */
function markedMessage(marker: string, filler = 0): string {
  const boundary = 'b-1';
  const body = [
    `--${boundary}`,
    'Content-Type: text/plain; charset=us-ascii',
    '',
    `Lab result for patient ${marker}.`,
    'x'.repeat(76).concat('\r\n').repeat(Math.ceil(filler / 78)).trimEnd(),
    `--${boundary}`,
    `Content-Type: text/plain; name="${marker}.txt"`,
    `Content-Disposition: attachment; filename="${marker}.txt"`,
    'Content-Transfer-Encoding: 7bit',
    '',
    `Attachment: ${marker}`,
    `--${boundary}--`,
    '',
  ].join('\r\n');
  return message(
    { From: 'alice@clinic.example', To: 'bob@clinic.example', Subject: `Results ${marker}`, 'MIME-Version': '1.0', 'Content-Type': `multipart/mixed; boundary="${boundary}"` },
    body,
  );
}

describe('spool encryption', () => {
  const env = relayEnv();
  const spoolDir = () => path.join(env.dir, 'spool');
  const keyFile = (keys: SpoolKeys, name: string) => writeKeyFileFor(path.join(env.dir, name), keys);
  const encrypted = (keyFiles: string[], extra: Record<string, unknown> = {}) => {
    const base = gmailConfig(env.dir, env.google);
    return { ...base, queue: { ...base.queue, encryption: { keyFiles }, ...extra } };
  };
  /** The files holding messages and their metadata (data/, the state directories). */
  const messageFiles = () => ['data', 'queue', 'active', 'hold', 'dead'].flatMap((d) => filesUnder(path.join(spoolDir(), d)));
  const stall = () => env.google.fake.revoke(env.google.sa.clientId);
  const unstall = () => env.google.fake.authorize(env.google.sa.clientId, [GMAIL_SEND_SCOPE]);

  async function send(port: number, raw: string): Promise<string> {
    const c = await SmtpClient.open(port);
    const reply = await c.send('alice@clinic.example', ['bob@clinic.example'], raw);
    await c.quit();
    expect(reply.code).toBe(250);
    return queueIdOf(reply);
  }

  it('a marker in subject, body and attachment is in no file under queue.dir while Gmail is stalled, and arrives intact', async () => {
    const keys = testKeys();
    const marker = `MARK${randomBytes(8).toString('hex')}`;
    stall();
    const { relay, logs, port } = await startTestRelay(encrypted([keyFile(keys, 'spool.key')]));
    env.relay = relay;
    const raw = markedMessage(marker, 200_000); // several 64 KiB chunks
    const id = await send(port, raw);
    await logs.waitFor('delivery.held', 2); // tried, refused, its metadata rewritten: twice
    const files = filesUnder(spoolDir());
    expect(files.some((f) => f.endsWith(`${id}.eml`))).toBe(true);
    for (const f of files) expect(readFileSync(f).includes(marker), `${path.relative(env.dir, f)} holds the marker`).toBe(false);
    expect(messageFiles().length).toBeGreaterThanOrEqual(2);
    for (const f of messageFiles()) expect(isSealed(readFileSync(f)), `${f} is sealed`).toBe(true);
    unstall();
    await waitUntil(() => env.google.fake.sent.length === 1, 15_000, 'the message at Gmail');
    expect(env.google.fake.sent[0]!.raw.toString('latin1')).toBe(raw);
    await logs.waitFor('delivery.ok');
    // The sent log keeps who was sent to: sealed too. Nothing of the message in the log lines.
    await waitUntil(() => !existsSync(path.join(spoolDir(), 'data', `${id}.eml`)), 5_000, 'the spool emptied');
    for (const f of filesUnder(spoolDir())) {
      expect(readFileSync(f).includes(marker)).toBe(false);
      expect(readFileSync(f).includes('bob@clinic.example'), `${path.relative(env.dir, f)} names a recipient in the clear`).toBe(false);
    }
    expect(logs.raw.join('\n')).not.toContain(marker);
  }, 60_000);

  it('the dry-run outbox is encrypted too, and `decrypt` (the key) reads it', async () => {
    const keys = testKeys();
    const marker = `MARK${randomBytes(8).toString('hex')}`;
    const outbox = path.join(env.dir, 'outbox');
    const base = encrypted([keyFile(keys, 'spool.key')]);
    const doc = { ...base, workspaces: [{ ...base.workspaces[0]!, transport: 'outbox' as const, gmailApi: undefined, outbox: { dir: outbox } }] };
    const { relay, logs, port } = await startTestRelay(doc);
    env.relay = relay;
    const raw = markedMessage(marker, 100_000);
    const id = await send(port, raw);
    await logs.waitFor('delivery.ok');
    const file = path.join(outbox, `${id}.eml`);
    const sealed = readFileSync(file);
    expect(isSealed(sealed)).toBe(true);
    expect(sealed.includes(marker)).toBe(false);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const plain = openWhole(sealed, keys, file).toString('latin1');
    expect(plain).toContain(`Subject: Results ${marker}`);
    expect(plain.endsWith(raw.slice(raw.indexOf('\r\n\r\n')))).toBe(true);
  });

  it.each([
    ['a flipped byte', (f: string) => flipByte(f, chunkAt(1) + 99)],
    ['a file cut short at a chunk boundary', (f: string) => cutFile(f, chunkAt(2))],
    ['two chunks swapped', (f: string) => swapChunks(f, 0, 2)],
  ])('%s in a waiting message: held with the reason logged, nothing of it sent', async (_what, damage) => {
    const keys = testKeys();
    const doc = encrypted([keyFile(keys, 'spool.key')]);
    stall();
    let started = await startTestRelay(doc);
    env.relay = started.relay;
    const id = await send(started.port, markedMessage('damaged', 300_000));
    await send(started.port, markedMessage('intact', 1_000));
    await started.logs.waitFor('delivery.held', 4);
    await started.relay.stop();
    env.relay = undefined;
    damage(path.join(spoolDir(), 'data', `${id}.eml`));
    unstall();
    const logs = new LogCapture();
    started = await startTestRelay(doc, logs);
    env.relay = started.relay;
    const held = await waitUntil(() => logs.events('delivery.held').some((l) => l.queueId === id), 15_000, 'the damaged message held').then(() =>
      logs.events('delivery.held').find((l) => l.queueId === id)!,
    );
    expect(held).toMatchObject({ code: 'delivery.spool_damaged', alert: true });
    expect(String(held.fix)).toContain('queue delete');
    await waitUntil(() => env.google.fake.sent.length === 1, 15_000, 'the intact message sent');
    expect(env.google.fake.sent[0]!.raw.toString('latin1')).toContain('intact');
    // The damaged one is kept for the admin and never goes out, whole or in part.
    await new Promise((r) => setTimeout(r, 800)); // (a few held retries at 300 ms)
    expect(env.google.fake.sent).toHaveLength(1);
    expect(existsSync(path.join(spoolDir(), 'data', `${id}.eml`))).toBe(true);
    expect(logs.raw.join('\n')).not.toMatch(/Lab result|patient damaged/);
  }, 60_000);

  it('rotation: a new key first encrypts new mail, the old one still reads; `queue rekey` rewrites the rest; then the old key can go', async () => {
    const a = testKeys();
    const b = testKeys();
    const fileA = keyFile(a, 'a.key');
    const fileB = keyFile(b, 'b.key');
    stall();
    let started = await startTestRelay(encrypted([fileA]));
    env.relay = started.relay;
    const first = await send(started.port, markedMessage('first', 70_000));
    await started.logs.waitFor('delivery.held', 2);
    await started.relay.stop();
    const rotated = encrypted([fileB, fileA]);
    started = await startTestRelay(rotated);
    env.relay = started.relay;
    const second = await send(started.port, markedMessage('second', 1_000));
    await waitUntil(() => started.logs.events('delivery.held').some((l) => l.queueId === second), 10_000, 'second held');
    await started.relay.stop();
    env.relay = undefined;
    const entry = (id: string) => path.join(spoolDir(), 'queue', `${id}.json`);
    const eml = (id: string) => path.join(spoolDir(), 'data', `${id}.eml`);
    expect([keyIdOfFile(eml(first)), keyIdOfFile(eml(second))]).toEqual([a.current!.id, b.current!.id]);
    expect(keyIdOfFile(entry(second))).toBe(b.current!.id);

    // Only the new key: the start is refused while a file still needs the old one.
    const onlyB = encrypted([fileB]);
    await expect(startTestRelay(onlyB)).rejects.toThrow(new RegExp(`key ${a.current!.id}.*${first}`));

    const { writeConfigFile } = await import('./support/daemon.js');
    const { runProgram } = await import('./support/program.js');
    const configFile = writeConfigFile(env.dir, rotated);
    const run = await runProgram(['--config', configFile, 'queue', 'rekey', '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ via: 'direct', rekeyed: [first], skipped: [], more: false });
    for (const f of messageFiles()) expect(keyIdOfFile(f), f).toBe(b.current!.id);
    expect((await runProgram(['--config', configFile, 'queue', 'rekey', '--json'])).stdout).toContain('"rekeyed": []');

    unstall();
    started = await startTestRelay(onlyB);
    env.relay = started.relay;
    await waitUntil(() => env.google.fake.sent.length === 2, 15_000, 'both sent');
    const got = env.google.fake.sent.map((s) => s.raw.toString('latin1'));
    expect(got.some((r) => r.includes('patient first.'))).toBe(true);
    expect(got.some((r) => r.includes('patient second.'))).toBe(true);
  }, 60_000);

  it('a spool written without encryption is read as before and encrypted from then on', async () => {
    stall();
    let started = await startTestRelay(gmailConfig(env.dir, env.google));
    env.relay = started.relay;
    const plain = await send(started.port, markedMessage('plain', 1_000));
    await started.logs.waitFor('delivery.held', 2);
    await started.relay.stop();
    expect(readFileSync(path.join(spoolDir(), 'data', `${plain}.eml`)).includes('patient plain.')).toBe(true);
    const keys = testKeys();
    unstall();
    started = await startTestRelay(encrypted([keyFile(keys, 'spool.key')]));
    env.relay = started.relay;
    const sealed = await send(started.port, markedMessage('sealed', 1_000));
    expect(keyIdOfFile(path.join(spoolDir(), 'data', `${sealed}.eml`))).toBe(keys.current!.id);
    await waitUntil(() => env.google.fake.sent.length === 2, 15_000, 'both sent');
    expect(env.google.fake.sent.some((s) => s.raw.includes('patient plain.'))).toBe(true);
    expect(env.google.fake.sent.some((s) => s.raw.includes('patient sealed.'))).toBe(true);
  }, 60_000);
});
