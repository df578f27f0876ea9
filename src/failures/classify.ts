/**
 * The one place that turns a failure on the way out into a DeliveryError: temporary (retry on
 * the schedule), held (an admin must fix something; keep the mail) or permanent (to dead/).
 * Unknown means temporary. Google's own error text is read but not copied into our messages
 * (it can echo header contents such as display names): messages carry the status, the reason
 * code and our own wording. The original error is not kept as `cause` either: a GaxiosError
 * holds the request (the message bytes and the bearer token).
 *
 * Sources, each with its matcher: the token endpoint (token-endpoint.ts), the Gmail API
 * (gmail-api.ts), the S/MIME settings calls (gmail-settings.ts), the Directory API
 * (directory-api.ts), nodemailer errors from the SMTP upstream (gmail-smtp.ts, with the SMTP
 * relay service's own answers in smtp-relay.ts), network errors (network.ts) and a proxy's 407. The codes, their kinds, notice
 * statuses and fixes are the code table (codes.ts).
 */
import { DeliveryError } from '../errors.js';
import { httpAnswer, requestEndpoint } from './answer.js';
import { SMTP_TRANSPORTS, type ClassifyContext } from './context.js';
import { classifyDirectory } from './directory-api.js';
import { failure } from './failure.js';
import { classifyGmail } from './gmail-api.js';
import { classifySmime } from './gmail-settings.js';
import { classifySmtp, isSmtpError } from './gmail-smtp.js';
import { classifyNetwork } from './network.js';
import { classifyToken } from './token-endpoint.js';

export function classify(err: unknown, ctx: ClassifyContext = {}): DeliveryError {
  if (err instanceof DeliveryError) return err;
  const http = httpAnswer(err);
  // A proxy between us and Google (HTTPS_PROXY) that wants credentials answers for it.
  if (http?.status === 407) return failure('delivery.network.proxy', 'the proxy asks for credentials (407)', ctx, { status: 407, detail: '407' });
  if (ctx.purpose === 'smime') return classifySmime(http, ctx);
  if (ctx.purpose === 'directory' && http) return classifyDirectory(http, ctx);
  if (http?.endpoint === 'token') return classifyToken(http, ctx);
  if (http) return classifyGmail(http, ctx);
  const viaSmtp = ctx.transport !== undefined && SMTP_TRANSPORTS.has(ctx.transport);
  if (isSmtpError(err) || (viaSmtp && err && typeof err === 'object')) return classifySmtp(err, ctx);
  const net = classifyNetwork(err, ctx, requestEndpoint(err) !== 'token');
  if (net) return net;
  return failure('delivery.unknown', `unrecognised failure (${describeUnknown(err)})`, ctx);
}

function describeUnknown(err: unknown): string {
  if (!(err instanceof Error)) return typeof err;
  // Name and code only: an unrecognised error's text may quote what the upstream echoed (headers).
  const code = (err as { code?: unknown }).code;
  return [err.name, typeof code === 'string' || typeof code === 'number' ? code : ''].filter(Boolean).join(' ');
}
