/** Delivery-status notices to senders and alerts to admins (issue 3 part 3). */
export { Notifier, postmasterOf, DEFAULT_ALERT_INTERVAL, type NotifierDeps } from './notifier.js';
export { buildDsn, DSN_SUBJECT, type DsnInput, type DsnKind, type DsnOriginal } from './dsn.js';
export { buildAlert, alertSubject, type AlertInput, type AlertKind } from './alert.js';
export { safeHeadersOf, readHeaderSection, renderSafeHeaders, SAFE_HEADER_FIELDS, type SafeHeaders } from './safe-headers.js';
export { AlertLimiter } from './rate-limit.js';
