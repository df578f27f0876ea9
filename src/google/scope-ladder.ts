/**
 * Which scope to ask Google for when the config names none (gmailApi without `scopes:`).
 *
 * The token request's scopes must all be among those authorised for the client ID in the Admin
 * console, and a broader authorised scope does not cover a narrower request. Many practices
 * followed a set-up guide that authorises exactly https://mail.google.com/; the relay needs only
 * gmail.send. So the ladder asks for the narrowest rung first (gmail.send) and, when Google
 * answers unauthorized_client, for the next (https://mail.google.com/). The rung that worked is
 * remembered (per credentials, i.e. per workspace and config generation: a reload asks again),
 * one warning is logged when the relay falls back (event `scope.fallback`), and:
 *
 * - once the fallback has served `recheckMs` (default 1 h), the next token request tries the
 *   narrowest rung again (one extra token request per workspace per hour), so an admin who
 *   narrows the delegation is noticed without a reload;
 * - when every rung is refused (the delegation was removed), nothing is remembered: the next
 *   attempt (after the held retry) starts again from the narrowest.
 *
 * The error thrown when every rung is refused is the narrowest rung's, so the fix names
 * gmail.send. Explicit scopes (one rung, `automatic: false`) are used as written.
 */
import { classify } from '../failures/index.js';
import { FULL_MAIL_SCOPE, GMAIL_SEND_SCOPE } from '../config/index.js';
import type { Logger } from '../log.js';

/** What the relay asks for to send through the Gmail API, narrowest first. */
export const SEND_SCOPE_LADDER: readonly (readonly string[])[] = [[GMAIL_SEND_SCOPE], [FULL_MAIL_SCOPE]];
export const DEFAULT_SCOPE_RECHECK_MS = 60 * 60 * 1000;

export interface ScopeState {
  /** The relay chooses (no scopes in the config). */
  automatic: boolean;
  /** The scopes asked for now: the rung that worked last, else the narrowest. */
  inUse: readonly string[];
  /** A token was issued with `inUse` (false before the first, and after every rung was refused). */
  known: boolean;
  /** `inUse` is broader than the narrowest rung (the delegation lists only the broader scope). */
  fellBack: boolean;
}

export interface ScopeLadderOptions {
  /** The client ID the warning names. */
  clientId: string;
  logger?: Logger | undefined;
  now?: () => number;
  recheckMs?: number;
}

export class ScopeLadder {
  private chosen: number | undefined;
  private chosenAt = 0;
  private warned = false;
  private readonly now: () => number;
  private readonly recheckMs: number;

  constructor(
    private readonly rungs: readonly (readonly string[])[],
    readonly automatic: boolean,
    private readonly options: ScopeLadderOptions,
  ) {
    if (!rungs.length) throw new Error('a scope ladder needs at least one rung');
    this.now = options.now ?? Date.now;
    this.recheckMs = options.recheckMs ?? DEFAULT_SCOPE_RECHECK_MS;
  }

  /** The scopes asked for first now. */
  current(): readonly string[] {
    return this.rungs[this.chosen ?? 0]!;
  }

  state(): ScopeState {
    return { automatic: this.automatic, inUse: this.current(), known: this.chosen !== undefined, fellBack: (this.chosen ?? 0) > 0 };
  }

  /**
   * Run `ask` (one token request) with the scopes to try, climbing the ladder on
   * unauthorized_client. Other failures are thrown at once: they do not depend on the scope.
   */
  async acquire<T>(ask: (scopes: readonly string[]) => Promise<T>): Promise<T> {
    if (this.rungs.length === 1) return ask(this.rungs[0]!);
    const start = this.startRung();
    const order = [start, ...this.rungs.keys()].filter((i, n, all) => all.indexOf(i) === n);
    let narrowest: unknown;
    let last: unknown;
    for (const i of order) {
      try {
        const result = await ask(this.rungs[i]!);
        this.settle(i, start);
        return result;
      } catch (err) {
        if (!isScopeRefusal(err)) throw err;
        if (i === 0) narrowest = err;
        last = err;
      }
    }
    this.chosen = undefined;
    throw narrowest ?? last;
  }

  /** Where a token request starts: the rung that worked, or the narrowest when none did or a recheck is due. */
  private startRung(): number {
    if (this.chosen === undefined) return 0;
    if (this.chosen > 0 && this.now() - this.chosenAt >= this.recheckMs) {
      this.chosenAt = this.now(); // this request rechecks; the others meanwhile keep the fallback
      return 0;
    }
    return this.chosen;
  }

  private settle(rung: number, start: number): void {
    const before = this.chosen;
    if (rung === before && start === rung) return;
    this.chosen = rung;
    this.chosenAt = this.now();
    const log = this.options.logger;
    const clientId = this.options.clientId;
    if (rung > 0 && !this.warned) {
      this.warned = true;
      log?.warn(
        { event: 'scope.fallback', clientId, scope: this.rungs[rung]!.join(' '), refused: this.rungs[0]!.join(' ') },
        `client ID ${clientId} is not authorised for ${this.rungs[0]!.join(' ')}: sending with ${this.rungs[rung]!.join(' ')}, which also lets the key read every mailbox; ${narrowingAdvice(clientId)}`,
      );
    } else if (rung === 0 && before !== undefined && before > 0) {
      log?.info({ event: 'scope.narrowed', clientId, scope: this.rungs[0]!.join(' ') }, `client ID ${clientId} is now authorised for ${this.rungs[0]!.join(' ')}: sending with it`);
    }
  }
}

/** How an admin narrows the delegation from https://mail.google.com/ to gmail.send. */
export function narrowingAdvice(clientId: string): string {
  return `to narrow it, in Admin console → Security → Access and data control → API controls → Domain-wide delegation authorise ${GMAIL_SEND_SCOPE} for client ID ${clientId}, then remove ${FULL_MAIL_SCOPE}`;
}

/** Google refused the token because the client ID is not authorised for the scopes asked for. */
function isScopeRefusal(err: unknown): boolean {
  return classify(err).code === 'delivery.token.unauthorized_client';
}
