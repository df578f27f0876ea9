/** The code table: what each code promises (kind, notice statuses, fix), and its documentation. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FAILURE_CODES, codeRow, delayStatus, failureStatus, renderCodeTable, type FailureCode } from '../src/failures/index.js';

const CODES = Object.keys(FAILURE_CODES) as FailureCode[];

describe('the failure code table', () => {
  it("gives every held answer from Google a fix, and every code well-formed notice statuses", () => {
    for (const code of CODES) {
      const row = codeRow(code);
      // The relay's own held codes (no workspace, spool unreadable…) name their fix where raised.
      if (row.kind === 'held' && !row.from.includes('relay')) expect(row.fix, code).toBeDefined();
      expect(row.notice.failure, code).toMatch(/^5\.\d\.\d{1,3}$/);
      expect(row.notice.delay, code).toMatch(/^4\.\d\.\d{1,3}$/);
      expect(row.means.length, code).toBeGreaterThan(10);
    }
  });

  it.each([
    ['delivery.expired', '5.4.7', '4.4.7'],
    ['delivery.no_such_user', '5.1.8', '4.1.8'],
    ['delivery.bad_envelope', '5.1.3', '4.1.3'],
    ['delivery.message_too_large', '5.3.4', '4.3.4'],
    ['delivery.message_rejected', '5.6.0', '4.6.0'],
    ['delivery.no_workspace', '5.3.5', '4.3.5'],
    ['delivery.api_disabled', '5.3.5', '4.3.5'],
    ['delivery.clock_skew', '5.3.5', '4.3.5'],
    ['delivery.mail_disabled', '5.7.0', '4.7.0'],
    ['delivery.rate_limited', '5.7.0', '4.7.0'],
    ['delivery.daily_limit', '5.7.0', '4.7.0'],
    ['delivery.smtp.auth', '5.7.0', '4.7.0'],
    ['delivery.token.unauthorized_client', '5.7.0', '4.7.0'],
    ['delivery.token.unavailable', '5.7.0', '4.7.0'],
    ['delivery.gmail_5xx', '5.0.0', '4.4.0'],
    ['delivery.network', '5.0.0', '4.4.0'],
    ['delivery.smtp.rejected', '5.0.0', '4.4.0'],
  ] as const)('%s: failure notice %s, delay notice %s', (code, failure, delay) => {
    expect(failureStatus(code)).toBe(failure);
    expect(delayStatus(code)).toBe(delay);
  });

  it('a delay notice before any attempt failed says "delivery time not yet expired" (4.4.7)', () => {
    expect(delayStatus(undefined)).toBe('4.4.7');
  });

  it('fills the fix template with the user, client ID and scopes, and placeholders without them', () => {
    const fix = codeRow('delivery.token.unauthorized_client').fix!;
    expect(fix({ clientId: '42', scopes: ['a', 'b'] })).toMatch(/^authorise client ID 42 for scope a,b in Admin console/);
    expect(fix({})).toMatch(/^authorise client ID <client ID> for scope <scopes> in/);
    expect(codeRow('delivery.smtp.auth').fix!({ user: 'u@x', passwordFile: '/etc/wr/pw' })).toMatch(/app password for u@x .* put it in \/etc\/wr\/pw$/);
  });

  it('docs/google-errors.md holds the table as it is (regenerate: workspace-relay explain-error --codes)', () => {
    const doc = readFileSync(path.resolve(import.meta.dirname, '../docs/google-errors.md'), 'utf8');
    const table = /<!-- codes:begin[^\n]*-->\n([\s\S]*?)<!-- codes:end -->/.exec(doc)?.[1];
    expect(table).toBe(renderCodeTable());
    for (const code of CODES) expect(table).toContain(`| \`${code}\` |`);
  });
});
