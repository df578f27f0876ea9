/**
 * A fake of the Google endpoints the relay uses, on a loopback HTTP server inside the test suite:
 * - the OAuth token endpoint: verifies the service account's JWT (RS256, against the public key
 *   of the key file the test generated), checks domain-wide delegation (client ID and scopes an
 *   "admin" authorised) and that the impersonated user exists, and answers as Google does;
 * - Gmail `users.messages.send` (media upload, resumable upload (fake-upload.ts), multipart
 *   upload and JSON `raw`): checks the bearer token, the scope, the user's mail service
 *   (disableMail) and, for the one-request uploads, that the message has a recipient (To, Cc or
 *   Bcc), in that order, and records what Gmail would have sent.
 * - Gmail `users.settings.sendAs.list` once a test calls `setSendAs()` (scope-checked as Google
 *   documents: gmail.settings.basic, gmail.readonly, gmail.modify or https://mail.google.com/).
 * Other modules add routes with `route()` (e.g. S/MIME settings).
 * Every answer carries a Date header from Google's clock (ours + clockOffsetMs), as Google's do.
 */
import { createHash, createPublicKey, createVerify, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { MAX_UPLOAD, ResumableSessions, readBodyInto, type ReadResult, type UploadFault, type UploadProbe, type UploadRequestRecord } from './fake-upload.js';

export type { UploadFault, UploadProbe, UploadRequestRecord } from './fake-upload.js';

export const GOOGLE_TOKEN_AUD = 'https://oauth2.googleapis.com/token';

export interface TestServiceAccount {
  clientId: string;
  clientEmail: string;
  keyId: string;
  privateKeyPem: string;
  publicKey: KeyObject;
  /** The JSON key as Google's console would hand it out. */
  json: Record<string, string>;
  /** Write the JSON key to dir/name with mode 0600 and return its path. */
  writeKeyFile(dir: string, name?: string): string;
}

export function createTestServiceAccount(name = 'relay'): TestServiceAccount {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const clientId = String(100_000_000_000_000_000_000n + BigInt(randomBytes(4).readUInt32BE()));
  const keyId = randomBytes(20).toString('hex');
  const clientEmail = `${name}@test-project.iam.gserviceaccount.com`;
  const json = {
    type: 'service_account',
    project_id: 'test-project',
    private_key_id: keyId,
    private_key: privateKeyPem,
    client_email: clientEmail,
    client_id: clientId,
    token_uri: GOOGLE_TOKEN_AUD,
  };
  return {
    clientId,
    clientEmail,
    keyId,
    privateKeyPem,
    publicKey: createPublicKey(privateKey),
    json,
    writeKeyFile(dir, file = `${name}-sa.json`) {
      const p = path.join(dir, file);
      writeFileSync(p, JSON.stringify(json, null, 2), { mode: 0o600 });
      return p;
    },
  };
}

export interface TokenGrant {
  iss: string;
  sub: string;
  scopes: string[];
  kid: string | undefined;
  aud: string;
  accessToken: string;
}

export interface SentMessage {
  /** The user Gmail sent as (the token's subject). */
  user: string;
  /** The userId in the URL (the relay uses "me"). */
  userId: string;
  uploadType: 'media' | 'resumable' | 'multipart' | 'json';
  raw: Buffer;
  id: string;
  /** When the whole request had arrived (Gmail has the message from then on). */
  receivedAt: number;
  /** When the 200 was handed to the socket; unset while held (sendLatencyMs) or if the client went away first. */
  answeredAt?: number;
}

export interface ScriptedResponse {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
  /** Destroy the socket instead of answering (after reading the request). */
  dropConnection?: boolean;
}

export interface FakeRequest {
  method: string;
  url: URL;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The token's grant, when the request carried a valid bearer token. */
  grant: TokenGrant | undefined;
}

type RouteHandler = (req: FakeRequest) => ScriptedResponse | Promise<ScriptedResponse>;

interface AccessToken {
  grant: TokenGrant;
  expiresAt: number;
}

export class FakeGoogle {
  readonly grants: TokenGrant[] = [];
  readonly tokenRequests: { ok: boolean; error?: string; sub?: string }[] = [];
  readonly sent: SentMessage[] = [];
  /** Sends refused by a per-user rate limit (rateLimitUser), with when they arrived. */
  readonly rateLimited: { user: string; at: number }[] = [];
  /**
   * Gmail's rolling 24 h per-user message limit, made tight for a test (Google's is 2,000): a send
   * beyond this many by one user is answered 429 "Daily user sending limit exceeded" and recorded
   * in `quotaRefused`. Undefined: no limit.
   */
  dailyQuota: number | undefined;
  readonly quotaRefused: { user: string; at: number }[] = [];
  /** user → until when Gmail answers 429 to that user's sends, and the "Retry after" text it states. */
  private readonly userLimits = new Map<string, { until: number; stated: string }>();
  /** Every Gmail API request, answered or not. */
  readonly requests: FakeRequest[] = [];
  /** Clock offset of Google's clock relative to ours, for skew tests (ms). */
  clockOffsetMs = 0;
  /** Token lifetime handed out (s). */
  tokenLifetimeS = 3600;
  /**
   * Hold each successful send this long (ms) after recording it and before answering, so a test
   * can act while deliveries are in flight: the message counts as sent even if the client dies.
   */
  sendLatencyMs: number | (() => number) = 0;
  /** Watch uploads in flight (see UploadProbe). */
  uploadProbe: UploadProbe | undefined;
  /** Resumable upload sessions (fake-upload.ts). */
  readonly resumable = new ResumableSessions({
    baseUrl: () => this.url,
    sendRefusal: (grant, userId) => this.sendRefusal(grant, userId),
    recordSent: (sent) => {
      const record = { ...sent, id: (this.nextId++).toString(16).padStart(16, '18c0') };
      this.sent.push(record);
      return record;
    },
    holdMs: () => (typeof this.sendLatencyMs === 'function' ? this.sendLatencyMs() : this.sendLatencyMs),
    probe: () => this.uploadProbe,
    error: gmailError,
  });
  /** Answer each token request this long (ms) after it arrives: Google's latency (benchmarks). */
  tokenLatencyMs = 0;

  private server!: http.Server;
  private readonly accounts = new Map<string, TestServiceAccount>();
  private readonly delegation = new Map<string, Set<string>>();
  private readonly users = new Set<string>();
  private readonly tokens = new Map<string, AccessToken>();
  private readonly scripted: { match: RegExp; response: ScriptedResponse }[] = [];
  private readonly scriptedTokens: ScriptedResponse[] = [];
  /** Bytes of media uploads being read (see heldBytes). */
  private mediaHeld = 0;
  private readonly routes: { method: string; match: RegExp; handler: RouteHandler }[] = [];
  private readonly disabledUsers = new Set<string>();
  private readonly sendAs = new Map<string, FakeSendAs[]>();
  private sendAsRoute = false;
  private nextId = 1;

  static async start(): Promise<FakeGoogle> {
    const fake = new FakeGoogle();
    fake.server = http.createServer((req, res) => {
      fake.handle(req, res).catch((err: unknown) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 500, message: String(err) } }));
      });
    });
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  get url(): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }
  get tokenUrl(): string {
    return `${this.url}/token`;
  }
  get apiRootUrl(): string {
    return `${this.url}/`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Register a service account whose JWTs the token endpoint will verify. */
  addServiceAccount(account: TestServiceAccount): void {
    this.accounts.set(account.clientEmail, account);
  }
  /** Domain-wide delegation as an admin would set it: client ID → scopes. */
  authorize(clientId: string, scopes: string[]): void {
    this.delegation.set(clientId, new Set(scopes));
  }
  revoke(clientId: string): void {
    this.delegation.delete(clientId);
  }
  addUser(...emails: string[]): void {
    for (const e of emails) this.users.add(e.toLowerCase());
  }
  /** The Gmail service is off for this user (400 failedPrecondition on send). */
  disableMail(email: string): void {
    this.disabledUsers.add(email.toLowerCase());
  }
  /** Make every access token handed out so far invalid (Gmail answers 401). */
  expireAllTokens(): void {
    this.tokens.clear();
  }
  /** The next Gmail request whose path matches gets this answer instead (in order). */
  failNext(response: ScriptedResponse, match: RegExp = /messages\/send/): void {
    this.scripted.push({ match, response });
  }
  /** The next resumable upload request the fault matches fails that way (in order; see UploadFault). */
  failUpload(fault: UploadFault): void {
    this.resumable.fail(fault);
  }
  /** Every request of a resumable upload, in order. */
  get uploadRequests(): readonly UploadRequestRecord[] {
    return this.resumable.requests;
  }
  /** Bytes of uploads the fake holds in memory now (sessions not yet complete, media bodies being read). */
  heldBytes(): number {
    return this.mediaHeld + this.resumable.heldBytes();
  }
  /** The next token request gets this answer instead (in order), e.g. a 503 or a dropped connection. */
  failNextToken(response: ScriptedResponse): void {
    this.scriptedTokens.push(response);
  }
  /** The first send of the message with this Message-ID (without <>), or undefined while none has arrived. */
  sentWithMessageId(messageId: string): SentMessage | undefined {
    return this.sent.find((s) => messageIdOf(s.raw) === messageId);
  }
  /** How many times each Message-ID (without <>) was sent; a count above 1 is a duplicate. */
  sentByMessageId(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const s of this.sent) {
      const id = messageIdOf(s.raw);
      if (id !== null) counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    return counts;
  }
  /** Open client connections (e.g. 0 once a killed relay's sockets are all closed). */
  openConnections(): Promise<number> {
    return new Promise((resolve, reject) => this.server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
  }
  /**
   * What `users.settings.sendAs.list` answers for `user`: the user's own address (primary) and
   * these aliases (plain strings are verified ones). The route is added on first use, so suites
   * that install their own sendAs routes (FakeSmime) are unaffected unless they call this.
   */
  setSendAs(user: string, aliases: readonly (string | FakeSendAs)[]): void {
    if (!this.sendAsRoute) {
      this.sendAsRoute = true;
      this.route('GET', /^\/gmail\/v1\/users\/[^/]+\/settings\/sendAs$/, (req) => this.sendAsList(req));
    }
    this.sendAs.set(
      user.toLowerCase(),
      aliases.map((a) => (typeof a === 'string' ? { email: a, verificationStatus: 'accepted' } : a)),
    );
  }
  route(method: string, match: RegExp, handler: RouteHandler): void {
    this.routes.push({ method, match, handler });
  }
  /** Find the grant of a bearer token (for route handlers). */
  grantFor(authorization: string | undefined): TokenGrant | undefined {
    const token = /^Bearer (.+)$/i.exec(authorization ?? '')?.[1];
    if (!token) return undefined;
    const t = this.tokens.get(token);
    if (!t || t.expiresAt < Date.now()) return undefined;
    return t.grant;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const upload = UPLOAD_PATH.exec(url.pathname);
    const uploadType = url.searchParams.get('uploadType') ?? '';
    const streamed = upload && ((req.method === 'POST' && (uploadType === 'media' || uploadType === 'resumable')) || req.method === 'PUT');
    const body = streamed ? Buffer.alloc(0) : await readBody(req);
    const send = (r: ScriptedResponse) => {
      if (r.dropConnection) {
        req.socket.destroy();
        return;
      }
      res.writeHead(r.status, {
        'content-type': 'application/json',
        date: new Date(Date.now() + this.clockOffsetMs).toUTCString(),
        ...r.headers,
      });
      res.end(typeof r.body === 'string' ? r.body : JSON.stringify(r.body));
    };
    if (req.method === 'POST' && url.pathname === '/token') {
      if (this.tokenLatencyMs > 0) await new Promise((r) => setTimeout(r, this.tokenLatencyMs));
      const scripted = this.scriptedTokens.shift();
      if (scripted) {
        this.tokenRequests.push({ ok: false, error: `scripted ${scripted.status}` });
        send(scripted);
        return;
      }
      send(this.token(body));
      return;
    }
    const fr: FakeRequest = {
      method: req.method ?? 'GET',
      url,
      headers: req.headers,
      body,
      grant: this.grantFor(req.headers.authorization),
    };
    this.requests.push(fr);
    if (streamed && req.method === 'PUT') return this.resumable.put(req, res, url, fr, send);
    const i = this.scripted.findIndex((s) => s.match.test(url.pathname));
    if (i >= 0) {
      const [s] = this.scripted.splice(i, 1);
      if (streamed) await readBody(req); // as Google reads the request before answering
      send(s!.response);
      return;
    }
    if (!fr.grant) {
      send(gmailError(401, 'Request had invalid authentication credentials.', 'UNAUTHENTICATED', 'authError'));
      return;
    }
    const m = /^\/(upload\/)?gmail\/v1\/users\/([^/]+)\/messages\/send$/.exec(url.pathname);
    if (streamed && uploadType === 'resumable') return this.resumable.start(req, url, fr, decodeURIComponent(upload[1]!), send);
    if (streamed) {
      // A media upload, read into a buffer of its announced length (so what the fake holds is known).
      const length = Number(req.headers['content-length'] ?? NaN);
      if (!Number.isSafeInteger(length) || length > MAX_UPLOAD) return send(gmailError(413, 'Request Entity Too Large', 'INVALID_ARGUMENT', 'uploadTooLarge'));
      const into = Buffer.allocUnsafeSlow(length);
      this.mediaHeld += length;
      let read: ReadResult;
      try {
        read = await readBodyInto(req, into, 0, length, { probe: this.uploadProbe });
      } finally {
        this.mediaHeld -= length;
      }
      if (!read.ok) return;
      fr.body = into.subarray(0, read.length);
    }
    if (req.method === 'POST' && m) {
      const before = this.sent.length;
      const answer = this.messagesSend(fr, Boolean(m[1]), decodeURIComponent(m[2]!));
      const record = this.sent.length > before ? this.sent[this.sent.length - 1] : undefined;
      if (record) {
        const hold = typeof this.sendLatencyMs === 'function' ? this.sendLatencyMs() : this.sendLatencyMs;
        if (hold > 0) await new Promise((r) => setTimeout(r, hold));
        res.once('finish', () => (record.answeredAt = Date.now()));
      }
      send(answer);
      return;
    }
    for (const r of this.routes) {
      if (r.method === req.method && r.match.test(url.pathname)) {
        send(await r.handler(fr));
        return;
      }
    }
    send(gmailError(404, `no fake for ${req.method} ${url.pathname}`, 'NOT_FOUND', 'notFound'));
  }

  private token(body: Buffer): ScriptedResponse {
    const params = new URLSearchParams(body.toString());
    const fail = (status: number, error: string, description: string, sub?: string) => {
      this.tokenRequests.push({ ok: false, error: `${error}: ${description}`, ...(sub ? { sub } : {}) });
      return { status, body: { error, error_description: description } };
    };
    if (params.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
      return fail(400, 'unsupported_grant_type', 'Invalid grant_type');
    }
    const parts = (params.get('assertion') ?? '').split('.');
    if (parts.length !== 3) return fail(400, 'invalid_grant', 'Invalid JWT: malformed');
    const [h, p, s] = parts as [string, string, string];
    const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>;
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const account = this.accounts.get(String(claims.iss));
    if (!account) return fail(400, 'invalid_grant', 'Invalid JWT Signature.');
    const ok =
      header.alg === 'RS256' &&
      createVerify('RSA-SHA256').update(`${h}.${p}`).verify(account.publicKey, Buffer.from(s, 'base64url'));
    if (!ok) return fail(400, 'invalid_grant', 'Invalid JWT Signature.');
    if (header.kid !== undefined && header.kid !== account.keyId) {
      return fail(400, 'invalid_grant', 'Invalid JWT Signature.');
    }
    const now = Math.floor((Date.now() + this.clockOffsetMs) / 1000);
    const iat = Number(claims.iat);
    const exp = Number(claims.exp);
    if (claims.aud !== GOOGLE_TOKEN_AUD) return fail(400, 'invalid_grant', 'Invalid JWT: audience');
    if (!(iat <= now + 60 && exp > now && exp - iat <= 3600)) {
      return fail(
        400,
        'invalid_grant',
        'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.',
      );
    }
    const sub = (typeof claims.sub === 'string' ? claims.sub : '').toLowerCase();
    const scopes = (typeof claims.scope === 'string' ? claims.scope : '').split(' ').filter(Boolean);
    const authorised = this.delegation.get(account.clientId);
    if (!authorised || !scopes.length || !scopes.every((sc) => authorised.has(sc))) {
      return fail(
        401,
        'unauthorized_client',
        'Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.',
        sub,
      );
    }
    if (!sub || !this.users.has(sub)) return fail(400, 'invalid_grant', 'Invalid email or User ID', sub);
    const accessToken = `ya29.fake-${randomBytes(12).toString('hex')}`;
    const grant: TokenGrant = { iss: account.clientEmail, sub, scopes, kid: typeof header.kid === 'string' ? header.kid : undefined, aud: String(claims.aud), accessToken };
    this.grants.push(grant);
    this.tokenRequests.push({ ok: true, sub });
    this.tokens.set(accessToken, { grant, expiresAt: Date.now() + this.tokenLifetimeS * 1000 });
    return {
      status: 200,
      body: { access_token: accessToken, expires_in: this.tokenLifetimeS, token_type: 'Bearer' },
    };
  }

  /**
   * Gmail answers this user's sends with 429 "Retry after <stated>" until `until` (ms). `stated`
   * defaults to `until` as ISO; pass a time in the past or junk to test those cases.
   */
  rateLimitUser(user: string, until: number, stated = new Date(until).toISOString()): void {
    this.userLimits.set(user.toLowerCase(), { until, stated });
  }

  private sendAsList(req: FakeRequest): ScriptedResponse {
    const grant = req.grant!;
    const userId = decodeURIComponent(req.url.pathname.split('/')[4] ?? '');
    if (!grant.scopes.some((s) => SEND_AS_LIST_SCOPES.has(s))) {
      return gmailError(403, 'Request had insufficient authentication scopes.', 'PERMISSION_DENIED', 'insufficientPermissions');
    }
    if (userId !== 'me' && userId.toLowerCase() !== grant.sub) {
      return gmailError(403, 'Delegation denied for ' + grant.sub, 'PERMISSION_DENIED', 'forbidden');
    }
    const primary = { sendAsEmail: grant.sub, displayName: '', replyToAddress: '', signature: '', isPrimary: true, isDefault: true };
    const others = (this.sendAs.get(grant.sub) ?? []).map((a) => ({
      sendAsEmail: a.email,
      displayName: '',
      isPrimary: a.isPrimary ?? false,
      isDefault: false,
      treatAsAlias: true,
      ...(a.verificationStatus ? { verificationStatus: a.verificationStatus } : {}),
    }));
    return { status: 200, body: { sendAs: [primary, ...others] } };
  }

  /** Why Gmail would refuse a send by this user now (rate limit, scope, delegation, mail off), or null. */
  private sendRefusal(grant: TokenGrant, userId: string): ScriptedResponse | null {
    const limit = this.userLimits.get(grant.sub);
    if (limit && Date.now() < limit.until) {
      this.rateLimited.push({ user: grant.sub, at: Date.now() });
      return gmailError(429, `User-rate limit exceeded.  Retry after ${limit.stated}`, 'RESOURCE_EXHAUSTED', 'rateLimitExceeded');
    }
    if (!grant.scopes.some((s) => SEND_SCOPES.has(s))) {
      return gmailError(403, 'Request had insufficient authentication scopes.', 'PERMISSION_DENIED', 'insufficientPermissions');
    }
    if (userId !== 'me' && userId.toLowerCase() !== grant.sub) {
      return gmailError(403, 'Delegation denied for ' + grant.sub, 'PERMISSION_DENIED', 'forbidden');
    }
    if (this.disabledUsers.has(grant.sub)) {
      return gmailError(400, 'Mail service not enabled', 'FAILED_PRECONDITION', 'failedPrecondition');
    }
    if (this.dailyQuota !== undefined && this.sent.filter((m) => m.user === grant.sub).length >= this.dailyQuota) {
      this.quotaRefused.push({ user: grant.sub, at: Date.now() });
      return gmailError(429, 'Daily user sending limit exceeded.', 'RESOURCE_EXHAUSTED', 'rateLimitExceeded');
    }
    return null;
  }

  private messagesSend(req: FakeRequest, upload: boolean, userId: string): ScriptedResponse {
    const grant = req.grant!;
    const refused = this.sendRefusal(grant, userId);
    if (refused) return refused;
    let raw: Buffer;
    let uploadType: SentMessage['uploadType'];
    const ctype = String(req.headers['content-type'] ?? '');
    if (upload) {
      uploadType = req.url.searchParams.get('uploadType') === 'multipart' ? 'multipart' : 'media';
      if (uploadType === 'multipart') {
        const boundary = /boundary=([^;]+)/.exec(ctype)?.[1];
        if (!boundary) return gmailError(400, 'missing boundary', 'INVALID_ARGUMENT', 'badRequest');
        raw = multipartMessage(req.body, boundary);
      } else {
        if (!/^message\/rfc822/i.test(ctype)) {
          return gmailError(400, `Media type '${ctype}' is not supported.`, 'INVALID_ARGUMENT', 'badContent');
        }
        raw = req.body;
      }
    } else {
      uploadType = 'json';
      const json = JSON.parse(req.body.toString() || '{}') as { raw?: string };
      if (!json.raw) return gmailError(400, "'raw' RFC822 payload message string or uploading message via /upload/* URL required", 'INVALID_ARGUMENT', 'invalidArgument');
      raw = Buffer.from(json.raw, 'base64url');
    }
    if (raw.length > MAX_UPLOAD) return gmailError(413, 'Request Entity Too Large', 'INVALID_ARGUMENT', 'uploadTooLarge');
    // Gmail delivers to the header recipients: with none, it refuses the message (and sends nothing).
    if (!hasRecipientHeader(raw)) return gmailError(400, 'Recipient address required', 'INVALID_ARGUMENT', 'invalidArgument');
    const id = (this.nextId++).toString(16).padStart(16, '18c0');
    this.sent.push({ user: grant.sub, userId, uploadType, raw, id, receivedAt: Date.now() });
    return { status: 200, body: { id, threadId: id, labelIds: ['SENT'] } };
  }
}

/** A send-as alias as users.settings.sendAs.list lists it. */
export interface FakeSendAs {
  email: string;
  verificationStatus?: 'accepted' | 'pending';
  isPrimary?: boolean;
}

/** The scopes Google documents for users.settings.sendAs.list. */
const SEND_AS_LIST_SCOPES = new Set([
  'https://www.googleapis.com/auth/gmail.settings.basic',
  'https://mail.google.com/',
  'https://www.googleapis.com/auth/gmail.modify',
  'https://www.googleapis.com/auth/gmail.readonly',
]);

const SEND_SCOPES = new Set([
  'https://www.googleapis.com/auth/gmail.send',
  'https://mail.google.com/',
  'https://www.googleapis.com/auth/gmail.compose',
  'https://www.googleapis.com/auth/gmail.modify',
]);

/**
 * Gmail's over-limit answer: 429 (or 403 with `reason`) and "Retry after <ISO time>" in the
 * message text, as Google words it.
 */
export function rateLimitError(retryAt: Date, status = 429, reason = 'rateLimitExceeded'): ScriptedResponse {
  return gmailError(
    status,
    `User-rate limit exceeded.  Retry after ${retryAt.toISOString()}`,
    status === 429 ? 'RESOURCE_EXHAUSTED' : 'PERMISSION_DENIED',
    reason,
  );
}

export function gmailError(status: number, message: string, statusText: string, reason: string): ScriptedResponse {
  return {
    status,
    body: {
      error: { code: status, message, errors: [{ message, domain: 'global', reason }], status: statusText },
    },
  };
}

/** The upload path of users.messages.send; [1] is the userId. */
const UPLOAD_PATH = /^\/upload\/gmail\/v1\/users\/([^/]+)\/messages\/send$/;

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The message part of a multipart/related upload (second part). */
function multipartMessage(body: Buffer, boundary: string): Buffer {
  const delim = Buffer.from(`--${boundary}`);
  const parts: Buffer[] = [];
  let pos = body.indexOf(delim);
  while (pos >= 0) {
    const next = body.indexOf(delim, pos + delim.length);
    if (next < 0) break;
    parts.push(body.subarray(pos + delim.length, next));
    pos = next;
  }
  const part = parts[1] ?? Buffer.alloc(0);
  const headerEnd = part.indexOf('\r\n\r\n');
  let content = part.subarray(headerEnd + 4);
  if (content.subarray(-2).toString() === '\r\n') content = content.subarray(0, -2);
  return content;
}

/** Does the header section have a To, Cc or Bcc with something in it? */
function hasRecipientHeader(raw: Buffer): boolean {
  const end = raw.indexOf('\r\n\r\n');
  const head = raw.subarray(0, end < 0 ? raw.length : end).toString('latin1');
  return /^(?:to|cc|bcc):[ \t]*(?:\r?\n[ \t]+)*\S/im.test(head);
}

/** The Message-ID header of a message (without <>), from its header section only; null if none. */
export function messageIdOf(raw: Buffer): string | null {
  const end = raw.indexOf('\r\n\r\n');
  const head = raw.subarray(0, end < 0 ? raw.length : end).toString('latin1');
  return /^Message-ID:[ \t]*<([^>\r\n]+)>/im.exec(head)?.[1] ?? null;
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}
