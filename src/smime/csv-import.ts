/**
 * Bulk upload from a CSV file of lines `user,path-to-p12,password` (the layout of Google's S/MIME
 * guide). Blank lines and `#` comments are skipped, as is a header line; fields may be quoted
 * ("a,b" and "" inside quotes), which a password containing a comma needs. Quoting is csv-parse's
 * (the csv project), not ours. A bad line is reported
 * and the import goes on; the caller sets a non-zero exit code when any line failed.
 */
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { errorText } from '../errors.js';
import type { InsertResult, P12Upload } from './service.js';

export interface ImportLine {
  line: number;
  user: string;
  p12Path: string;
  password: string;
}

export interface ImportProblem {
  line: number;
  message: string;
}

export interface ImportOutcome {
  line: number;
  user: string | undefined;
  ok: boolean;
  /** Certificate id (when uploaded) or the reason it failed: one line, no password. */
  message: string;
  warnings: string[];
}

/**
 * Split one CSV record into fields (RFC 4180 quoting, with csv-parse). Null when the quoting is
 * broken (an unclosed quote, text after a closing quote). Each line is parsed on its own, so a
 * broken line is reported alone and the rest go on; a quoted field cannot span lines (no field of
 * user,path,password has a line break).
 */
export function splitCsvLine(text: string): string[] | null {
  try {
    const records: string[][] = parse(text, { bom: true, trim: true, relax_quotes: true, relax_column_count: true });
    return records.length === 1 ? records[0]! : null;
  } catch {
    return null;
  }
}

export function parseImportCsv(text: string): { lines: ImportLine[]; problems: ImportProblem[] } {
  const lines: ImportLine[] = [];
  const problems: ImportProblem[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    const trimmed = raw.trim();
    if (!trimmed || trimmed.startsWith('#')) return;
    const fields = splitCsvLine(raw);
    if (!fields) {
      problems.push({ line, message: 'broken quoting: quote a whole field, and write "" for a quote inside it (e.g. "pa,ss""word")' });
      return;
    }
    const [user = '', p12Path = ''] = fields;
    if (line === 1 && !user.includes('@') && !lines.length) return; // header
    if (fields.length !== 3) {
      problems.push({ line, message: `expected 3 fields user,path-to-p12,password but found ${fields.length} (quote a password that contains a comma)` });
      return;
    }
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(user)) {
      problems.push({ line, message: `"${user}" is not an email address` });
      return;
    }
    if (!p12Path) {
      problems.push({ line, message: 'no path to the .p12 file' });
      return;
    }
    lines.push({ line, user: user.toLowerCase(), p12Path, password: fields[2]! });
  });
  return { lines, problems };
}

export interface ImportOptions {
  /** The CSV file's path: relative .p12 paths are relative to its directory. */
  csvFile: string;
  readFile: (file: string) => Buffer;
  insert: (user: string, alias: string, p12: P12Upload) => Promise<InsertResult>;
  onOutcome?: (outcome: ImportOutcome) => void;
}

/** Upload every good line of `text`, one at a time; report every line's outcome in line order. */
export async function runImport(text: string, options: ImportOptions): Promise<ImportOutcome[]> {
  const { lines, problems } = parseImportCsv(text);
  const outcomes: ImportOutcome[] = [];
  const emit = (o: ImportOutcome) => {
    outcomes.push(o);
    options.onOutcome?.(o);
  };
  const pending = [...problems];
  const flushProblems = (before: number) => {
    while (pending.length && pending[0]!.line < before) {
      const p = pending.shift()!;
      emit({ line: p.line, user: undefined, ok: false, message: p.message, warnings: [] });
    }
  };
  const base = path.dirname(options.csvFile);
  for (const l of lines) {
    flushProblems(l.line);
    const file = path.resolve(base, l.p12Path);
    try {
      let data: Buffer;
      try {
        data = options.readFile(file);
      } catch (err) {
        throw new Error(`cannot read ${l.p12Path}: ${(err as NodeJS.ErrnoException).code ?? errorText(err)}`);
      }
      const r = await options.insert(l.user, l.user, { data, password: l.password, label: l.p12Path });
      emit({ line: l.line, user: l.user, ok: true, message: `uploaded certificate ${r.entry.id}${r.madeDefault ? ' (default)' : ''}`, warnings: r.warnings });
    } catch (err) {
      emit({ line: l.line, user: l.user, ok: false, message: errorText(err), warnings: [] });
    }
  }
  flushProblems(Number.POSITIVE_INFINITY);
  return outcomes;
}
