/**
 * Service-account credentials with domain-wide delegation: one cached JWT client per
 * impersonated user. google-auth-library caches each client's access token until shortly before
 * it expires and, created with forceRefreshOnFailure, fetches a new one after a 401.
 *
 * google-auth-library 10 does not quite do the latter on its own: after a 401 its JWT client asks
 * its token cache with forceRefresh only if the old token is near expiry, so it re-sends the
 * request with the very token Google just refused. DelegatedJwt fixes that (see below).
 *
 * google-auth-library hard-codes https://oauth2.googleapis.com/token (as URL and as the JWT's
 * `aud`); `tokenUrl` redirects the request (tests, proxies) with a transporter interceptor.
 */
import { JWT } from 'google-auth-library';
import type { ServiceAccountKey } from './service-account.js';
import { DEFAULT_TOKEN_URL } from '../config/index.js';

export interface CredentialsOptions {
  key: ServiceAccountKey;
  scopes: readonly string[];
  tokenUrl?: string;
}

export class GoogleCredentials {
  readonly key: ServiceAccountKey;
  readonly scopes: readonly string[];
  private readonly tokenUrl: string;
  private readonly clients = new Map<string, JWT>();

  constructor(options: CredentialsOptions) {
    this.key = options.key;
    this.scopes = options.scopes;
    this.tokenUrl = options.tokenUrl ?? DEFAULT_TOKEN_URL;
  }

  /** The numeric client ID an admin authorises for domain-wide delegation. */
  get clientId(): string {
    return this.key.client_id;
  }

  /** The JWT client that acts as `user` (cached: its token is reused until near expiry). */
  clientFor(user: string): JWT {
    const subject = user.toLowerCase();
    let client = this.clients.get(subject);
    if (!client) {
      client = new DelegatedJwt({
        email: this.key.client_email,
        key: this.key.private_key,
        keyId: this.key.private_key_id,
        scopes: [...this.scopes],
        subject,
        forceRefreshOnFailure: true,
      });
      redirectTokenRequests(client, this.tokenUrl);
      this.clients.set(subject, client);
    }
    return client;
  }

  /** Drop the cached client of `user` (e.g. after delegation changed), so the next use starts fresh. */
  forget(user: string): void {
    this.clients.delete(user.toLowerCase());
  }

  /** Ask for a token now (check command; fails with the token endpoint's error). */
  async fetchToken(user: string): Promise<{ expiresAt: number | null | undefined }> {
    const client = this.clientFor(user);
    const res = await client.authorize();
    return { expiresAt: res.expiry_date };
  }
}

/**
 * A JWT client whose every refresh fetches a new token. google-auth-library only calls
 * refreshTokenNoCache when it wants a new token (none yet, near expiry, or after a 401/403 with
 * forceRefreshOnFailure), but then asks its GoogleToken cache without forceRefresh unless the
 * old token is near expiry, and gets the refused token back. Dropping the GoogleToken first makes
 * the refresh real; tokens are still cached between refreshes, and concurrent refreshes are
 * still shared (OAuth2Client dedupes them).
 */
class DelegatedJwt extends JWT {
  protected override async refreshTokenNoCache(): ReturnType<JWT['refreshTokenNoCache']> {
    this.gtoken = undefined;
    return super.refreshTokenNoCache();
  }
}

function redirectTokenRequests(client: JWT, tokenUrl: string): void {
  if (tokenUrl === DEFAULT_TOKEN_URL) return;
  const target = new URL(tokenUrl);
  client.transporter.interceptors.request.add({
    resolved: async (config) => {
      const url = config.url instanceof URL ? config.url : new URL(String(config.url));
      if (url.href === DEFAULT_TOKEN_URL) config.url = target;
      return config;
    },
  });
}
