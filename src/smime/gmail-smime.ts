/**
 * The Gmail API calls S/MIME needs: send-as aliases and their smimeInfo resources, as the
 * impersonated user. Every failure becomes a one-line SmimeError (see google-errors.ts); a
 * "slow down" is waited out and the call tried again (slow-down.ts).
 */
import { gmail, type gmail_v1 } from '@googleapis/gmail';
import type { GoogleCredentials } from '../google/index.js';
import { googleError } from './google-errors.js';
import { SlowDownGate } from './slow-down.js';

export interface SendAsAlias {
  email: string;
  isPrimary: boolean;
  isDefault: boolean;
  verificationStatus: string | undefined;
}

export interface SmimeEntry {
  id: string;
  issuerCn: string | undefined;
  /** When the certificate expires; undefined when Google did not say. */
  expiration: Date | undefined;
  isDefault: boolean;
  /** The certificate chain as PEM (public parts only). */
  pem: string | undefined;
}

export interface SmimeApi {
  listAliases(user: string): Promise<SendAsAlias[]>;
  list(user: string, alias: string): Promise<SmimeEntry[]>;
  get(user: string, alias: string, id: string): Promise<SmimeEntry>;
  /** Upload a PKCS#12 file (sent base64url, with its password, over TLS to Google only). */
  insert(user: string, alias: string, pkcs12: Buffer, password: string): Promise<SmimeEntry>;
  delete(user: string, alias: string, id: string): Promise<void>;
  setDefault(user: string, alias: string, id: string): Promise<void>;
}

export interface GmailSmimeOptions {
  /** The credentials that act for `user`. */
  credentialsFor: (user: string) => GoogleCredentials;
  apiRootUrl: string;
  /** Shared by every call: a "slow down" to one pauses all (default: one per API object). */
  slowDown?: SlowDownGate;
}

export function createGmailSmimeApi(options: GmailSmimeOptions): SmimeApi {
  const rootUrl = options.apiRootUrl;
  // rootUrl again per call (the client-level one does not reach every request); gaxios retries
  // GET and DELETE on 5xx/network errors, never the (non-idempotent) POSTs. A 429 is not
  // gaxios's to retry: the gate waits Google's stated time and pauses every call, POSTs included.
  const callOptions = { rootUrl, retry: true, retryConfig: { statusCodesToRetry: [[100, 199], [408, 408], [500, 599]] } };
  const gate = options.slowDown ?? new SlowDownGate();

  function call<T>(user: string, what: string, fn: (client: gmail_v1.Gmail) => Promise<T>): Promise<T> {
    const creds = options.credentialsFor(user);
    const client = gmail({ version: 'v1', auth: creds.clientFor(user), rootUrl });
    return gate.run(async () => {
      try {
        return await fn(client);
      } catch (err) {
        throw googleError(err, what, { clientId: creds.clientId, scopes: creds.scopes });
      }
    });
  }
  const smime = (c: gmail_v1.Gmail) => c.users.settings.sendAs.smimeInfo;
  const where = (user: string, alias: string) => (alias.toLowerCase() === user.toLowerCase() ? user : `${user} (alias ${alias})`);

  return {
    listAliases: (user) =>
      call(user, `listing the send-as addresses of ${user}`, async (c) => {
        const res = await c.users.settings.sendAs.list({ userId: 'me' }, callOptions);
        return (res.data.sendAs ?? []).filter((a) => a.sendAsEmail).map(toAlias);
      }),
    list: (user, alias) =>
      call(user, `listing the S/MIME certificates of ${where(user, alias)}`, async (c) => {
        const res = await smime(c).list({ userId: 'me', sendAsEmail: alias }, callOptions);
        return (res.data.smimeInfo ?? []).map(toEntry);
      }),
    get: (user, alias, id) =>
      call(user, `getting S/MIME certificate ${id} of ${where(user, alias)}`, async (c) => {
        const res = await smime(c).get({ userId: 'me', sendAsEmail: alias, id }, callOptions);
        return toEntry(res.data);
      }),
    insert: (user, alias, pkcs12, password) =>
      call(user, `uploading the S/MIME certificate of ${where(user, alias)}`, async (c) => {
        const res = await smime(c).insert(
          {
            userId: 'me',
            sendAsEmail: alias,
            requestBody: { pkcs12: pkcs12.toString('base64url'), ...(password ? { encryptedKeyPassword: password } : {}) },
          },
          callOptions,
        );
        return toEntry(res.data);
      }),
    delete: (user, alias, id) =>
      call(user, `deleting S/MIME certificate ${id} of ${where(user, alias)}`, async (c) => {
        await smime(c).delete({ userId: 'me', sendAsEmail: alias, id }, callOptions);
      }),
    setDefault: (user, alias, id) =>
      call(user, `making S/MIME certificate ${id} the default of ${where(user, alias)}`, async (c) => {
        await smime(c).setDefault({ userId: 'me', sendAsEmail: alias, id }, callOptions);
      }),
  };
}

function toAlias(a: gmail_v1.Schema$SendAs): SendAsAlias {
  return {
    email: a.sendAsEmail!.toLowerCase(),
    isPrimary: a.isPrimary === true,
    isDefault: a.isDefault === true,
    verificationStatus: a.verificationStatus ?? undefined,
  };
}

function toEntry(s: gmail_v1.Schema$SmimeInfo): SmimeEntry {
  const ms = s.expiration ? Number(s.expiration) : NaN;
  return {
    id: s.id ?? '',
    issuerCn: s.issuerCn ?? undefined,
    expiration: Number.isFinite(ms) ? new Date(ms) : undefined,
    isDefault: s.isDefault === true,
    pem: s.pem ?? undefined,
  };
}
