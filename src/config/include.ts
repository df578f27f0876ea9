/**
 * `include:` patterns → practice files. A pattern is relative to the main file's directory and
 * may hold `*` and `?` in its last part only (`conf.d/*.yaml`): the names of that one directory
 * are matched, never a recursive walk. Node 20 has no fs.glob, and the relay needs no more than
 * this; a library (fast-glob, picomatch) would bring symlink walking and brace and `**` syntax
 * that a config directory does not want. `*` and `?` do not match a leading dot, so editors'
 * `.swp` files and `.orig` leftovers of a package manager stay out. Files come sorted by name
 * (a stable order for the logs), each once.
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.js';

const WILD = /[*?]/;

/** A name pattern (no `/`) as a regular expression: `*` any run, `?` one character, no leading dot. */
export function namePattern(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${WILD.test(pattern[0] ?? '') ? '(?!\\.)' : ''}${body}$`);
}

/** The practice files the patterns name, absolute, sorted, each once; the main file itself never. */
export function expandIncludes(patterns: readonly string[], baseDir: string, mainFile?: string): string[] {
  const out = new Set<string>();
  patterns.forEach((pattern, i) => {
    const key = `include[${i}]`;
    const full = path.resolve(baseDir, pattern);
    const dir = path.dirname(full);
    const name = path.basename(full);
    if (WILD.test(dir)) {
      throw new ConfigError(key, `"${pattern}": * and ? may only be used in the file name (conf.d/*.yaml), not in directory names`);
    }
    if (!WILD.test(name)) {
      if (!isFile(full)) throw new ConfigError(key, `${full} is not a readable file: create it, or remove it from include`);
      out.add(full);
      return;
    }
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch (err) {
      throw new ConfigError(key, `cannot read the directory ${dir}: ${(err as Error).message} (create it, even empty, or fix the pattern)`);
    }
    const re = namePattern(name);
    for (const n of names.filter((x) => re.test(x)).sort()) {
      const file = path.join(dir, n);
      if (isFile(file)) out.add(file);
    }
  });
  if (mainFile) out.delete(path.resolve(mainFile));
  return [...out].sort();
}

function isFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}
