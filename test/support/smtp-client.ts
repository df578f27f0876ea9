/**
 * The suite's SMTP client: a raw socket (TLS-capable, see edge-client.ts), so tests see the exact
 * replies on the wire; plus message helpers.
 */
import { EdgeClient, type Reply } from './edge-client.js';

export type { Reply } from './edge-client.js';

export const SmtpClient = {
  /** Connect and read the greeting. */
  connect: (port: number) => EdgeClient.connect(port),
  /** Connect, expect 220, EHLO (expect 250); returns the client. */
  async open(port: number): Promise<EdgeClient> {
    const { client, ehlo } = await EdgeClient.open(port);
    if (ehlo.code !== 250) throw new Error(`EHLO ${ehlo.code} ${ehlo.text}`);
    return client;
  },
};

let messageCount = 0;

/**
 * A plain RFC 5322 message with CRLF line endings, with a Date and a Message-ID as real clients
 * send them (the relay adds those two when missing, which would change the bytes).
 */
export function message(headers: Record<string, string | string[]>, body = 'Hello.\r\n'): string {
  const has = (name: string) => Object.keys(headers).some((k) => k.toLowerCase() === name);
  headers = {
    ...headers,
    ...(has('date') ? {} : { Date: 'Sun, 22 Nov 2026 08:00:00 +0000' }),
    ...(has('message-id') ? {} : { 'Message-ID': `<t${process.pid}.${++messageCount}.${Date.now()}@test.client>` }),
  };
  const lines: string[] = [];
  for (const [k, v] of Object.entries(headers)) for (const one of Array.isArray(v) ? v : [v]) lines.push(`${k}: ${one}`);
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

export function queueIdOf(reply: Reply): string {
  const m = /queued as (\S+)/.exec(reply.text);
  if (!m) throw new Error(`no queue id in: ${reply.code} ${reply.text}`);
  return m[1]!;
}
