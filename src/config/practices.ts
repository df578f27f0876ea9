/**
 * The main file's shared settings plus its practice files (include:), as one config. Each file is
 * read and validated on its own (practice-file.ts):
 * - at start, a file that cannot be read or is not valid disables its practice (named in
 *   `practices[].problem`) and the others run;
 * - at a reload (`running` given), such a file keeps that practice's running settings
 *   (`practices[].refused` says why) and the others apply.
 * Workspace names, domains, device user names and listener ports stay unique across files; a
 * clash names both files: at start it is a config error (exit 78), at a reload the changed file
 * is refused. The relay disables practices whose keys, certificates or ports fail (src/tenancy).
 */
import path from 'node:path';
import { ConfigError, errorText } from '../errors.js';
import { expandIncludes } from './include.js';
import { parsePracticeText, readPracticeText, type PracticeEntries } from './practice-file.js';
import type { Config, Practice } from './config-types.js';
import { practiceClaims } from './practice-state.js';

type Entries = Pick<Practice, 'workspaces' | 'listen' | 'devices'>;

class Owners {
  private readonly owner = new Map<string, string>();
  /** The first claim another file already holds, as a sentence naming both files; null if none. */
  clash(file: string, e: Entries): string | null {
    for (const c of practiceClaims(e)) {
      const other = this.owner.get(c);
      if (other !== undefined && other !== file) return `${c} is in both ${other} and ${file}: keep it in one of them`;
    }
    return null;
  }
  take(file: string, e: Entries): void {
    for (const c of practiceClaims(e)) this.owner.set(c, file);
  }
}

/** One line: the file, the first key and the fix (`check` lists every issue). */
const problemOf = (err: unknown) => errorText(err);
const none = (file: string, problem: string): Practice => ({ file, digest: null, workspaces: [], listen: [], devices: [], problem });

/** `main` (parsed alone) with its practice files merged in; `running`: the config in force (a reload). */
export function withPractices(main: Config, mainFile: string, running?: Config): Config {
  const files = expandIncludes(main.include, path.dirname(path.resolve(mainFile)), mainFile);
  const before = new Map((running?.practices ?? []).map((p) => [p.file, p]));
  const read = files.map((file): PracticeEntries | { file: string; error: unknown } => {
    try {
      const { text, digest } = readPracticeText(file);
      // A file left alone since the running config read it: its entries as parsed then (the
      // same objects: a reload of 1,000 practices parses only the changed ones).
      const old = before.get(file);
      if (old?.digest === digest && old.workspaces.length > 0) return { file, digest, workspaces: [...old.workspaces], listen: [...old.listen], devices: [...old.devices] };
      return parsePracticeText(file, text, digest);
    } catch (error) {
      return { file, error };
    }
  });
  // At a reload, files left alone claim first: a clash is the changed file's.
  const unchanged = (r: (typeof read)[number]) => 'digest' in r && before.get(r.file)?.digest === r.digest;
  if (running) read.sort((a, b) => Number(unchanged(b)) - Number(unchanged(a)));
  const owners = new Owners();
  owners.take(path.resolve(mainFile), main);
  const practices: Practice[] = [];
  /** At a reload: the running settings of a refused file, unless they clash now too. */
  const keep = (file: string, reason: string): Practice => {
    const old = before.get(file);
    if (!old || old.digest === null || owners.clash(file, old)) return none(file, reason);
    owners.take(file, old);
    if (old.problem === null) return { ...old, refused: reason };
    // Disabled before, still disabled: now for the file's own mistake (the one to fix first).
    const { refused: _, ...rest } = old;
    return { ...rest, problem: reason };
  };
  for (const r of read) {
    if ('error' in r) {
      practices.push(running ? keep(r.file, problemOf(r.error)) : none(r.file, problemOf(r.error)));
      continue;
    }
    const clash = owners.clash(r.file, r);
    if (clash && !running) throw new ConfigError('include', clash);
    if (clash) {
      practices.push(keep(r.file, clash));
      continue;
    }
    owners.take(r.file, r);
    practices.push({ ...r, problem: null });
  }
  practices.sort((a, b) => (a.file < b.file ? -1 : 1));
  // A disabled practice's workspaces stay out; of its listeners and devices, those that run now.
  const edge = <T>(p: Practice, own: readonly T[], now: readonly T[] | undefined) => (p.problem === null ? own : own.filter((x) => now?.includes(x)));
  return {
    ...main,
    workspaces: [...main.workspaces, ...practices.flatMap((p) => (p.problem === null ? p.workspaces : []))],
    listen: [...main.listen, ...practices.flatMap((p) => edge(p, p.listen, running?.listen))],
    devices: [...main.devices, ...practices.flatMap((p) => edge(p, p.devices, running?.devices))],
    practices,
  };
}
