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
import { JWT, type JWTOptions } from 'google-auth-library';
import type { ServiceAccountKey } from './service-account.js';
import { DEFAULT_TOKEN_URL } from '../config/index.js';
import type { Logger } from '../log.js';
import { SEND_SCOPE_LADDER, ScopeLadder, type ScopeState } from './scope-ladder.js';

export interface CredentialsOptions {
  key: ServiceAccountKey;
  /**
   * The scopes to ask for, as written. Undefined: the relay chooses the sending scope itself,
   * gmail.send else https://mail.google.com/ (see scope-ladder.ts).
   */
  scopes: readonly string[] | undefined;
  tokenUrl?: string;
  /** Where the scope fallback is logged (scope.fallback). */
  logger?: Logger;
  now?: () => number;
  /** How long a fallback scope is used before the narrowest is asked for again (default 1 h). */
  scopeRecheckMs?: number;
}

export class GoogleCredentials {
  readonly key: ServiceAccountKey;
  private readonly tokenUrl: string;
  private readonly clients = new Map<string, JWT>();
  private readonly ladder: ScopeLadder;

  constructor(options: CredentialsOptions) {
    this.key = options.key;
    this.tokenUrl = options.tokenUrl ?? DEFAULT_TOKEN_URL;
    const automatic = options.scopes === undefined;
    this.ladder = new ScopeLadder(automatic ? SEND_SCOPE_LADDER : [options.scopes!], automatic, {
      clientId: options.key.client_id,
      logger: options.logger,
      now: options.now,
      recheckMs: options.scopeRecheckMs,
    });
  }

  /** The scopes asked for now (with automatic scopes: the one that worked, else gmail.send). */
  get scopes(): readonly string[] {
    return this.ladder.current();
  }

  /** The relay chooses the sending scope itself (no scopes in the config). */
  get automaticScopes(): boolean {
    return this.ladder.automatic;
  }

  /** Which scope is in use and whether the relay fell back to the broader one (check prints it). */
  scopeState(): ScopeState {
    return this.ladder.state();
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
      client = new DelegatedJwt(
        {
          email: this.key.client_email,
          key: this.key.private_key,
          keyId: this.key.private_key_id,
          scopes: [...this.scopes],
          subject,
          forceRefreshOnFailure: true,
        },
        this.ladder,
      );
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
 *
 * The scopes of each request come from the workspace's scope ladder (shared by every user's
 * client): the GoogleToken is made with the client's `scopes`, so they are set before it.
 */
class DelegatedJwt extends JWT {
  constructor(
    options: JWTOptions,
    private readonly ladder: ScopeLadder,
  ) {
    super(options);
  }

  protected override async refreshTokenNoCache(): ReturnType<JWT['refreshTokenNoCache']> {
    return this.ladder.acquire((scopes) => {
      this.scopes = [...scopes];
      this.gtoken = undefined;
      return super.refreshTokenNoCache();
    });
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
