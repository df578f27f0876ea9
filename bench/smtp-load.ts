/**
 * The load generator: `count` messages over `connections` parallel SMTP sessions, each session
 * taking the next message number until all are sent. Reusing connections (several messages per
 * session, like `smtp-source -d`) or one message per connection (like `smtp-source`). Measures
 * the accept latency of each message: from writing the end of DATA to reading the 250.
 */
import { messageFactory } from './message.js';
import { SmtpConn } from './smtp-conn.js';

export interface LoadOptions {
  host: string;
  port: number;
  count: number;
  connections: number;
  /** Message size in bytes, headers included. */
  size: number;
  /** Several messages per connection (default) or one connection per message. */
  reuse: boolean;
  /** Envelope senders, used in turn (message i is sent by senders[i % n]). */
  senders: readonly string[];
  recipient: (i: number) => string;
  runId: string;
  /** Per reply (DATA of a large message included). */
  timeoutMs?: number;
}

export interface LoadResult {
  accepted: number;
  /** Refusals and failures by reply code or error text. */
  failed: Record<string, number>;
  /** Accept latency of each accepted message, ms. */
  latencies: number[];
  /** Wall clock (Date.now()) when the first connection was opened and the last 250 read. */
  startedAt: number;
  endedAt: number;
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const factory = messageFactory(o.size, o.runId);
  const failed: Record<string, number> = {};
  const latencies: number[] = [];
  const timeoutMs = o.timeoutMs ?? 120_000;
  let next = 0;
  let accepted = 0;
  const fail = (why: string) => (failed[why] = (failed[why] ?? 0) + 1);

  const open = async () => {
    const conn = await SmtpConn.connect(o.host, o.port, timeoutMs);
    const greeting = await conn.reply();
    if (greeting.code !== 220) throw new Error(`greeting ${greeting.code} ${greeting.text}`);
    const ehlo = await conn.command('EHLO load.bench.example');
    if (ehlo.code !== 250) throw new Error(`EHLO ${ehlo.code} ${ehlo.text}`);
    return conn;
  };

  /** One transaction; resolves true when the message got its 250. */
  const send = async (conn: SmtpConn, i: number): Promise<boolean> => {
    const from = o.senders[i % o.senders.length]!;
    const to = o.recipient(i);
    for (const [line, want] of [[`MAIL FROM:<${from}>`, 250], [`RCPT TO:<${to}>`, 250], ['DATA', 354]] as const) {
      const r = await conn.command(line);
      if (r.code !== want) {
        fail(`${line.split(/[ :]/)[0]} ${r.code}`);
        if (line !== 'DATA') await conn.command('RSET');
        return false;
      }
    }
    const [header, body] = factory.parts(i, from, to);
    await conn.write(header);
    // The body ends with the terminating dot line: the clock starts when it is handed over.
    const writing = conn.write(body);
    await writing;
    const t0 = performance.now();
    const r = await conn.reply();
    if (r.code !== 250) {
      fail(`end of DATA ${r.code}`);
      return false;
    }
    latencies.push(performance.now() - t0);
    accepted++;
    return true;
  };

  const worker = async () => {
    let conn: SmtpConn | null = null;
    while (next < o.count) {
      const i = next++;
      try {
        conn ??= await open();
        await send(conn, i);
        if (!o.reuse) {
          await conn.command('QUIT').catch(() => undefined);
          conn.close();
          conn = null;
        }
      } catch (err) {
        fail(err instanceof Error ? err.message : String(err));
        conn?.close();
        conn = null;
      }
    }
    if (conn) {
      await conn.command('QUIT').catch(() => undefined);
      conn.close();
    }
  };

  const startedAt = Date.now();
  await Promise.all(Array.from({ length: o.connections }, () => worker()));
  return { accepted, failed, latencies, startedAt, endedAt: Date.now() };
}
