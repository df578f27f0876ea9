/** How a zod issue is said in a config error: the key path, then what is wrong and the fix. */
import type { z } from 'zod';
import type { ConfigError } from '../errors.js';

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

/** Every issue of a failed parse, one per line, each under its key path. */
export function issueLines(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((i) => `  ${formatKeyPath(i.path) || '(top level)'}: ${describeIssue(i)}`);
}

/** All the problems of a config error, one per line (the first is the error's own message). */
export function configErrorReport(err: ConfigError): string {
  const cause = err.cause instanceof Error ? err.cause.message : '';
  return cause || err.message;
}
