/**
 * Gmail sends at most 36,700,160 bytes (35 MB) through users.messages.send, counted on what is
 * sent: the headers the relay adds (here a Bcc for an envelope-only recipient) included. A
 * message that could never be sent is refused at DATA with 552 5.3.4, not bounced later; one that
 * fits exactly is accepted and delivered whole.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { GMAIL_API_MAX_MESSAGE } from '../src/config/index.js';
import { EdgeClient } from './support/edge-client.js';
import { type LogCapture, gmailConfig, relayEnv, startTestRelay, waitUntil } from './support/harness.js';

const BCC_FIELD = 'Bcc: scans@clinic.example\r\n';

/** A message of exactly `size` bytes (as received), To bob only, in pieces (never one big string). */
function* messageOf(size: number, id: string): Generator<Buffer> {
  const head = Buffer.from(`From: alice@clinic.example\r\nTo: bob@clinic.example\r\nSubject: scan\r\nDate: Sun, 22 Nov 2026 08:00:00 +0000\r\nMessage-ID: <${id}@test.client>\r\n\r\n`);
  yield head;
  const line = Buffer.from(`${'x'.repeat(998)}\r\n`);
  const block = Buffer.concat(Array.from({ length: 64 }, () => line));
  let left = size - head.length;
  while (left >= block.length + line.length) {
    yield block;
    left -= block.length;
  }
  while (left >= 2 * line.length) {
    yield line;
    left -= line.length;
  }
  // the rest in one or two lines that end with CRLF
  const first = Math.floor(left / 2);
  yield Buffer.from(`${'y'.repeat(first - 2)}\r\n${'z'.repeat(left - first - 2)}\r\n`);
}

async function send(port: number, size: number, id: string) {
  const { client, ehlo } = await EdgeClient.open(port);
  expect((await client.cmd('MAIL FROM:<alice@clinic.example>')).code).toBe(250);
  expect((await client.cmd('RCPT TO:<bob@clinic.example>')).code).toBe(250);
  expect((await client.cmd('RCPT TO:<scans@clinic.example>')).code).toBe(250); // not in the headers: a Bcc is added
  expect((await client.cmd('DATA')).code).toBe(354);
  await client.stream(
    (function* () {
      yield* messageOf(size, id);
      yield Buffer.from('.\r\n');
    })(),
  );
  const reply = await client.read(120_000);
  await client.quit();
  return { reply, ehlo };
}

describe('the send size limit at DATA', () => {
  const env = relayEnv();
  let logs: LogCapture;
  let port: number;

  beforeEach(async () => {
    ({ relay: env.relay, logs, port } = await startTestRelay(gmailConfig(env.dir, env.google, { limits: { maxMessageSize: '40MB' } })));
  });

  it('refuses with 552 5.3.4 a message under 35 MB as received that the added Bcc takes over, and accepts and delivers one that then fits exactly', async () => {
    const over = await send(port, GMAIL_API_MAX_MESSAGE - 10, 'over');
    // EHLO SIZE says the most Gmail can send, not limits.maxMessageSize (40MB)
    expect(over.ehlo.lines).toContain(`SIZE ${GMAIL_API_MAX_MESSAGE}`);
    expect(over.reply.code).toBe(552);
    expect(over.reply.text).toMatch(/^5\.3\.4 message too large to send: 36700177 bytes with the headers the relay adds, Gmail takes at most 36700160$/);
    expect(logs.events('message.rejected').at(-1)).toMatchObject({ stage: 'data', size: GMAIL_API_MAX_MESSAGE - 10, sendSize: GMAIL_API_MAX_MESSAGE + 17 });
    expect(logs.events('message.accepted')).toEqual([]);

    const exact = await send(port, GMAIL_API_MAX_MESSAGE - BCC_FIELD.length, 'exact');
    expect(exact.reply.code).toBe(250);
    await waitUntil(() => env.google.fake.sent.length === 1, 60_000, 'the delivery');
    const sent = env.google.fake.sent[0]!;
    expect(sent.raw.length).toBe(GMAIL_API_MAX_MESSAGE);
    expect(sent.raw.subarray(0, 400).toString('latin1')).toContain(`\r\n${BCC_FIELD}\r\n`);
    expect(env.google.fake.sentByMessageId().get('over@test.client')).toBeUndefined();
  });
});
