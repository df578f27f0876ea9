/**
 * A minimal SMTP client connection for load generation: no pipelining (like smtp-source), one
 * command at a time, replies parsed line by line. Time-bounded: a reply that does not come
 * within `timeoutMs` fails the connection.
 */
import net from 'node:net';

export interface SmtpReplyLine {
  code: number;
  text: string;
}

export class SmtpConn {
  private buffer = '';
  private lines: string[] = [];
  private waiter: (() => void) | null = null;
  private failure: Error | null = null;

  private constructor(
    private readonly socket: net.Socket,
    private readonly timeoutMs: number,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => {
      this.buffer += d.toString('latin1');
      let i: number;
      while ((i = this.buffer.indexOf('\n')) >= 0) {
        this.lines.push(this.buffer.slice(0, i).replace(/\r$/, ''));
        this.buffer = this.buffer.slice(i + 1);
      }
      this.wake();
    });
    const fail = (err: Error) => {
      this.failure ??= err;
      this.wake();
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed')));
  }

  static connect(host: string, port: number, timeoutMs: number): Promise<SmtpConn> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      const timer = setTimeout(() => socket.destroy(new Error('connect timed out')), timeoutMs);
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new SmtpConn(socket, timeoutMs));
      });
    });
  }

  /** Read one (possibly multi-line) reply. */
  async reply(): Promise<SmtpReplyLine> {
    const deadline = Date.now() + this.timeoutMs;
    const text: string[] = [];
    for (;;) {
      const line = this.lines.shift();
      if (line === undefined) {
        if (this.failure) throw this.failure;
        if (Date.now() > deadline) throw new Error('reply timed out');
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()) + 1);
          this.waiter = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        continue;
      }
      text.push(line.slice(4));
      if (line[3] !== '-') return { code: Number(line.slice(0, 3)), text: text.join('\n') };
    }
  }

  /** Write, resolving once the data is handed to the kernel. */
  write(data: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      this.socket.write(data, (err) => (err ? reject(err) : resolve()));
    });
  }

  async command(line: string): Promise<SmtpReplyLine> {
    await this.write(`${line}\r\n`);
    return this.reply();
  }

  close(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }
}
