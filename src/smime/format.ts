/** Text and JSON shapes of S/MIME results for the CLI. Public certificate data only. */
import type { SmimeEntry } from './gmail-smime.js';
import { certificatesFromPem, isoDay } from './p12.js';
import type { ReportRow } from './report.js';
import { daysLeft } from './rotation.js';

export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

export function entryJson(e: SmimeEntry, now: Date): Record<string, unknown> {
  const certificate = e.pem ? certificatesFromPem(e.pem)[0] : undefined;
  return {
    id: e.id,
    issuerCn: e.issuerCn ?? null,
    expiration: e.expiration?.toISOString() ?? null,
    daysLeft: e.expiration ? daysLeft(e.expiration, now) : null,
    isDefault: e.isDefault,
    ...(certificate ? { emails: certificate.emails, subject: certificate.subject } : {}),
  };
}

export function entriesTable(entries: readonly SmimeEntry[], now: Date): string {
  if (!entries.length) return 'no S/MIME certificates\n';
  return table(
    ['ID', 'ISSUER', 'EXPIRES', 'DAYS LEFT', 'DEFAULT'],
    entries.map((e) => [
      e.id,
      e.issuerCn ?? '-',
      e.expiration ? isoDay(e.expiration) : '-',
      e.expiration ? String(daysLeft(e.expiration, now)) : '-',
      e.isDefault ? 'yes' : '',
    ]),
  );
}

export function entryText(e: SmimeEntry, now: Date): string {
  const j = entryJson(e, now);
  const lines = [
    `id:         ${e.id}`,
    `issuer:     ${e.issuerCn ?? '-'}`,
    `expires:    ${e.expiration ? `${isoDay(e.expiration)} (${String(j.daysLeft)} days left)` : '-'}`,
    `default:    ${e.isDefault ? 'yes' : 'no'}`,
  ];
  if (Array.isArray(j.emails)) lines.push(`addresses:  ${(j.emails as string[]).join(', ') || '-'}`);
  if (typeof j.subject === 'string') lines.push(`subject:    ${j.subject}`);
  return lines.join('\n') + '\n';
}

export function reportJson(rows: readonly ReportRow[]): Record<string, unknown>[] {
  return rows.map((r) => ({
    user: r.user,
    alias: r.alias ?? null,
    primary: r.primary,
    status: r.status,
    certificateId: r.certificateId ?? null,
    issuerCn: r.issuerCn ?? null,
    expiration: r.expiration?.toISOString() ?? null,
    daysLeft: r.daysLeft ?? null,
    message: r.message ?? null,
  }));
}

export function reportTable(rows: readonly ReportRow[]): string {
  if (!rows.length) return 'no send-as addresses\n';
  return table(
    ['USER', 'ALIAS', 'STATUS', 'EXPIRES', 'DAYS LEFT', 'ISSUER', 'NOTE'],
    rows.map((r) => [
      r.user,
      r.alias ?? '-',
      r.status === 'ok' ? 'ok' : `WARN ${r.status}`,
      r.expiration ? isoDay(r.expiration) : '-',
      r.daysLeft !== undefined ? String(r.daysLeft) : '-',
      r.issuerCn ?? '-',
      r.message ?? '',
    ]),
  );
}
