/** YAML file → validated, frozen Config. Every error names the key path and what to do. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import YAML from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import { resolveConfigPaths } from './paths.js';
import { configSchema, type Config } from './schema.js';

/** The example config shipped in the repo: `npm start` with no config uses it (dry run). */
export const EXAMPLE_CONFIG_PATH = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../config/workspace-relay.example.yaml',
);

export function formatKeyPath(keys: readonly PropertyKey[]): string {
  let out = '';
  for (const k of keys) {
    if (typeof k === 'number') out += `[${k}]`;
    else {
      const s = String(k);
      out += /^[A-Za-z_][\w-]*$/.test(s) ? (out ? `.${s}` : s) : `["${s}"]`;
    }
  }
  return out;
}

export function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')} (check the spelling against config/workspace-relay.example.yaml)`;
  }
  if (issue.code === 'invalid_type' && /received undefined/.test(issue.message)) {
    return `is required (${issue.expected})`;
  }
  return issue.message;
}

/** Validate an already-parsed document. `source` names the file in errors. */
export function parseConfig(doc: unknown, source = 'config'): Config {
  const result = configSchema.safeParse(doc ?? {});
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${formatKeyPath(i.path) || '(top level)'}: ${describeIssue(i)}`);
    const first = result.error.issues[0]!;
    throw new ConfigError(formatKeyPath(first.path), `${describeIssue(first)}`, {
      cause: new Error(`${source} is not valid:\n${lines.join('\n')}`),
    });
  }
  return deepFreeze(result.data);
}

/** Read and validate the YAML file at `file`; relative paths in it are relative to its directory. */
export function loadConfig(file: string): Config {
  return parseConfig(readConfigDocument(file), file);
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

/** All the problems of a config error, one per line (the first is the error's own message). */
export function configErrorReport(err: ConfigError): string {
  const cause = err.cause instanceof Error ? err.cause.message : '';
  return cause || err.message;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
