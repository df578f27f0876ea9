/** Run `workspace-relay check` in this process on a config document: its lines, its exit, its report. */
import { check, type CheckItem, type CheckOptions, type CheckReport } from '../../src/cli/check.js';
import { sectionLines } from '../../src/cli/check-report.js';
import { CliExit } from '../../src/cli/exit-codes.js';
import type { ConfigInput } from '../../src/config/index.js';
import { writeConfigFile } from './daemon.js';

export interface CheckRun {
  lines: string[];
  /** The exit code CliExit asked for; 0 when check returned. */
  exit: number;
  report: CheckReport;
}

/** `check --json`; `lines` are its sections as the human output prints them (sectionLines). */
export async function runCheck(dir: string, doc: ConfigInput, users: string[] = [], options: CheckOptions = {}): Promise<CheckRun> {
  const file = writeConfigFile(dir, doc, `check-${Math.random().toString(36).slice(2)}.yaml`);
  const out: string[] = [];
  let exit = 0;
  try {
    await check({ path: file, source: 'flag', isExample: false }, users, { out: (l) => out.push(l), err: () => undefined }, { ...options, json: true });
  } catch (err) {
    if (!(err instanceof CliExit)) throw err;
    exit = err.exitCode;
  }
  const report = JSON.parse(out.join('\n')) as CheckReport;
  return { lines: report.sections.flatMap(sectionLines), exit, report };
}

/** The check named `name` in a report (throws if there is none). */
export function item(report: CheckReport, name: string): CheckItem {
  const found = report.sections.flatMap((s) => s.items).find((i) => i.name === name);
  if (!found) throw new Error(`no check ${name}: ${report.sections.flatMap((s) => s.items.map((i) => i.name)).join(', ')}`);
  return found;
}

/** The human line of a check and the fix line after it, as printed. */
export function lineAndFix(lines: string[], start: RegExp): [string, string | undefined] {
  const i = lines.findIndex((l) => start.test(l));
  if (i < 0) throw new Error(`no line ${start}:\n${lines.join('\n')}`);
  const next = lines[i + 1];
  return [lines[i]!, next?.startsWith('        fix: ') ? next.slice('        fix: '.length) : undefined];
}
