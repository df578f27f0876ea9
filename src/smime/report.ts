/**
 * The expiry report: every send-as alias of the users named, with its default certificate's
 * expiry; a warning for aliases whose default expires within the window, has expired, or is
 * missing. One user's failure (no such user, no delegation) is a row, not the end of the report.
 * Users are checked `concurrency` at once (ordered-pool.ts); rows come in the users' order.
 */
import { errorText } from '../errors.js';
import type { SmimeApi, SmimeEntry } from './gmail-smime.js';
import { runOrdered, type OrderedRun } from './ordered-pool.js';
import { isoDay } from './p12.js';
import { daysLeft, pickDefault } from './rotation.js';

export type ReportStatus = 'ok' | 'expiring' | 'expired' | 'none' | 'error';

export interface ReportRow {
  user: string;
  /** Undefined when the user's aliases could not be listed. */
  alias: string | undefined;
  primary: boolean;
  status: ReportStatus;
  certificateId?: string;
  issuerCn?: string;
  expiration?: Date;
  daysLeft?: number;
  /** Why the row warns, and what to do. */
  message?: string;
}

export interface ReportOptions {
  now: Date;
  warnDays: number;
  /** Users checked at once (default 1). */
  concurrency?: number;
  /** Aborted (Ctrl-C): the users not started are left out; `run.interrupted` says so. */
  signal?: AbortSignal | undefined;
}

export interface Report extends OrderedRun {
  rows: ReportRow[];
}

export async function buildReport(api: SmimeApi, users: readonly string[], options: ReportOptions): Promise<Report> {
  const rows: ReportRow[] = [];
  const run = await runOrdered(
    users,
    { concurrency: options.concurrency ?? 1, signal: options.signal },
    (user) => userRows(api, user, options),
    (mine) => void rows.push(...mine),
  );
  return { ...run, rows };
}

/** One user's rows: each send-as alias, or one error row when the aliases cannot be listed. */
async function userRows(api: SmimeApi, user: string, options: ReportOptions): Promise<ReportRow[]> {
  let aliases;
  try {
    aliases = await api.listAliases(user);
  } catch (err) {
    return [{ user, alias: undefined, primary: false, status: 'error', message: errorText(err) }];
  }
  const rows: ReportRow[] = [];
  for (const a of aliases) {
    try {
      rows.push(assess(user, a.email, a.isPrimary, await api.list(user, a.email), options));
    } catch (err) {
      rows.push({ user, alias: a.email, primary: a.isPrimary, status: 'error', message: errorText(err) });
    }
  }
  return rows;
}

/** One alias's row, from its certificates. */
export function assess(
  user: string,
  alias: string,
  primary: boolean,
  entries: readonly SmimeEntry[],
  options: { now: Date; warnDays: number },
): ReportRow {
  const { now, warnDays } = options;
  const base = { user, alias, primary };
  const rotate = `smime rotate --user ${user}${primary ? '' : ` --alias ${alias}`}`;
  const def = entries.find((e) => e.isDefault);
  const better = pickDefault(entries, now);
  const betterNote = better && better.id !== def?.id ? `; a later certificate (${better.id}) is uploaded: run ${rotate}` : '';
  if (!def) {
    return { ...base, status: 'none', message: `no default S/MIME certificate${betterNote || ': upload one (smime insert or rotate --p12)'}` };
  }
  const found = { ...base, certificateId: def.id, issuerCn: def.issuerCn };
  if (!def.expiration) return { ...found, status: 'ok' };
  const left = daysLeft(def.expiration, now);
  const dated = { ...found, expiration: def.expiration, daysLeft: left };
  if (def.expiration.getTime() <= now.getTime()) {
    return { ...dated, status: 'expired', message: `default certificate expired on ${isoDay(def.expiration)}${betterNote || `: renew it and run ${rotate} --p12 FILE`}` };
  }
  if (left <= warnDays) {
    return { ...dated, status: 'expiring', message: `default certificate expires on ${isoDay(def.expiration)} (${left} days)${betterNote || ': renew it'}` };
  }
  return { ...dated, status: 'ok' };
}

/** True when the row needs an admin's attention. */
export function isWarning(row: ReportRow): boolean {
  return row.status !== 'ok';
}
