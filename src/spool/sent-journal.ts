/**
 * The sent log's journal lines (sent-log.ts): { v, k: key, r: recipients, t: time, f: first time },
 * one JSON object a line. A line that does not parse as one (torn by a crash, or foreign) is skipped.
 */

/** One journal line. */
export interface JournalLine {
  v: 1;
  k: string;
  r: string[];
  t: string;
  f?: string;
}

/** The line as a JournalLine, or null when it is not one. */
export function parseLine(raw: string): JournalLine | null {
  try {
    const l = JSON.parse(raw) as Partial<JournalLine>;
    if (l.v === 1 && typeof l.k === 'string' && isStrings(l.r) && typeof l.t === 'string' && (l.f === undefined || typeof l.f === 'string')) {
      return l as JournalLine;
    }
  } catch {
    // torn or foreign: skipped
  }
  return null;
}

export function isStrings(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}
