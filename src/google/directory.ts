/**
 * The Admin SDK Directory API, read-only, with its own credentials entry (a key authorised for
 * admin.directory.user.readonly and admin.directory.group.readonly, acting as an admin user:
 * Directory calls need an admin subject). Used by the recipient check at RCPT
 * (recipient-directory.ts) and by `smime report`/`rotate --workspace` (listWorkspaceUsers).
 *
 * - users.get answers for a user's own address and for its aliases; groups.get for a group's
 *   address and its aliases. A 404 from both means no such address.
 * - users.list is paged (500 a page), with an optional organisational-unit filter.
 *
 * Plain authorised requests through google-auth-library's client (tokens, the refresh after a
 * 401) rather than @googleapis/admin: three GET calls, each with the caller's timeout and abort
 * signal, do not need a generated client for the whole Admin SDK.
 */
import { classify } from '../failures/index.js';
import type { GoogleCredentials } from './credentials.js';

export const DEFAULT_DIRECTORY_TIMEOUT_MS = 10_000;
/** users.list's largest page. */
const PAGE_SIZE = 500;

export type AddressKind = 'user' | 'group';

export interface DirectoryUser {
  primaryEmail: string;
  suspended: boolean;
  archived: boolean;
  orgUnitPath: string | undefined;
}

export interface DirectoryClientOptions {
  /** Credentials with the directory scopes. */
  credentials: GoogleCredentials;
  /** The admin the key acts as (directory.adminUser). */
  adminUser: string;
  /** e.g. https://admin.googleapis.com/ (tests: the fake's loopback URL). */
  rootUrl: string;
  /** my_customer (the admin's own) or a customer ID. */
  customer?: string;
  timeoutMs?: number;
  now?: () => number;
}

export interface DirectoryClient {
  readonly adminUser: string;
  readonly credentials: GoogleCredentials;
  /**
   * Is `address` a user (its address or an alias) or a group (or a group's alias) of the
   * workspace? null when neither. Rejects with a classified DeliveryError (purpose directory).
   */
  lookup(address: string, signal?: AbortSignal): Promise<AddressKind | null>;
  /** One page of users.list. */
  listPage(options: ListUsersOptions & { pageToken?: string | undefined }): Promise<{ users: DirectoryUser[]; nextPageToken: string | undefined }>;
}

export interface ListUsersOptions {
  /** Only users in this organisational unit and those below it (e.g. /Clinicians). */
  orgUnit?: string | undefined;
  signal?: AbortSignal | undefined;
}

export function createDirectoryClient(options: DirectoryClientOptions): DirectoryClient {
  const { credentials, adminUser } = options;
  const root = options.rootUrl.endsWith('/') ? options.rootUrl : `${options.rootUrl}/`;
  const base = `${root}admin/directory/v1/`;
  const timeout = options.timeoutMs ?? DEFAULT_DIRECTORY_TIMEOUT_MS;
  const customer = options.customer ?? 'my_customer';
  const fail = (err: unknown) => classify(err, { purpose: 'directory', clientId: credentials.clientId, scopes: credentials.scopes, user: adminUser, now: options.now });

  async function get(url: string, signal: AbortSignal | undefined): Promise<unknown> {
    try {
      const res = await credentials.clientFor(adminUser).request({ url, method: 'GET', timeout, retry: false, ...(signal ? { signal } : {}) });
      return res.data;
    } catch (err) {
      if ((err as { response?: { status?: unknown } } | null)?.response?.status === 404) return null;
      throw fail(err);
    }
  }

  return {
    adminUser,
    credentials,
    async lookup(address, signal) {
      const key = encodeURIComponent(address);
      if ((await get(`${base}users/${key}?projection=basic&viewType=admin_view`, signal)) !== null) return 'user';
      if ((await get(`${base}groups/${key}`, signal)) !== null) return 'group';
      return null;
    },
    async listPage({ orgUnit, signal, pageToken }) {
      const params = new URLSearchParams({ customer, maxResults: String(PAGE_SIZE), orderBy: 'email', projection: 'basic', viewType: 'admin_view' });
      if (orgUnit) params.set('query', `orgUnitPath='${orgUnit.replace(/'/g, "\\'")}'`);
      if (pageToken) params.set('pageToken', pageToken);
      const data = (await get(`${base}users?${params.toString()}`, signal)) as { users?: unknown[]; nextPageToken?: unknown } | null;
      const users = (data?.users ?? []).flatMap((u) => {
        const o = u as { primaryEmail?: unknown; suspended?: unknown; archived?: unknown; orgUnitPath?: unknown };
        if (typeof o.primaryEmail !== 'string') return [];
        return [{ primaryEmail: o.primaryEmail.toLowerCase(), suspended: o.suspended === true, archived: o.archived === true, orgUnitPath: typeof o.orgUnitPath === 'string' ? o.orgUnitPath : undefined }];
      });
      const next = typeof data?.nextPageToken === 'string' && data.nextPageToken ? data.nextPageToken : undefined;
      return { users, nextPageToken: next };
    },
  };
}

export interface WorkspaceUsersOptions extends ListUsersOptions {
  /** Only users of these domains (a customer can hold several workspaces' domains); default all. */
  domains?: readonly string[] | undefined;
  /** Include suspended and archived users (default: no: they cannot send). */
  includeInactive?: boolean;
  /** Called after each page (progress for long listings). */
  onPage?: (listed: number) => void;
}

/**
 * Every user of the workspace, primary addresses, lowercase, in the Directory's order (by
 * email), following users.list's pages to the end. Rejects with a classified DeliveryError.
 */
export async function listWorkspaceUsers(client: DirectoryClient, options: WorkspaceUsersOptions = {}): Promise<string[]> {
  const out: string[] = [];
  const domains = options.domains?.length ? new Set(options.domains.map((d) => d.toLowerCase())) : undefined;
  let pageToken: string | undefined;
  const seen = new Set<string>();
  do {
    const page = await client.listPage({ orgUnit: options.orgUnit, signal: options.signal, pageToken });
    for (const u of page.users) {
      if (!options.includeInactive && (u.suspended || u.archived)) continue;
      if (domains && !domains.has(u.primaryEmail.slice(u.primaryEmail.lastIndexOf('@') + 1))) continue;
      out.push(u.primaryEmail);
    }
    options.onPage?.(out.length);
    // A page token seen before would loop for ever: a broken answer, not the end of the list.
    if (page.nextPageToken !== undefined && seen.has(page.nextPageToken)) throw new Error('the Directory API repeated a page token: listing stopped');
    if (page.nextPageToken !== undefined) seen.add(page.nextPageToken);
    pageToken = page.nextPageToken;
  } while (pageToken !== undefined);
  return out;
}
