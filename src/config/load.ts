/** YAML file → validated, frozen Config. Every error names the key path and what to do. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import YAML from 'yaml';
import { ConfigError } from '../errors.js';
import { resolveConfigPaths } from './paths.js';
import { describeIssue, formatKeyPath, issueLines } from './issues.js';
import { withPractices } from './practices.js';
import type { Config } from './config-types.js';
import { configSchema } from './schema.js';

export { configErrorReport, describeIssue, formatKeyPath } from './issues.js';

/** The example config shipped in the repo: `npm start` with no config uses it (dry run). */
export const EXAMPLE_CONFIG_PATH = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../config/workspace-relay.example.yaml',
);

/** Validate an already-parsed document. `source` names the file in errors. */
export function parseConfig(doc: unknown, source = 'config'): Config {
  const result = configSchema.safeParse(doc ?? {});
  if (!result.success) {
    const lines = issueLines(result.error.issues);
    const first = result.error.issues[0]!;
    throw new ConfigError(formatKeyPath(first.path), `${describeIssue(first)}`, {
      cause: new Error(`${source} is not valid:\n${lines.join('\n')}`),
    });
  }
  return deepFreeze(result.data);
}

/**
 * Read and validate the YAML file at `file` and the practice files it includes; relative paths in
 * each are relative to its own directory. `running`: the config in force, at a reload (a broken
 * practice file keeps that practice's running settings: src/config/practices.ts).
 */
export function loadConfig(file: string, running?: Config): Config {
  const main = parseConfig(readConfigDocument(file), file);
  return main.include.length ? deepFreeze(withPractices(main, file, running)) : main;
}

/**
 * The YAML document at `file`, parsed, with its relative paths made absolute against the file's
 * directory (src/config/paths.ts); not yet validated (the S/MIME commands validate only their section).
 */
export function readConfigDocument(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('', `cannot read config file ${file}: ${(err as Error).message}`);
  }
  const doc = YAML.parseDocument(text, { prettyErrors: true });
  if (doc.errors.length) {
    throw new ConfigError('', `${file} is not valid YAML: ${doc.errors[0]!.message}`);
  }
  return resolveConfigPaths(doc.toJS(), path.dirname(path.resolve(file)));
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
