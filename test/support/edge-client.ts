/**
 * A raw SMTP client for the edge tests: plain, implicit TLS or STARTTLS, so tests see the exact
 * replies on the wire (the TLS handshake is Node's, with any protocol limits a test sets).
 */
import net from 'node:net';
import tls from 'node:tls';

export interface Reply {
  code: number;
  /** All lines joined with \n, without the code prefixes. */
  text: string;
  lines: string[];
}

export interface TlsClientOptions {
  minVersion?: tls.SecureVersion;
  maxVersion?: tls.SecureVersion;
  ciphers?: string;
  /** Trust this CA (PEM); default: do not verify (the tests check what the server presents). */
  ca?: Buffer;
}

function tlsOptions(o: TlsClientOptions): tls.ConnectionOptions {
  return {
    rejectUnauthorized: Boolean(o.ca),
    ...(o.ca ? { ca: o.ca } : {}),
    ...(o.minVersion ? { minVersion: o.minVersion } : {}),
    ...(o.maxVersion ? { maxVersion: o.maxVersion } : {}),
    ...(o.ciphers ? { ciphers: o.ciphers } : {}),
  };
}

export class EdgeClient {
  private buffer = '';
  private waiting: ((r: Reply | null) => void)[] = [];
  private replies: Reply[] = [];
  private closedFlag = false;
  private closeWaiters: (() => void)[] = [];

  private constructor(private socket: net.Socket) {
    this.attach(socket);
  }

  private attach(socket: net.Socket) {
    this.socket = socket;
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => this.onData(d));
    socket.on('close', () => {
      this.closedFlag = true;
      for (const w of this.waiting.splice(0)) w(null);
      for (const w of this.closeWaiters.splice(0)) w();
    });
    socket.on('error', () => undefined);
  }

  /** Connect (plain, or implicit TLS with `tls`) and read the greeting. */
  static async connect(
    port: number,
    options: { tls?: TlsClientOptions; host?: string; localAddress?: string; early?: string; proxy?: Buffer } = {},
  ): Promise<{ client: EdgeClient; greeting: Reply }> {
    const host = options.host ?? '127.0.0.1';
    const local = options.localAddress ? { localAddress: options.localAddress } : {};
    let socket: net.Socket;
    if (options.proxy) {
      // as a balancer does: the PROXY header first, then (implicit TLS) the handshake
      const tcp = net.connect({ port, host, ...local });
      await new Promise<void>((resolve, reject) => {
        tcp.once('connect', () => resolve());
        tcp.once('error', reject);
      });
      tcp.write(options.proxy);
      socket = options.tls ? tls.connect({ socket: tcp, ...tlsOptions(options.tls) }) : tcp;
    } else {
      socket = options.tls ? tls.connect({ port, host, ...local, ...tlsOptions(options.tls) }) : net.connect({ port, host, ...local });
    }
    await new Promise<void>((resolve, reject) => {
      if (options.proxy && !options.tls) return resolve();
      socket.once(options.tls ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    if (options.early) socket.write(options.early);
    const client = new EdgeClient(socket);
    const greeting = await client.read();
    return { client, greeting };
  }

  /** Connect, expect 220, EHLO; returns the client and the EHLO reply. */
  static async open(port: number, options: { tls?: TlsClientOptions; localAddress?: string } = {}): Promise<{ client: EdgeClient; ehlo: Reply }> {
    const { client, greeting } = await EdgeClient.connect(port, options);
    if (greeting.code !== 220) throw new Error(`greeting ${greeting.code} ${greeting.text}`);
    const ehlo = await client.cmd('EHLO edge.test');
    return { client, ehlo };
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  get tlsProtocol(): string | null {
    return this.socket instanceof tls.TLSSocket ? this.socket.getProtocol() : null;
  }

  get peerCertificate(): tls.PeerCertificate | null {
    return this.socket instanceof tls.TLSSocket ? this.socket.getPeerCertificate() : null;
  }

  /** STARTTLS, handshake, EHLO again. Returns the EHLO reply (throws if STARTTLS is refused). */
  async starttls(options: TlsClientOptions = {}): Promise<Reply> {
    const r = await this.cmd('STARTTLS');
    if (r.code !== 220) throw new Error(`STARTTLS ${r.code} ${r.text}`);
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    const secure = tls.connect({ socket: plain, ...tlsOptions(options) });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    this.attach(secure);
    return this.cmd('EHLO edge.test');
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
      if (/^\d{3}( |$)/.test(line)) {
        const texts = lines.map((l) => l.slice(4));
        const reply: Reply = { code: Number(line.slice(0, 3)), lines: texts, text: texts.join('\n') };
        lines = [];
        const w = this.waiting.shift();
        if (w) w(reply);
        else this.replies.push(reply);
      }
    }
    if (lines.length) this.buffer = lines.map((l) => `${l}\r\n`).join('') + this.buffer;
  }

  /** The next reply; rejects on timeout or when the connection closes first. */
  read(timeoutMs = 15_000): Promise<Reply> {
    const r = this.replies.shift();
    if (r) return Promise.resolve(r);
    if (this.closedFlag) return Promise.reject(new Error('connection closed'));
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('timed out waiting for an SMTP reply')), timeoutMs);
      this.waiting.push((reply) => {
        clearTimeout(t);
        if (reply) resolve(reply);
        else reject(new Error('connection closed'));
      });
    });
  }

  write(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  /** Write chunks as fast as the socket takes them (for large messages). */
  async stream(chunks: Iterable<Buffer>): Promise<void> {
    for (const chunk of chunks) {
      if (this.closedFlag) return;
      if (!this.socket.write(chunk)) await new Promise<void>((resolve) => this.socket.once('drain', () => resolve()));
    }
  }

  cmd(line: string): Promise<Reply> {
    this.write(`${line}\r\n`);
    return this.read();
  }

  /** DATA, the message (dot-stuffed here, CRLF-terminated), then the final reply. */
  async data(message: string | Buffer): Promise<Reply> {
    const go = await this.cmd('DATA');
    if (go.code !== 354) return go;
    let body = Buffer.isBuffer(message) ? message.toString('latin1') : message;
    body = body.replace(/(^|\r\n)\./g, '$1..');
    if (!body.endsWith('\r\n')) body += '\r\n';
    this.write(`${body}.\r\n`);
    return this.read(60_000);
  }

  /** MAIL, RCPT…, DATA; returns the first failing reply or the DATA reply. */
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

  /** Resolves when the server has closed the connection. */
  whenClosed(timeoutMs = 15_000): Promise<void> {
    if (this.closedFlag) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('connection still open')), timeoutMs);
      this.closeWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  async quit(): Promise<void> {
    if (!this.closedFlag) await this.cmd('QUIT').catch(() => undefined);
    this.socket.destroy();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

/** A plain message with CRLF line endings. */
export function mail(headers: Record<string, string>, body = 'Hello.\r\n'): string {
  return `${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\r\n')}\r\n\r\n${body}`;
}
