/**
 * One practice file (include:): one or more workspaces with their own listeners, devices and keys,
 * validated on its own, so that a mistake in it is that practice's alone. Relative paths are
 * relative to the file's directory, as in the main file. A listener in a practice file serves one
 * of the file's workspaces (the only one by default: never every workspace of the relay).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { deviceSchema, listenerSchema } from './listener-schema.js';
import { describeIssue, formatKeyPath, issueLines } from './issues.js';
import { resolveConfigPaths } from './paths.js';
import type { DeviceConfig, ListenerConfig, WorkspaceConfig } from './config-types.js';
import { checkReferences, workspaceSchema } from './schema.js';

const practiceFileSchema = z
  .strictObject({
    workspaces: z.array(workspaceSchema).min(1),
    listen: z.array(listenerSchema).default([]),
    devices: z.array(deviceSchema).default([]),
  })
  .superRefine((c, ctx) => {
    checkReferences(c, ctx);
    c.listen.forEach((l, i) => {
      if (l.workspace === undefined) {
        ctx.addIssue({ code: 'custom', path: ['listen', i, 'workspace'], message: `is required: a practice's listener serves one of its workspaces (${c.workspaces.map((w) => w.name).join(', ')})` });
      }
    });
  });

export interface PracticeEntries {
  file: string;
  digest: string;
  workspaces: WorkspaceConfig[];
  listen: ListenerConfig[];
  devices: DeviceConfig[];
}

/** A practice file's text and its sha256 (what tells a changed file from one left alone). */
export function readPracticeText(file: string): { text: string; digest: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('', `cannot read practice file ${file}: ${(err as Error).message}`);
  }
  return { text, digest: createHash('sha256').update(text).digest('hex') };
}

/** Validate a practice file's text (read from `file`: its relative paths are relative to it); a ConfigError names the file, the key and the fix. */
export function parsePracticeText(file: string, text: string, digest: string): PracticeEntries {
  const doc = YAML.parseDocument(text, { prettyErrors: true });
  if (doc.errors.length) throw new ConfigError('', `${file} is not valid YAML: ${doc.errors[0]!.message}`);
  const raw = resolveConfigPaths(doc.toJS(), path.dirname(file));
  const result = practiceFileSchema.safeParse(withListenerWorkspace(raw ?? {}));
  if (!result.success) {
    const first = result.error.issues[0]!;
    throw new ConfigError(`${file}: ${formatKeyPath(first.path) || '(top level)'}`, describeIssue(first), {
      cause: new Error(`${file} is not valid:\n${issueLines(result.error.issues).join('\n')}`),
    });
  }
  return { file, digest, ...result.data };
}

/** A file of one workspace: its listeners serve it without saying so. */
function withListenerWorkspace(doc: unknown): unknown {
  const d = doc as { workspaces?: unknown; listen?: unknown };
  if (!Array.isArray(d.workspaces) || d.workspaces.length !== 1 || !Array.isArray(d.listen)) return doc;
  const name = (d.workspaces[0] as { name?: unknown } | null)?.name;
  if (typeof name !== 'string') return doc;
  return { ...d, listen: d.listen.map((l: unknown) => (l && typeof l === 'object' && !('workspace' in l) ? { ...l, workspace: name } : l)) };
}
