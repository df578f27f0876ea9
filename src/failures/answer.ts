/**
 * Google's HTTP answers, read once: from a GaxiosError (googleapis, google-auth-library's token
 * requests: `response.{status,data,headers}`, `config.url`) or from a GoogleAnswerError (the
 * relay's own HTTP requests, and `explain-error`). The matchers see only the HttpAnswer.
 */

/** Which Google endpoint answered: the OAuth token endpoint, or a Gmail API method. */
export type Endpoint = 'token' | 'gmail';

export interface HttpAnswer {
  endpoint: Endpoint;
  status: number;
  /** The parsed JSON body (or the text when it was not JSON). */
  data: unknown;
  /** fetch `Headers` or a plain object. */
  headers?: unknown;
}

/** A non-2xx answer from Google to a request the relay made itself (no gaxios in between). */
export class GoogleAnswerError extends Error {
  readonly answer: HttpAnswer;
  constructor(answer: HttpAnswer) {
    super(`${answer.endpoint === 'token' ? 'the token endpoint' : 'Gmail'} answered ${answer.status}`);
    this.name = 'GoogleAnswerError';
    this.answer = answer;
  }
}

/** The HTTP answer `err` carries, or undefined if it is not one (network errors, nodemailer's). */
export function httpAnswer(err: unknown): HttpAnswer | undefined {
  if (err instanceof GoogleAnswerError) return err.answer;
  if (!err || typeof err !== 'object') return undefined;
  const res = (err as { response?: unknown }).response;
  if (!res || typeof res !== 'object') return undefined;
  const { status, data, headers } = res as { status?: unknown; data?: unknown; headers?: unknown };
  if (typeof status !== 'number') return undefined;
  const oauthBody = !!data && typeof data === 'object' && typeof (data as { error?: unknown }).error === 'string';
  const endpoint = requestEndpoint(err) ?? (oauthBody ? 'token' : 'gmail');
  return { endpoint, status, data, headers };
}

/** Which Google endpoint a gaxios error came from, by the request URL. */
export function requestEndpoint(err: unknown): Endpoint | undefined {
  const url = (err as { config?: { url?: unknown } } | undefined)?.config?.url;
  let parsed: URL;
  if (url instanceof URL) parsed = url;
  else if (typeof url === 'string' && URL.canParse(url)) parsed = new URL(url);
  else return undefined;
  if (parsed.pathname.includes('/gmail/v1/')) return 'gmail';
  if (parsed.hostname === 'oauth2.googleapis.com' || /\/token$/.test(parsed.pathname)) return 'token';
  return undefined;
}

/** The token endpoint's OAuth error body: `{error, error_description}` ('' when missing). */
export function tokenBody(data: unknown): { error: string; description: string } {
  const d = (data && typeof data === 'object' ? data : {}) as { error?: unknown; error_description?: unknown };
  return { error: typeof d.error === 'string' ? d.error : '', description: typeof d.error_description === 'string' ? d.error_description : '' };
}

export interface GmailErrorBody {
  message: string;
  /** The canonical status, e.g. PERMISSION_DENIED. */
  status: string;
  /** errors[].reason and details[].reason, e.g. insufficientPermissions. */
  reasons: string[];
}

/** The Gmail API's error body: `{error: {code, message, status, errors[].reason, details[].reason}}`. */
export function gmailErrorBody(data: unknown): GmailErrorBody {
  const e = (data as { error?: unknown } | undefined)?.error;
  if (!e || typeof e !== 'object') return { message: typeof data === 'string' ? data : '', status: '', reasons: [] };
  const o = e as { message?: unknown; status?: unknown; errors?: unknown; details?: unknown };
  const reasons: string[] = [];
  for (const list of [o.errors, o.details]) {
    if (!Array.isArray(list)) continue;
    for (const item of list) {
      const r = (item as { reason?: unknown } | null)?.reason;
      if (typeof r === 'string') reasons.push(r);
    }
  }
  return { message: typeof o.message === 'string' ? o.message : '', status: typeof o.status === 'string' ? o.status : '', reasons };
}

/**
 * Google's own words for a failed call, on one line: the Gmail error's message, or the token
 * error as "<error>: <description>", or the error's own text. For an admin at a terminal (the
 * S/MIME commands) only: never log them, they can echo header contents.
 */
export function googleText(err: unknown): string {
  const http = httpAnswer(err);
  const error = (http?.data as { error?: unknown } | undefined)?.error;
  let text = err instanceof Error ? err.message : String(err);
  if (typeof error === 'string') text = `${error}: ${tokenBody(http?.data).description}`;
  else if (error && typeof error === 'object') text = gmailErrorBody(http?.data).message || text;
  return text.replace(/\s+/g, ' ').trim();
}
