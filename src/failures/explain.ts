/**
 * `workspace-relay explain-error`: how the relay classifies a given Google answer, without
 * sending anything. The answer is read from text as an admin has it (a log, a browser, a
 * colleague's e-mail) and fed to the same classify() that delivery uses:
 *
 * - an HTTP status and JSON body: `403 {"error":{"code":403,"errors":[{"reason":"…"}]}}`
 *   (an OAuth body `{"error":"invalid_grant",…}` is the token endpoint's), or the body alone;
 * - a token error as google-auth-library words it: `invalid_grant: Invalid email or User ID`;
 * - an SMTP reply line: `550 5.4.5 Daily user sending limit exceeded.`;
 * - an error code: `ECONNRESET`, `EAUTH`.
 */
import type { DeliveryError, FailureKind } from '../errors.js';
import { GoogleAnswerError, type Endpoint } from './answer.js';
import { classify } from './classify.js';
import { codeRow, type FailureCode, type NoticeStatus } from './codes.js';
import type { ClassifyContext, Purpose, TransportName } from './context.js';

export type AnswerSource = 'token endpoint' | 'Gmail API' | 'SMTP reply' | 'error code';

/** SMTP upstreams an answer can be read as: Gmail SMTP (app password or XOAUTH2) or the SMTP relay service. */
export type SmtpSource = 'smtp' | 'gmail-xoauth2' | 'smtp-relay';
const SMTP_SOURCES: readonly string[] = ['smtp', 'gmail-xoauth2', 'smtp-relay'];
const isSmtpSource = (as: ExplainOptions['as']): as is SmtpSource => as !== undefined && SMTP_SOURCES.includes(as);

export interface ExplainOptions {
  /** Read the answer as this, instead of guessing (an SMTP reply line is read as Gmail SMTP's). */
  as?: Endpoint | SmtpSource;
  /** HTTP status for a token error or a body given without one (default: the body's code, else 400). */
  status?: number;
  /** A Retry-After header that came with the answer (seconds or an HTTP date). */
  retryAfterHeader?: string;
  purpose?: Purpose;
  user?: string;
  clientId?: string;
  scopes?: readonly string[];
  /** The relay chose the scope itself (no gmailApi.scopes): gmail.send, then https://mail.google.com/. */
  automaticScopes?: boolean;
  now?: () => number;
}

export interface Explanation {
  source: AnswerSource;
  purpose: Purpose;
  code: FailureCode;
  kind: FailureKind;
  means: string;
  message: string;
  notice: NoticeStatus;
  fix: string | undefined;
  retryAfter: string | undefined;
  outcomeUnknown: boolean;
  status: number | undefined;
  detail: string | undefined;
}

/** The answer cannot be read: says what forms are understood. */
export class AnswerFormatError extends Error {}

const FORMS =
  'give an HTTP status and JSON body (403 {"error":…}), a token error ("invalid_grant: Invalid email or User ID"), an SMTP reply line ("550 5.4.5 …") or an error code (ECONNRESET)';

export function explainAnswer(text: string, options: ExplainOptions = {}): Explanation {
  const { source, error, transport } = readAnswer(text.trim(), options);
  const ctx: ClassifyContext = {
    user: options.user,
    clientId: options.clientId,
    scopes: options.scopes,
    automaticScopes: options.automaticScopes,
    purpose: options.purpose,
    now: options.now,
    transport,
  };
  const f: DeliveryError = classify(error, ctx);
  return {
    source,
    purpose: options.purpose ?? 'send',
    code: f.code,
    kind: f.kind,
    means: codeRow(f.code).means,
    message: f.message,
    notice: codeRow(f.code).notice,
    fix: f.fix,
    retryAfter: f.retryAfter?.toISOString(),
    outcomeUnknown: f.outcomeUnknown,
    status: f.status,
    detail: f.detail,
  };
}

interface ReadAnswer {
  source: AnswerSource;
  error: unknown;
  transport?: TransportName;
}

function readAnswer(text: string, options: ExplainOptions): ReadAnswer {
  if (!text) throw new AnswerFormatError(`no answer given: ${FORMS}`);
  const headers = options.retryAfterHeader ? { 'retry-after': options.retryAfterHeader } : {};
  const http = (endpoint: Endpoint | undefined, status: number | undefined, data: unknown): ReadAnswer => {
    const token = endpoint === 'token' || (endpoint === undefined && typeof (data as { error?: unknown } | null)?.error === 'string');
    const bodyCode = (data as { error?: { code?: unknown } } | null)?.error?.code;
    const s = status ?? options.status ?? (typeof bodyCode === 'number' ? bodyCode : 400);
    return {
      source: token ? 'token endpoint' : 'Gmail API',
      error: new GoogleAnswerError({ endpoint: token ? 'token' : 'gmail', status: s, data, headers }),
    };
  };
  const smtp = isSmtpSource(options.as) ? options.as : undefined;
  const forced = isSmtpSource(options.as) ? undefined : options.as;
  const withBody = /^(\d{3})(?:\s+([\s\S]*))?$/.exec(text);
  if (withBody && !smtp && (withBody[2] === undefined || withBody[2].startsWith('{') || forced)) {
    return http(forced, Number(withBody[1]), withBody[2] === undefined ? '' : parseBody(withBody[2]));
  }
  if (text.startsWith('{')) return http(forced, undefined, parseBody(text));
  if (/^\d{3}(?:[ -]|$)/.test(text)) {
    const responseCode = Number(text.slice(0, 3));
    return { source: 'SMTP reply', error: { responseCode, response: text }, transport: smtp ?? 'smtp' };
  }
  if (/^E[A-Z0-9_]+$/.test(text)) {
    return { source: 'error code', error: Object.assign(new Error(text), { code: text }), ...(smtp ? { transport: smtp } : {}) };
  }
  const token = /^([a-z][a-z_]*)(?::\s*([\s\S]*))?$/.exec(text);
  if (token) return http('token', options.status ?? 400, { error: token[1], error_description: token[2] ?? '' });
  throw new AnswerFormatError(`cannot tell what this answer is: ${FORMS}`);
}

function parseBody(text: string): unknown {
  if (!text.startsWith('{')) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new AnswerFormatError('the body is not valid JSON: paste it whole, quoted for the shell');
  }
}

const KIND_SAYS: Record<FailureKind, string> = {
  temporary: 'retried on the schedule',
  held: 'an admin must fix something: the mail is kept and retried slowly, and an alert is sent',
  permanent: 'this message cannot be delivered: it goes to dead/ and the sender gets a notice',
};
/** The settings calls carry no mail: the kind says only whether trying again can help. */
const KIND_SAYS_SETTINGS: Record<FailureKind, string> = {
  temporary: 'may pass when tried again',
  held: 'an admin must fix something first',
  permanent: 'cannot pass as it is',
};

/** The explanation as aligned lines for a terminal. */
export function formatExplanation(e: Explanation): string[] {
  const row = (label: string, value: string) => `${`${label}:`.padEnd(13)}${value}`;
  const sending = e.purpose === 'send';
  return [
    row('answer', `${e.source}${e.detail ? ` ${e.detail}` : ''}`),
    row('code', e.code),
    row('kind', `${e.kind} (${(sending ? KIND_SAYS : KIND_SAYS_SETTINGS)[e.kind]})`),
    row('means', e.means),
    row('message', e.message),
    ...(sending ? [row('notices', `failure ${e.notice.failure}, delay ${e.notice.delay}`)] : []),
    ...(e.fix ? [row('fix', e.fix)] : []),
    ...(e.retryAfter ? [row('retry after', e.retryAfter)] : []),
    row('outcome', e.outcomeUnknown ? 'unknown: the request may have reached Google before it failed (a retry can send it twice)' : 'not sent'),
  ];
}
