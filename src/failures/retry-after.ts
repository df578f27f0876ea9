/**
 * When may we try again? Google writes it into the error text ("Retry after
 * 2026-11-22T10:00:00.000Z", sometimes as an RFC 1123 date) and HTTP answers may carry a
 * Retry-After header (seconds or an HTTP date). Anything malformed is ignored.
 */

const ISO = /retry after\s+(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)/i;
const RFC1123 =
  /retry after\s+((?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),\s+\d{1,2}\s+[A-Z][a-z]{2}\s+\d{4}\s+\d{2}:\d{2}:\d{2}\s+(?:GMT|UTC|[+-]\d{4}))/i;

/** The "Retry after <time>" that Google puts in error messages, from any of `texts`. */
export function retryAfterFromText(...texts: Array<string | undefined>): Date | undefined {
  for (const text of texts) {
    if (!text) continue;
    const iso = ISO.exec(text)?.[1];
    // Google writes UTC; an ISO time without a zone is read as UTC too, not as local time.
    const stamp = iso ? (/(?:Z|[+-]\d{2}:?\d{2})$/i.test(iso) ? iso : `${iso}Z`) : RFC1123.exec(text)?.[1];
    if (!stamp) continue;
    const date = validDate(Date.parse(stamp));
    if (date) return date;
  }
  return undefined;
}

/**
 * Google's stated time in an HTTP answer: its Retry-After header and the "Retry after" of its
 * message text. Both may be there: the later one is the one that holds.
 */
export function statedRetryAfter(headers: unknown, message: string, now: number): Date | undefined {
  const a = retryAfterFromHeader(headerValue(headers, 'retry-after'), now);
  const b = retryAfterFromText(message);
  if (!a) return b;
  if (!b) return a;
  return a.getTime() >= b.getTime() ? a : b;
}

/** An HTTP Retry-After value: delta-seconds or an HTTP date. */
export function retryAfterFromHeader(value: string | null | undefined, now: number): Date | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return validDate(now + Number(v) * 1000);
  if (!/[a-z]/i.test(v)) return undefined;
  return validDate(Date.parse(v));
}

function validDate(ms: number): Date | undefined {
  return Number.isFinite(ms) ? new Date(ms) : undefined;
}

/** The value of a header from fetch `Headers` or a plain object, case-insensitively. */
export function headerValue(headers: unknown, name: string): string | undefined {
  if (!headers || typeof headers !== 'object') return undefined;
  const h = headers as { get?: unknown } & Record<string, unknown>;
  if (typeof h.get === 'function') {
    const v = (h.get as (n: string) => unknown).call(headers, name);
    return typeof v === 'string' ? v : undefined;
  }
  const key = Object.keys(h).find((k) => k.toLowerCase() === name.toLowerCase());
  const v = key === undefined ? undefined : h[key];
  if (Array.isArray(v)) return typeof v[0] === 'string' ? v[0] : undefined;
  return typeof v === 'string' ? v : undefined;
}
