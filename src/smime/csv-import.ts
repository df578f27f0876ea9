/**
 * Bulk upload from a CSV file of lines `user,path-to-p12,password` (the layout of Google's S/MIME
 * guide). Blank lines and `#` comments are skipped, as is a header line; fields may be quoted
 * ("a,b" and "" inside quotes), which a password containing a comma needs. Quoting is csv-parse's
 * (the csv project), not ours. A bad line is reported
 * and the import goes on; the caller sets a non-zero exit code when any line failed.
 *
 * Lines are uploaded several at once (bulk.ts) and reported, and audited, in line order. A
 * certificate already on its alias is not uploaded again, so an import interrupted (Ctrl-C, a
 * lost connection) is finished by running it again.
 */
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { errorText } from '../errors.js';
import { runBulk, type BulkOptions, type BulkRun } from './bulk.js';
import type { SmimeService } from './service.js';

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
  /** The certificate was on the alias already: not uploaded again. */
  already?: boolean;
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

export interface ImportOptions extends BulkOptions {
  /** The CSV file's path: relative .p12 paths are relative to its directory. */
  csvFile: string;
  readFile: (file: string) => Buffer;
  service: SmimeService;
  /** Make each line's certificate the default of its user. */
  setDefault?: boolean;
  onOutcome?: (outcome: ImportOutcome) => void;
}

export interface ImportRun extends BulkRun {
  outcomes: ImportOutcome[];
}

/**
 * Upload every good line of `text`, `concurrency` at once; report every line's outcome in line
 * order (a bad line where it stands). When interrupted, the lines after the last one done are
 * not reported: `interrupted` says so.
 */
export async function runImport(text: string, options: ImportOptions): Promise<ImportRun> {
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
  const run = await runBulk(
    options.service,
    lines,
    options,
    async (l, service): Promise<ImportOutcome> => {
      try {
        let data: Buffer;
        try {
          data = options.readFile(path.resolve(base, l.p12Path));
        } catch (err) {
          throw new Error(`cannot read ${l.p12Path}: ${(err as NodeJS.ErrnoException).code ?? errorText(err)}`);
        }
        const r = await service.insertOnce(l.user, l.user, { data, password: l.password, label: l.p12Path }, { setDefault: options.setDefault === true });
        const dflt = r.madeDefault ? ' (default)' : '';
        const message = r.already ? `certificate ${r.entry.id} is there already, not uploaded again${r.madeDefault ? ' (made the default)' : ''}` : `uploaded certificate ${r.entry.id}${dflt}`;
        return { line: l.line, user: l.user, ok: true, already: r.already === true, message, warnings: r.warnings };
      } catch (err) {
        return { line: l.line, user: l.user, ok: false, message: errorText(err), warnings: [] };
      }
    },
    (o, l, auditError) => {
      flushProblems(l.line);
      emit(auditError ? { ...o, ok: false, message: auditError.message } : o);
    },
  );
  // Bad lines after the last line done: reported unless the run stopped before them.
  flushProblems(run.done === lines.length ? Number.POSITIVE_INFINITY : (lines[run.done]?.line ?? Number.POSITIVE_INFINITY));
  return { ...run, outcomes };
}
