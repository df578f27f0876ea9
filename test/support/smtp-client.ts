/** A minimal SMTP client on a raw socket, so tests see the exact replies on the wire. */
import net from 'node:net';

export interface Reply {
  code: number;
  /** All lines joined with \n, without the code prefixes. */
  text: string;
  lines: string[];
}

export class SmtpClient {
  private buffer = '';
  private readonly waiting: ((r: Reply) => void)[] = [];
  private readonly replies: Reply[] = [];
  private closed = false;

  private constructor(private readonly socket: net.Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => this.onData(d));
    socket.on('close', () => {
      this.closed = true;
    });
    socket.on('error', () => undefined);
  }

  static async connect(port: number, host = '127.0.0.1'): Promise<{ client: SmtpClient; greeting: Reply }> {
    const socket = net.connect(port, host);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const client = new SmtpClient(socket);
    const greeting = await client.read();
    return { client, greeting };
  }

  /** Open, EHLO, and return the client (throws on a non-2xx greeting). */
  static async open(port: number): Promise<SmtpClient> {
    const { client, greeting } = await SmtpClient.connect(port);
    if (greeting.code !== 220) throw new Error(`greeting ${greeting.code} ${greeting.text}`);
    const ehlo = await client.cmd('EHLO test.client');
    if (ehlo.code !== 250) throw new Error(`EHLO ${ehlo.code}`);
    return client;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private onData(d: string) {
    this.buffer += d;
    let lines: string[] = [];
    for (;;) {
      const i = this.buffer.indexOf('\r\n');
      if (i < 0) break;
      const line = this.buffer.slice(0, i);
      this.buffer = this.buffer.slice(i + 2);
      lines.push(line);
      if (/^\d{3} /.test(line) || /^\d{3}$/.test(line)) {
        const reply: Reply = { code: Number(line.slice(0, 3)), lines: lines.map((l) => l.slice(4)), text: lines.map((l) => l.slice(4)).join('\n') };
        lines = [];
        const w = this.waiting.shift();
        if (w) w(reply);
        else this.replies.push(reply);
      }
    }
    if (lines.length) this.buffer = lines.map((l) => `${l}\r\n`).join('') + this.buffer;
  }

  read(timeoutMs = 10_000): Promise<Reply> {
    const r = this.replies.shift();
    if (r) return Promise.resolve(r);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('timed out waiting for an SMTP reply')), timeoutMs);
      this.waiting.push((reply) => {
        clearTimeout(t);
        resolve(reply);
      });
    });
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  async cmd(line: string): Promise<Reply> {
    this.socket.write(`${line}\r\n`);
    return this.read();
  }

  /** DATA, then the message (dot-stuffed here), then the final reply. */
  async data(message: string | Buffer): Promise<Reply> {
    const go = await this.cmd('DATA');
    if (go.code !== 354) return go;
    let body = Buffer.isBuffer(message) ? message.toString('latin1') : message;
    body = body.replace(/(^|\r\n)\./g, '$1..');
    if (!body.endsWith('\r\n')) body += '\r\n';
    this.socket.write(Buffer.from(`${body}.\r\n`, 'latin1'));
    return this.read(30_000);
  }

  /** A whole transaction; returns the reply of the first failing step, or the DATA reply. */
  async send(from: string, to: string[], message: string | Buffer): Promise<Reply> {
    const m = await this.cmd(`MAIL FROM:<${from}>`);
    if (m.code !== 250) return m;
    for (const r of to) {
      const rr = await this.cmd(`RCPT TO:<${r}>`);
      if (rr.code !== 250) {
        await this.cmd('RSET');
        return rr;
      }
    }
    return this.data(message);
  }

  async quit(): Promise<void> {
    if (!this.closed) {
      try {
        await this.cmd('QUIT');
      } catch {
        /* closed */
      }
    }
    this.socket.destroy();
  }
}

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
