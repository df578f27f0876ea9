/**
 * The Admin SDK Directory API for the fake Google (routes added with route()): users.get (by
 * primary address or alias), users.list (paged, customer, orgUnitPath query), groups.get (by
 * address or alias). It checks what Google checks: a valid token (the fake's token endpoint
 * verified the JWT and the delegation), the scope each call needs, and that the token's user is
 * an admin who may read the directory ("Not Authorized to access this resource/api").
 */
import { gmailError, type FakeGoogle, type FakeRequest, type ScriptedResponse } from './fake-google.js';

export const DIRECTORY_USER_READONLY = 'https://www.googleapis.com/auth/admin.directory.user.readonly';
export const DIRECTORY_GROUP_READONLY = 'https://www.googleapis.com/auth/admin.directory.group.readonly';
const USER_SCOPES = new Set([DIRECTORY_USER_READONLY, 'https://www.googleapis.com/auth/admin.directory.user']);
const GROUP_SCOPES = new Set([DIRECTORY_GROUP_READONLY, 'https://www.googleapis.com/auth/admin.directory.group']);

export interface FakeDirectoryUser {
  primaryEmail: string;
  aliases?: string[];
  orgUnitPath?: string;
  suspended?: boolean;
}

export class FakeDirectory {
  readonly users: FakeDirectoryUser[] = [];
  readonly groups: { email: string; aliases: string[] }[] = [];
  /** Users who may read the directory. */
  readonly admins = new Set<string>();
  /** Each request, as the fake saw it (path and query). */
  readonly calls: { method: 'users.get' | 'users.list' | 'groups.get'; key?: string; query?: string; pageToken?: string }[] = [];
  /** users.list page size the fake uses at most (Google: 500). */
  pageSize = 500;
  /** Hold each answer this long (ms). */
  latencyMs = 0;
  /** Answer every Directory call with this (e.g. a 503), until cleared. */
  outage: ScriptedResponse | null = null;

  constructor(fake: FakeGoogle) {
    fake.route('GET', /^\/admin\/directory\/v1\/users\/[^/]+$/, (req) => this.answer(req, () => this.usersGet(req)));
    fake.route('GET', /^\/admin\/directory\/v1\/users$/, (req) => this.answer(req, () => this.usersList(req)));
    fake.route('GET', /^\/admin\/directory\/v1\/groups\/[^/]+$/, (req) => this.answer(req, () => this.groupsGet(req)));
  }

  addUser(primaryEmail: string, extra: Omit<FakeDirectoryUser, 'primaryEmail'> = {}): void {
    this.users.push({ primaryEmail: primaryEmail.toLowerCase(), orgUnitPath: '/', ...extra });
  }
  addGroup(email: string, aliases: string[] = []): void {
    this.groups.push({ email: email.toLowerCase(), aliases: aliases.map((a) => a.toLowerCase()) });
  }
  addAdmin(email: string): void {
    this.admins.add(email.toLowerCase());
  }

  private async answer(req: FakeRequest, fn: () => ScriptedResponse): Promise<ScriptedResponse> {
    if (this.latencyMs) await new Promise((r) => setTimeout(r, this.latencyMs));
    if (this.outage) return this.outage;
    return fn();
  }

  private denied(req: FakeRequest, scopes: Set<string>): ScriptedResponse | null {
    const grant = req.grant!;
    if (!grant.scopes.some((s) => scopes.has(s))) {
      return gmailError(403, 'Request had insufficient authentication scopes.', 'PERMISSION_DENIED', 'insufficientPermissions');
    }
    if (!this.admins.has(grant.sub)) return gmailError(403, 'Not Authorized to access this resource/api', '', 'forbidden');
    return null;
  }

  private usersGet(req: FakeRequest): ScriptedResponse {
    const key = decodeURIComponent(req.url.pathname.split('/').pop()!).toLowerCase();
    this.calls.push({ method: 'users.get', key });
    const no = this.denied(req, USER_SCOPES);
    if (no) return no;
    const u = this.users.find((x) => x.primaryEmail === key || x.aliases?.includes(key));
    if (!u) return gmailError(404, 'Resource Not Found: userKey', '', 'notFound');
    return { status: 200, body: userResource(u) };
  }

  private groupsGet(req: FakeRequest): ScriptedResponse {
    const key = decodeURIComponent(req.url.pathname.split('/').pop()!).toLowerCase();
    this.calls.push({ method: 'groups.get', key });
    const no = this.denied(req, GROUP_SCOPES);
    if (no) return no;
    const g = this.groups.find((x) => x.email === key || x.aliases.includes(key));
    if (!g) return gmailError(404, 'Resource Not Found: groupKey', '', 'notFound');
    return { status: 200, body: { kind: 'admin#directory#group', email: g.email, aliases: g.aliases } };
  }

  /** users.list: customer or domain required; query orgUnitPath='/X' (the unit and those below); pageToken = offset. */
  private usersList(req: FakeRequest): ScriptedResponse {
    const q = req.url.searchParams;
    const query = q.get('query') ?? undefined;
    const pageToken = q.get('pageToken') ?? undefined;
    this.calls.push({ method: 'users.list', ...(query ? { query } : {}), ...(pageToken ? { pageToken } : {}) });
    const no = this.denied(req, USER_SCOPES);
    if (no) return no;
    if (!q.get('customer') && !q.get('domain')) return gmailError(400, 'Bad Request', 'INVALID_ARGUMENT', 'badRequest');
    let all = [...this.users].sort((a, b) => a.primaryEmail.localeCompare(b.primaryEmail));
    if (query) {
      const unit = /^orgUnitPath='((?:[^'\\]|\\.)*)'$/.exec(query)?.[1]?.replace(/\\(.)/g, '$1');
      if (unit === undefined) return gmailError(400, 'Invalid Input', 'INVALID_ARGUMENT', 'invalid');
      all = all.filter((u) => (u.orgUnitPath ?? '/') === unit || (u.orgUnitPath ?? '/').startsWith(unit === '/' ? '/' : `${unit}/`));
    }
    const size = Math.min(Number(q.get('maxResults') ?? 100), this.pageSize);
    const start = pageToken ? Number(Buffer.from(pageToken, 'base64url').toString()) : 0;
    const page = all.slice(start, start + size);
    const next = start + size < all.length ? Buffer.from(String(start + size)).toString('base64url') : undefined;
    return { status: 200, body: { kind: 'admin#directory#users', users: page.map(userResource), ...(next ? { nextPageToken: next } : {}) } };
  }
}

function userResource(u: FakeDirectoryUser) {
  return {
    kind: 'admin#directory#user',
    primaryEmail: u.primaryEmail,
    aliases: u.aliases ?? [],
    orgUnitPath: u.orgUnitPath ?? '/',
    suspended: u.suspended ?? false,
    archived: false,
  };
}
