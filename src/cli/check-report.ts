/**
 * What `workspace-relay check` reports: sections of independent named checks, each passed or
 * failed with what was found and, for a failure, the fix. A check that passes with something
 * to know is a warning (it does not fail the run); one that could not be tried because another
 * failed is skipped (and counts as not passed: nothing was proven).
 */
import type { DeliveryError } from '../errors.js';
import { ConfigError, errorText } from '../errors.js';

export interface CheckItem {
  /** Stable id, e.g. "listen[0].bind", "spool.hard-links", "reach.token", "user alice@clinic.example". */
  name: string;
  /** What the line is about ("alice@clinic.example"), printed before the detail. */
  subject?: string;
  ok: boolean;
  /** `warn`: passed, with something to know; `skipped`: not tried (not ok). */
  note?: 'warn' | 'skipped';
  detail: string;
  /** What to do about it (failures and warnings). */
  fix?: string;
  /** The failure code (src/failures) or error code, when there is one. */
  code?: string;
}

export interface CheckSection {
  /** e.g. "start-up", "spool", "network", "workspace clinic", "users given". */
  title: string;
  /** One line after the title (the workspace's transport, client ID and scopes). */
  summary?: string;
  items: CheckItem[];
}

export interface CheckReport {
  config: string;
  ok: boolean;
  failures: number;
  warnings: number;
  sections: CheckSection[];
}

export const pass = (name: string, detail: string, extra: Partial<CheckItem> = {}): CheckItem => ({ name, ok: true, detail, ...extra });
export const warn = (name: string, detail: string, fix: string | undefined, extra: Partial<CheckItem> = {}): CheckItem => ({
  name,
  ok: true,
  note: 'warn',
  detail,
  ...(fix ? { fix } : {}),
  ...extra,
});
export const fail = (name: string, detail: string, fix: string | undefined, extra: Partial<CheckItem> = {}): CheckItem => ({
  name,
  ok: false,
  detail,
  ...(fix ? { fix } : {}),
  ...extra,
});
export const skipped = (name: string, detail: string, extra: Partial<CheckItem> = {}): CheckItem => ({ name, ok: false, note: 'skipped', detail, ...extra });

/** A classified failure as a failed check: its summary, fix and code. */
export function failedWith(name: string, f: DeliveryError, extra: Partial<CheckItem> = {}): CheckItem {
  return fail(name, f.summary, f.fix, { code: f.code, ...extra });
}

/**
 * Run one check that reports a problem by throwing: the error's message is the failed check's
 * detail (a ConfigError's names the key and the fix, as `serve` prints it).
 */
export async function attempt(name: string, okDetail: string, run: () => unknown, extra: Partial<CheckItem> = {}): Promise<CheckItem> {
  try {
    await run();
    return pass(name, okDetail, extra);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    return fail(name, err instanceof ConfigError ? err.message : errorText(err), undefined, { code: typeof code === 'string' ? code : 'error', ...extra });
  }
}

export function summarize(config: string, sections: CheckSection[]): CheckReport {
  const items = sections.flatMap((s) => s.items);
  const failures = items.filter((i) => !i.ok).length;
  return { config, ok: failures === 0, failures, warnings: items.filter((i) => i.note === 'warn').length, sections };
}

const TAG = { ok: 'ok', warn: 'warn', skipped: 'skip', fail: 'FAIL' } as const;

/** The human view of one section: its title, then one line per check (and its fix). */
export function sectionLines(s: CheckSection): string[] {
  const lines = [s.summary ? `${s.title}: ${s.summary}` : s.title];
  for (const item of s.items) {
    const tag = TAG[item.note ?? (item.ok ? 'ok' : 'fail')];
    lines.push(`  ${tag.padEnd(4)}  ${item.subject ? `${item.subject}: ` : ''}${item.detail}`);
    if (item.fix) lines.push(`        fix: ${item.fix}`);
  }
  return lines;
}
