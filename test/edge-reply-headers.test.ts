/**
 * Headers a mail client acts on by itself or on one click (Reply-To, receipts, Errors-To, the
 * List-* mailto: links, …) are held to the workspace over a real socket: outside → 550 5.7.1
 * naming the header, nothing stored; inside → delivered unchanged. The per-listener opt-out
 * (allowOutsideReplyAddresses) covers only the ones a person acts on. Sender must be an address
 * the client may send as; a device's allowedRecipients covers the Resent- fields too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EdgeClient, b64, mail } from './support/edge-client.js';
import { deviceHash, startEdge, type EdgeEnv } from './support/edge.js';
import { waitUntil } from './support/harness.js';

const BASE = { From: 'alice@clinic.example', To: 'bob@clinic.example' };

describe('headers a mail client acts on, at the listener', () => {
  let env: EdgeEnv;
  let strict: number;
  let optOut: number;
  let n = 0;

  beforeAll(async () => {
    env = await startEdge({
      listen: () => [
        { port: 0, auth: { allowPlaintext: true } },
        { port: 0, allowOutsideReplyAddresses: true },
      ],
      devices: [{ username: 'scanner', passwordHash: await deviceHash('scan-pw'), workspace: 'clinic', senders: ['scans@clinic.example'], allowedRecipients: ['bob@clinic.example'] }],
    });
    [strict, optOut] = env.ports as [number, number];
  });
  afterAll(async () => {
    await env.stop();
  });

  async function send(port: number, headers: Record<string, string>, login?: [string, string]) {
    const { client } = await EdgeClient.open(port);
    if (login) expect((await client.cmd(`AUTH PLAIN ${b64(`\0${login[0]}\0${login[1]}`)}`)).code).toBe(235);
    const id = `rh-${++n}@test`;
    const from = login ? 'scans@clinic.example' : 'alice@clinic.example';
    const r = await client.send(from, ['bob@clinic.example'], mail({ ...BASE, ...(login ? { From: from } : {}), 'Message-ID': `<${id}>`, ...headers }));
    await client.quit();
    return { r, id };
  }

  it.each([
    ['Reply-To', 'Reply-To', 'Staff <x@evil.example>', 'replies would leave the organisation'],
    ['Mail-Followup-To', 'Mail-Followup-To', 'bob@clinic.example, x@evil.example', 'replies would leave the organisation'],
    ['Mail-Reply-To', 'mail-reply-to', 'x@evil.example', 'replies would leave the organisation'],
    ['Disposition-Notification-To', 'DISPOSITION-NOTIFICATION-TO', 'x@evil.example', 'a mail program would send there by itself'],
    ['Return-Receipt-To', 'Return-Receipt-To ', 'x@evil.example', 'a mail program would send there by itself'],
    ['X-Confirm-Reading-To', 'X-Confirm-Reading-To', 'x@evil.example', 'a mail program would send there by itself'],
    ['Errors-To', 'Errors-To', 'x@evil.example', 'a mail program would send there by itself'],
    ['Resent-Reply-To', 'Resent-Reply-To', 'x@evil.example', 'replies would leave the organisation'],
    ['Mail-Copies-To', 'Mail-Copies-To', 'x@evil.example', 'replies would leave the organisation'],
    ['List-Unsubscribe', 'List-Unsubscribe', '<https://lists.example/u>, <mailto:x@evil.example?subject=unsubscribe>', 'replies would leave the organisation'],
    ['List-Post', 'List-Post', '<mailto:bob@clinic.example?cc=x%40evil.example>', 'replies would leave the organisation'],
    ['List-Help', 'List-Help', '<MAILTO:x@evil.example>', 'replies would leave the organisation'],
  ])('%s with an outside address: 550 5.7.1 naming the header, nothing stored', async (name, written, value, why) => {
    const { r } = await send(strict, { [written]: value });
    expect(r.code).toBe(550);
    expect(r.text).toMatch(new RegExp(`^5\\.7\\.1 the ${name} header names <x@evil\\.example> outside workspace clinic: ${why}`));
    expect(env.spoolFiles()).toEqual([]);
    expect(env.logs.events('message.rejected').at(-1)).toMatchObject({ stage: 'data', code: 550, enhanced: '5.7.1' });
  });

  it('refuses such a header it cannot read with certainty (an encoded-word for the address, text outside <...>)', async () => {
    const encoded = await send(strict, { 'Reply-To': '=?utf-8?q?x=40evil.example?=' });
    expect(encoded.r.code).toBe(550);
    expect(encoded.r.text).toMatch(/^5\.7\.1 the Reply-To header cannot be read with certainty: an encoded-word/);
    const bare = await send(strict, { 'List-Unsubscribe': 'mailto:x@evil.example' });
    expect(bare.r.code).toBe(550);
    expect(bare.r.text).toMatch(/^5\.7\.1 the List-Unsubscribe header cannot be read with certainty: text outside <\.\.\.>/);
  });

  it('inside addresses, https links, List-Post: NO and Mail-Copies-To keywords pass and reach Gmail unchanged', async () => {
    const headers = {
      'Reply-To': '"Front desk" <frontdesk@clinic.example>',
      'Disposition-Notification-To': 'alice@clinic.example',
      'List-Unsubscribe': '<https://lists.example/u?x@evil.example>, <mailto:alice@clinic.example?subject=stop>',
      'List-Post': 'NO',
      'Mail-Copies-To': 'never',
    };
    const { r, id } = await send(strict, headers);
    expect(r.code).toBe(250);
    await waitUntil(() => env.google.fake.sentWithMessageId(id) !== undefined);
    const raw = env.google.fake.sentWithMessageId(id)!.raw.toString('latin1');
    for (const [k, v] of Object.entries(headers)) expect(raw).toContain(`\r\n${k}: ${v}\r\n`);
  });

  it('allowOutsideReplyAddresses lets an outside Reply-To through on that listener only; receipts stay held', async () => {
    const reply = await send(optOut, { 'Reply-To': 'x@evil.example' });
    expect(reply.r.code).toBe(250);
    await waitUntil(() => env.google.fake.sentWithMessageId(reply.id) !== undefined);
    expect(env.google.fake.sentWithMessageId(reply.id)!.raw.toString('latin1')).toContain('\r\nReply-To: x@evil.example\r\n');
    const receipt = await send(optOut, { 'Disposition-Notification-To': 'x@evil.example' });
    expect(receipt.r.code).toBe(550);
    expect((await send(strict, { 'Reply-To': 'x@evil.example' })).r.code).toBe(550);
  });

  it('Sender: only an address this client may send as (a device limited to its senders cannot name a colleague)', async () => {
    const colleague = await send(strict, { Sender: 'alice@clinic.example' }, ['scanner', 'scan-pw']);
    expect(colleague.r.code).toBe(550);
    expect(colleague.r.text).toBe('5.7.1 the Sender header <alice@clinic.example> is not an address this client may send as: remove it, or write Sender: <scans@clinic.example>');
    const outside = await send(strict, { Sender: 'x@evil.example' });
    expect(outside.r.code).toBe(550);
    const two = await send(strict, { Sender: 'alice@clinic.example, bob@clinic.example' });
    expect(two.r.text).toMatch(/^5\.7\.1 the Sender header must name exactly one mailbox/);
    const own = await send(strict, { Sender: 'Scans <scans@clinic.example>' }, ['scanner', 'scan-pw']);
    expect(own.r.code).toBe(250);
    expect((await send(strict, { Sender: 'bob@clinic.example' })).r.code).toBe(250); // no senders list: any inside user
  });

  it('a device’s allowedRecipients covers Resent-To, Resent-Cc and Resent-Bcc, as the workspace check does', async () => {
    for (const field of ['Resent-To', 'Resent-Cc', 'Resent-Bcc']) {
      const { r } = await send(strict, { [field]: 'carol@clinic.example' }, ['scanner', 'scan-pw']);
      expect(r.code).toBe(554);
      expect(r.text).toBe(`5.7.1 device scanner may not send to <carol@clinic.example> (header recipient in ${field})`);
    }
    expect((await send(strict, { 'Resent-To': 'bob@clinic.example' }, ['scanner', 'scan-pw'])).r.code).toBe(250);
  });
});
