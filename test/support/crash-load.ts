/**
 * The crash test's load: a seeded plan of messages (each with a unique Message-ID), sent over
 * several concurrent SMTP connections to whatever daemon is up, recording which got a 250.
 * When the daemon dies the connections fail fast and wait for the next one.
 */
import { createHash } from 'node:crypto';
import { CrashSmtpClient, type CrashReply } from './crash-smtp.js';

/** mulberry32: a small seeded generator, so a failing run can be replayed from its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface PlannedMessage {
  index: number;
  /** Without <>. */
  messageId: string;
  from: string;
  to: string;
  /** The message in the parts DATA sends them in (no line starts with "."). */
  parts: Buffer[];
  /** The whole message, as the spool stores it and Gmail receives it. */
  bytes: Buffer;
  sha256: string;
  /** Pause between the parts of DATA. */
  pauseMs: number;
}

export interface Outcome {
  message: PlannedMessage;
  /** Which daemon (0-based start) the attempt went to. */
  round: number;
  /** The reply that ended the transaction; null when the connection was lost first. */
  reply: CrashReply | null;
  /** The queue id of a 250. */
  queueId: string | null;
  error: string | null;
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 ';

/**
 * `count` messages between `users` (sender ≠ recipient), DATA in 2–3 parts: two thirds of
 * 0.5–24 KiB, a third of 130–300 KiB. The spool holds up to 64 KiB of a message in memory, so
 * only the large ones are partly on disk while DATA goes on, which is what a kill during DATA
 * must find and start-up must clear.
 */
export function planMessages(seed: number, count: number, users: readonly string[]): PlannedMessage[] {
  const rng = seededRandom(seed);
  const pick = <T>(list: readonly T[]) => list[Math.floor(rng() * list.length)]!;
  const out: PlannedMessage[] = [];
  for (let index = 0; index < count; index++) {
    const from = pick(users);
    const to = pick(users.filter((u) => u !== from));
    const messageId = `crash-${seed}-${index}@clinic.example`;
    const head =
      `From: ${from}\r\nTo: ${to}\r\nSubject: crash test ${index}\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n` +
      `Message-ID: <${messageId}>\r\n\r\n`;
    const lines: string[] = [];
    const size = rng() < 1 / 3 ? 130 * 1024 + Math.floor(rng() * 170 * 1024) : 512 + Math.floor(rng() * 24 * 1024);
    for (let n = 0; n < size; n += 78) {
      let line = `L${index}-`;
      while (line.length < 76) line += ALPHABET[Math.floor(rng() * ALPHABET.length)];
      lines.push(line);
    }
    const body = lines.join('\r\n') + '\r\n';
    const bytes = Buffer.from(head + body, 'latin1');
    const cuts = rng() < 0.5 ? [0.5] : [0.3, 0.7];
    const parts: Buffer[] = [];
    let start = 0;
    for (const c of cuts) {
      const end = Math.floor(bytes.length * c);
      parts.push(bytes.subarray(start, end));
      start = end;
    }
    parts.push(bytes.subarray(start));
    out.push({ index, messageId, from, to, parts, bytes, sha256: createHash('sha256').update(bytes).digest('hex'), pauseMs: 5 + Math.floor(rng() * 35) });
  }
  return out;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class CrashLoad {
  /** The port of the daemon to send to; null while there is none (killed, not restarted yet). */
  port: number | null = null;
  /** The current daemon's number, stamped on each outcome. */
  round = 0;
  /** Connections between DATA's 354 and its final reply right now. */
  inData = 0;
  readonly outcomes: Outcome[] = [];
  private next = 0;
  private stopped = false;

  constructor(
    private readonly messages: readonly PlannedMessage[],
    private readonly connections: number,
  ) {}

  /** Messages whose transaction has started. */
  get attempted(): number {
    return this.next;
  }

  /** Outcomes that got a 250. */
  accepted(): Outcome[] {
    return this.outcomes.filter((o) => o.reply?.code === 250);
  }

  /** Send every planned message once; resolves when each has an outcome. */
  async run(): Promise<void> {
    await Promise.all(Array.from({ length: this.connections }, () => this.connection()));
  }

  /** Give up (a failing test): the loops end at their next step. */
  stop(): void {
    this.stopped = true;
  }

  private async connection(): Promise<void> {
    while (!this.stopped && this.next < this.messages.length) {
      const port = this.port;
      if (port === null) {
        await sleep(10);
        continue;
      }
      let client: CrashSmtpClient;
      try {
        client = await CrashSmtpClient.open(port);
      } catch {
        await sleep(10);
        continue;
      }
      try {
        while (!this.stopped && this.port === port && this.next < this.messages.length) {
          const message = this.messages[this.next++]!;
          const outcome: Outcome = { message, round: this.round, reply: null, queueId: null, error: null };
          this.outcomes.push(outcome);
          try {
            const reply = await client.send(message.from, message.to, message.parts, () => sleep(message.pauseMs), (on) => (this.inData += on ? 1 : -1));
            outcome.reply = reply;
            outcome.queueId = /queued as (\S+)/.exec(reply.text)?.[1] ?? null;
            if (reply.code !== 250) await client.cmd('RSET');
          } catch (err) {
            outcome.error = err instanceof Error ? err.message : String(err);
            break;
          }
        }
      } finally {
        client.destroy();
      }
    }
  }
}
