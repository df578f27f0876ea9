/**
 * An SMTP client for the crash test: like smtp-client.ts, but a read fails at once when the
 * server dies (SIGKILL closes the socket), so the test knows which messages got no 250; and DATA
 * can be sent in parts with a pause between them, so a kill can land in the middle of DATA.
 */
import net from 'node:net';

export interface CrashReply {
  code: number;
  text: string;
}

export class ConnectionLost extends Error {}

export class CrashSmtpClient {
  private buffer = '';
  /** Lines of a multi-line reply whose last line has not arrived yet. */
  private pending: string[] = [];
  private readonly replies: CrashReply[] = [];
  private waiter: { resolve: (r: CrashReply) => void; reject: (e: Error) => void } | null = null;
  private lost: Error | null = null;

  private constructor(private readonly socket: net.Socket) {
    socket.setEncoding('latin1');
    socket.setNoDelay(true);
    socket.on('data', (d: string) => this.onData(d));
    const gone = (why: string) => {
      this.lost ??= new ConnectionLost(why);
      this.waiter?.reject(this.lost);
      this.waiter = null;
    };
    socket.on('error', (err) => gone(`connection error: ${err.message}`));
    socket.on('close', () => gone('connection closed'));
  }

  /** Connect, read the 220 greeting and say EHLO. Rejects if any of it fails. */
  static async open(port: number): Promise<CrashSmtpClient> {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const client = new CrashSmtpClient(socket);
    try {
      const greeting = await client.read();
      if (greeting.code !== 220) throw new Error(`greeting ${greeting.code} ${greeting.text}`);
      const ehlo = await client.cmd('EHLO crash.test');
      if (ehlo.code !== 250) throw new Error(`EHLO ${ehlo.code} ${ehlo.text}`);
    } catch (err) {
      client.destroy();
      throw err;
    }
    return client;
  }

  /** The next reply; rejects with ConnectionLost once the socket is gone, or after timeoutMs. */
  read(timeoutMs = 60_000): Promise<CrashReply> {
    const r = this.replies.shift();
    if (r) return Promise.resolve(r);
    if (this.lost) return Promise.reject(this.lost);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiter = null;
        reject(new Error('timed out waiting for an SMTP reply'));
      }, timeoutMs);
      this.waiter = {
        resolve: (reply) => {
          clearTimeout(t);
          resolve(reply);
        },
        reject: (err) => {
          clearTimeout(t);
          reject(err);
        },
      };
    });
  }

  cmd(line: string): Promise<CrashReply> {
    this.write(`${line}\r\n`);
    return this.read();
  }

  /**
   * One transaction. `parts` is the message (no line may start with "."), sent in order with
   * `between()` awaited between parts; `onData(true)` once DATA got its 354, `onData(false)` when
   * the final reply (or the loss of the connection) ends it. Returns the first non-2xx/3xx reply,
   * or the reply to the end of DATA.
   */
  async send(from: string, to: string, parts: Buffer[], between: () => Promise<void>, onData: (inData: boolean) => void): Promise<CrashReply> {
    const mail = await this.cmd(`MAIL FROM:<${from}>`);
    if (mail.code !== 250) return mail;
    const rcpt = await this.cmd(`RCPT TO:<${to}>`);
    if (rcpt.code !== 250) return rcpt;
    const go = await this.cmd('DATA');
    if (go.code !== 354) return go;
    onData(true);
    try {
      for (let i = 0; i < parts.length; i++) {
        if (i > 0) await between();
        if (this.lost) throw this.lost;
        this.write(parts[i]!);
      }
      this.write('.\r\n');
      return await this.read();
    } finally {
      onData(false);
    }
  }

  destroy(): void {
    this.socket.destroy();
  }

  private write(data: string | Buffer): void {
    if (!this.socket.destroyed) this.socket.write(data);
  }

  private onData(d: string): void {
    this.buffer += d;
    for (;;) {
      const i = this.buffer.indexOf('\r\n');
      if (i < 0) break;
      const line = this.buffer.slice(0, i);
      this.buffer = this.buffer.slice(i + 2);
      this.pending.push(line.slice(4));
      if (!/^\d{3}( |$)/.test(line)) continue;
      const reply = { code: Number(line.slice(0, 3)), text: this.pending.join('\n') };
      this.pending = [];
      const w = this.waiter;
      this.waiter = null;
      if (w) w.resolve(reply);
      else this.replies.push(reply);
    }
  }
}
