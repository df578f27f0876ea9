/**
 * A counting fake of Google for the benchmark, on loopback. It speaks the same endpoints as
 * test/support/fake-google.ts (token endpoint with JWT verification; Gmail `users.messages.send`
 * media upload and resumable upload sessions, with bearer-token checks) but keeps no message: it
 * streams each upload, counts its bytes and records when each user sent (to check pacing). A
 * 5,000-message run stays small.
 *
 * With `quota`, it enforces Google's documented quotas as sliding windows (per user: 15,000 units
 * a minute, 150 sends; per service account's project: 1,200,000 units, 12,000 sends) and answers
 * a send over them as Gmail does: 429 RESOURCE_EXHAUSTED rateLimitExceeded, "User-rate limit
 * exceeded.  Retry after <ISO time>" (the time one more send fits). Refused sends use no quota.
 * A resumable upload is counted when its session starts (a send that Google refuses there is
 * never uploaded).
 */
import { createVerify, randomBytes, type KeyObject } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PROJECT_SENDS_PER_MINUTE, USER_SENDS_PER_MINUTE } from '../src/queue/google-quota.js';
import { SlidingWindow } from '../test/support/sliding-window.js';

export const GOOGLE_TOKEN_AUD = 'https://oauth2.googleapis.com/token';
const SEND_PATH = /^\/upload\/gmail\/v1\/users\/([^/]+)\/messages\/send$/;
const MAX_UPLOAD = 36_700_160;
const GRANULARITY = 256 * 1024;

/** A resumable upload session: who, how large, how much arrived. */
interface Session {
  user: string;
  total: number;
  received: number;
}

export interface CountingGmailOptions {
  /** The service account whose JWTs are accepted. */
  clientEmail: string;
  publicKey: KeyObject;
  /** Users that exist: any address in this domain. */
  domain: string;
  /** Answer each send after this many ms (Gmail's own latency; 0 = at once). */
  latencyMs?: number;
  /** Enforce Google's per-user and per-project quotas (sliding minutes), answering 429 above them. */
  quota?: boolean;
}

export interface GmailStats {
  delivered: number;
  bytes: number;
  tokens: number;
  refused: number;
  /** Sends answered 429 for being over a quota (only with `quota`). */
  rateLimited: number;
  quota: boolean;
  /** Wall-clock ms (Date.now()) of the first and last send answered. */
  firstAt: number | null;
  lastAt: number | null;
  /** Per user: wall-clock ms of each send. */
  perUser: Record<string, number[]>;
}

export class CountingGmail {
  private server!: http.Server;
  private readonly tokens = new Map<string, string>();
  private readonly sessions = new Map<string, Session>();
  private readonly stats: GmailStats;
  private readonly userWindows = new Map<string, SlidingWindow>();
  private readonly projectWindow = new SlidingWindow(PROJECT_SENDS_PER_MINUTE);
  private nextId = 1;

  private constructor(private readonly options: CountingGmailOptions) {
    this.stats = { delivered: 0, bytes: 0, tokens: 0, refused: 0, rateLimited: 0, quota: options.quota === true, firstAt: null, lastAt: null, perUser: {} };
  }

  static async start(options: CountingGmailOptions): Promise<CountingGmail> {
    const fake = new CountingGmail(options);
    fake.server = http.createServer((req, res) => {
      fake.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 500, message: String(err) } }));
      });
    });
    fake.server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  snapshot(withPerUser: boolean): GmailStats {
    return { ...this.stats, perUser: withPerUser ? this.stats.perUser : {} };
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', date: new Date().toUTCString() });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'POST' && url.pathname === '/token') {
      const r = this.token((await readSmallBody(req)).toString());
      if (r.status === 200) this.stats.tokens++;
      reply(r.status, r.body);
      return;
    }
    const m = SEND_PATH.exec(url.pathname);
    if (!m || (req.method !== 'POST' && req.method !== 'PUT')) {
      req.resume();
      reply(404, gmailError(404, `no fake for ${req.method} ${url.pathname}`));
      return;
    }
    const token = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const user = token ? this.tokens.get(token) : undefined;
    const uploadType = url.searchParams.get('uploadType');
    if (req.method === 'PUT') return this.chunk(req, res, url, user, reply);
    if (uploadType === 'resumable') {
      const arrived = Date.now();
      await countBody(req);
      if (!user) return this.refuse(reply, 401, 'Request had invalid authentication credentials.');
      if (this.limited(user, arrived, reply)) return;
      const total = Number(req.headers['x-upload-content-length']);
      if (!/^message\/rfc822/i.test(String(req.headers['x-upload-content-type'] ?? '')) || !(total > 0 && total <= MAX_UPLOAD)) {
        return this.refuse(reply, 400, 'bad resumable upload start');
      }
      const id = randomBytes(9).toString('base64url');
      this.sessions.set(id, { user, total, received: 0 });
      res.writeHead(200, { location: `${this.url}${url.pathname}?uploadType=resumable&upload_id=${id}`, 'content-length': '0' });
      res.end();
      return;
    }
    const type = String(req.headers['content-type'] ?? '');
    const arrived = Date.now();
    const bytes = await countBody(req);
    if (!user) return this.refuse(reply, 401, 'Request had invalid authentication credentials.');
    if (this.limited(user, arrived, reply)) return;
    if (uploadType !== 'media' || !/^message\/rfc822/i.test(type)) {
      return this.refuse(reply, 400, `Media type '${type}' is not supported.`);
    }
    if (bytes === 0 || bytes > MAX_UPLOAD) return this.refuse(reply, 400, `bad message size ${bytes}`);
    await this.sent(user, bytes, reply);
  }

  /** A PUT to a session: a chunk (counted) or a status query; 308 with Range until the last byte. */
  private async chunk(req: http.IncomingMessage, res: http.ServerResponse, url: URL, user: string | undefined, reply: (status: number, body: unknown) => void): Promise<void> {
    const bytes = await countBody(req);
    const session = this.sessions.get(url.searchParams.get('upload_id') ?? '');
    if (!session) return this.refuse(reply, 404, 'Not Found');
    if (user !== session.user) return this.refuse(reply, 401, 'Request had invalid authentication credentials.');
    const range = /^bytes (?:(\d+)-(\d+)|\*)\/(\d+)$/.exec(String(req.headers['content-range'] ?? ''));
    if (!range || Number(range[3]) !== session.total) return this.refuse(reply, 400, 'bad Content-Range');
    if (range[1] !== undefined) {
      const start = Number(range[1]);
      const end = Number(range[2]) + 1;
      const last = end === session.total;
      if (start !== session.received || end - start !== bytes || (!last && bytes % GRANULARITY !== 0)) return this.refuse(reply, 400, 'bad chunk');
      session.received = end;
    }
    if (session.received < session.total) {
      res.writeHead(308, { ...(session.received > 0 ? { range: `bytes=0-${session.received - 1}` } : {}), 'content-length': '0' });
      res.end();
      return;
    }
    this.sessions.delete(url.searchParams.get('upload_id')!);
    await this.sent(session.user, session.total, reply);
  }

  private async sent(user: string, bytes: number, reply: (status: number, body: unknown) => void): Promise<void> {
    if (this.options.latencyMs) await new Promise((r) => setTimeout(r, this.options.latencyMs));
    const now = Date.now();
    this.stats.delivered++;
    this.stats.bytes += bytes;
    this.stats.firstAt ??= now;
    this.stats.lastAt = now;
    (this.stats.perUser[user] ??= []).push(now);
    const id = (this.nextId++).toString(16).padStart(16, '18c0');
    reply(200, { id, threadId: id, labelIds: ['SENT'] });
  }

  /** With `quota`: answer 429 (true) when this send is over the user's or the project's sliding minute. */
  private limited(user: string, arrived: number, reply: (status: number, body: unknown) => void): boolean {
    const over = this.options.quota ? this.overQuota(user, arrived) : null;
    if (!over) return false;
    this.stats.rateLimited++;
    reply(429, gmailError(429, `${over.what} limit exceeded.  Retry after ${new Date(over.retryAt).toISOString()}`, 'rateLimitExceeded', 'RESOURCE_EXHAUSTED'));
    return true;
  }

  /** Over the user's or the project's sliding minute? The project's is checked only when the user's has room. */
  private overQuota(user: string, at: number): { what: string; retryAt: number } | null {
    let w = this.userWindows.get(user);
    if (!w) this.userWindows.set(user, (w = new SlidingWindow(USER_SENDS_PER_MINUTE)));
    const mine = w.request(at);
    if (!mine.ok) return { what: 'User-rate', retryAt: mine.retryAt };
    const project = this.projectWindow.request(at);
    if (!project.ok) {
      w.forget(at);
      return { what: 'Rate', retryAt: project.retryAt };
    }
    return null;
  }

  private refuse(reply: (status: number, body: unknown) => void, status: number, message: string): void {
    this.stats.refused++;
    reply(status, gmailError(status, message));
  }

  /** The JWT bearer grant: RS256 signature, audience, lifetime, scope and subject checked. */
  private token(form: string): { status: number; body: unknown } {
    const fail = (status: number, error: string, description: string) => ({ status, body: { error, error_description: description } });
    const params = new URLSearchParams(form);
    if (params.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') return fail(400, 'unsupported_grant_type', 'Invalid grant_type');
    const parts = (params.get('assertion') ?? '').split('.');
    if (parts.length !== 3) return fail(400, 'invalid_grant', 'Invalid JWT: malformed');
    const [h, p, s] = parts as [string, string, string];
    const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>;
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const signed = header.alg === 'RS256' && createVerify('RSA-SHA256').update(`${h}.${p}`).verify(this.options.publicKey, Buffer.from(s, 'base64url'));
    if (claims.iss !== this.options.clientEmail || !signed) return fail(400, 'invalid_grant', 'Invalid JWT Signature.');
    const now = Math.floor(Date.now() / 1000);
    const iat = Number(claims.iat);
    const exp = Number(claims.exp);
    if (claims.aud !== GOOGLE_TOKEN_AUD || !(iat <= now + 60 && exp > now && exp - iat <= 3600)) {
      return fail(400, 'invalid_grant', 'Invalid JWT: audience or lifetime');
    }
    const scopes = (typeof claims.scope === 'string' ? claims.scope : '').split(' ');
    if (!scopes.includes('https://www.googleapis.com/auth/gmail.send')) return fail(401, 'unauthorized_client', 'Client is unauthorized for the scopes requested.');
    const sub = (typeof claims.sub === 'string' ? claims.sub : '').toLowerCase();
    if (!sub.endsWith(`@${this.options.domain}`)) return fail(400, 'invalid_grant', 'Invalid email or User ID');
    const accessToken = `ya29.bench-${randomBytes(12).toString('hex')}`;
    this.tokens.set(accessToken, sub);
    return { status: 200, body: { access_token: accessToken, expires_in: 3600, token_type: 'Bearer' } };
  }
}

function gmailError(status: number, message: string, reason = 'bench', canonical?: string) {
  return { error: { code: status, message, errors: [{ message, domain: reason === 'bench' ? 'global' : 'usageLimits', reason }], ...(canonical ? { status: canonical } : {}) } };
}

/** Read and drop a request body, returning its length (never held in memory). */
function countBody(req: http.IncomingMessage): Promise<number> {
  return new Promise((resolve, reject) => {
    let n = 0;
    req.on('data', (c: Buffer) => (n += c.length));
    req.on('end', () => resolve(n));
    req.on('error', reject);
  });
}

function readSmallBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
