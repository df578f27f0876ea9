/**
 * Relative paths in a config file are relative to that file's directory (as in nginx or
 * Postfix), never to the directory a command happens to run in: `workspace-relay queue list` run
 * from anywhere finds the spool the relay uses.
 */
import path from 'node:path';

/** Every key that names a file or directory. `*` is each entry of a list. */
export const PATH_KEYS: readonly (readonly string[])[] = [
  ['queue', 'dir'],
  ['queue', 'encryption', 'keyFiles', '*'],
  ['audit', 'file'],
  ['control', 'socket'],
  ['listen', '*', 'tls', 'certFile'],
  ['listen', '*', 'tls', 'keyFile'],
  ['workspaces', '*', 'gmailApi', 'serviceAccountKeyFile'],
  ['workspaces', '*', 'smtp', 'appPasswordFile'],
  ['workspaces', '*', 'smtp', 'caFile'],
  ['workspaces', '*', 'outbox', 'dir'],
  ['workspaces', '*', 'gmailXoauth2', 'serviceAccountKeyFile'],
  ['workspaces', '*', 'gmailXoauth2', 'caFile'],
  ['workspaces', '*', 'smtpRelay', 'passwordFile'],
  ['workspaces', '*', 'smtpRelay', 'caFile'],
  ['workspaces', '*', 'directory', 'serviceAccountKeyFile'],
  ['smime', 'serviceAccountKeyFile'],
  ['smime', 'auditLog'],
  ['smime', 'workspaces', '*', 'serviceAccountKeyFile'],
  ['smime', 'workspaces', '*', 'directory', 'serviceAccountKeyFile'],
];

/** The audit log when `audit.file` is not set: beside the spool, which the relay's user owns. */
export function defaultAuditFile(queueDir: string): string {
  return path.join(queueDir, 'audit.log');
}

/**
 * A copy of the parsed config document with every relative path under PATH_KEYS made absolute
 * against `baseDir` (the config file's directory). Anything that is not a string is left for the
 * schema to report.
 */
export function resolveConfigPaths(doc: unknown, baseDir: string): unknown {
  const copy = structuredClone(doc);
  for (const keys of PATH_KEYS) resolveAt(copy, keys, baseDir);
  return copy;
}

function resolveAt(node: unknown, keys: readonly string[], baseDir: string): void {
  if (!node || typeof node !== 'object') return;
  const [key, ...rest] = keys;
  if (key === '*') {
    if (!Array.isArray(node)) return;
    node.forEach((item: unknown, i) => {
      if (rest.length) resolveAt(item, rest, baseDir);
      else if (typeof item === 'string' && item !== '' && !path.isAbsolute(item)) node[i] = path.resolve(baseDir, item);
    });
    return;
  }
  const obj = node as Record<string, unknown>;
  if (!rest.length) {
    const v = obj[key!];
    if (typeof v === 'string' && v !== '' && !path.isAbsolute(v)) obj[key!] = path.resolve(baseDir, v);
    return;
  }
  resolveAt(obj[key!], rest, baseDir);
}
