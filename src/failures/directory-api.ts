/**
 * The Admin SDK Directory API's answers (users.get, users.list, groups.get) and the token
 * requests of the directory key: delegation, the admin user the key acts as, its admin
 * privileges, the API switched off in the Cloud project. "Not found" is not here: it is an
 * answer (no such user or group), read by the directory client itself.
 */
import type { DeliveryError } from '../errors.js';
import { gmailErrorBody, tokenBody, type HttpAnswer } from './answer.js';
import type { FailureCode } from './codes.js';
import type { ClassifyContext } from './context.js';
import { failure } from './failure.js';

export function classifyDirectory(http: HttpAnswer, ctx: ClassifyContext): DeliveryError {
  if (http.endpoint === 'token') {
    const { error, description } = tokenBody(http.data);
    const detail = [http.status, error].filter(Boolean).join(' ');
    const said = (code: FailureCode) => failure(code, `Google refused a token for the directory (${error || http.status})`, ctx, { status: http.status, detail });
    if (http.status >= 500 || http.status === 429 || !error) return said('directory.unavailable');
    if (error === 'unauthorized_client' || error === 'access_denied') return said('directory.delegation');
    if (error === 'invalid_grant' && /invalid email or user id|not a valid email|suspend/i.test(description)) return said('directory.admin_user');
    if (['invalid_grant', 'invalid_client', 'disabled_client'].includes(error)) return said('directory.key');
    return said('directory.unavailable');
  }
  const body = gmailErrorBody(http.data);
  const detail = [http.status, body.status, ...new Set(body.reasons)].filter(Boolean).join(' ');
  const said = (code: FailureCode, statement: string) => failure(code, `${statement} (Directory API: ${detail})`, ctx, { status: http.status, detail });
  const has = (...r: string[]) => body.reasons.some((x) => r.includes(x));
  if (http.status === 403) {
    if (has('insufficientPermissions', 'ACCESS_TOKEN_SCOPE_INSUFFICIENT') || /insufficient authentication scopes/i.test(body.message)) {
      return said('directory.scope', 'the directory token lacks a scope');
    }
    if (has('accessNotConfigured', 'SERVICE_DISABLED') || /has not been used in project|api .*is disabled/i.test(body.message)) {
      return said('directory.api_disabled', 'the Admin SDK API is not enabled');
    }
    if (/not authorized to access this resource/i.test(body.message) || has('forbidden')) {
      return said('directory.not_authorized', `${ctx.user ?? 'the admin user'} may not read the directory`);
    }
  }
  return said('directory.unavailable', `the Directory API answered ${http.status}`);
}
