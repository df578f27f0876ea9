/**
 * Outbound failures: the code table (every code with its kind, notice statuses and fix) and the
 * one classifier of Google's answers (token endpoint, Gmail API, Gmail SMTP, the settings calls)
 * and network errors. Imported by delivery, google, smime, notify, queue and cli; imports none
 * of them (only the leaf modules errors and config).
 */
export { classify } from './classify.js';
export { FAILURE_CODES, codeRow, isFailureCode, type CodeRow, type FailureCode, type NoticeStatus, type Source } from './codes.js';
export { DAILY_LIMIT_WAIT_MS, DELEGATION_PAGE, SMTP_TRANSPORTS, type ClassifyContext, type FixFacts, type Purpose, type TransportName } from './context.js';
export { nextUtcMidnight } from './smtp-relay.js';
export { failure, type FailureFacts } from './failure.js';
export { GoogleAnswerError, googleText, type Endpoint, type HttpAnswer } from './answer.js';
export { AnswerFormatError, explainAnswer, formatExplanation, type ExplainOptions, type Explanation, type SmtpSource } from './explain.js';
export { renderCodeTable } from './doc.js';
export { delayStatus, failureStatus } from './notice-status.js';
export { headerValue, retryAfterFromHeader, retryAfterFromText } from './retry-after.js';
