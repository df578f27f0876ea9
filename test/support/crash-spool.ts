/**
 * Looking at a spool directory from outside, as an admin would after a power cut: what a killed
 * daemon left behind, and what a cleanly stopped one left once everything was delivered.
 * Read-only: nothing here changes the directory.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { SpoolKeys, isSealed, openWhole } from '../../src/crypt/index.js';
import { SPOOL_STATES, sentKey, type MessageMeta } from '../../src/spool/index.js';
import { metaTextOf, parseMeta } from '../../src/spool/meta-codec.js';

export interface CrashedSpool {
  /** Committed messages (.json in queue/ or active/) by queue id, with the state they are in. */
  committed: Map<string, { state: 'queue' | 'active'; meta: MessageMeta }>;
  /** data/*.eml with no .json anywhere: a receipt the kill interrupted (start-up deletes it). */
  partialEml: number;
  /** Files in tmp/ (metadata being written; start-up deletes them). */
  tmpFiles: number;
  /** Anything that breaks "nothing half-written is in the queue". Empty when all is well. */
  problems: string[];
}

const list = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir) : []);
const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/**
 * After a SIGKILL: every .json in every state directory parses as the relay's metadata, and its
 * .eml is complete (the size and sha256 the metadata recorded at commit). This test's mail only
 * ever waits (queue/) or is being delivered (active/): any other state (dead/, hold/) is a problem.
 * With `keys` (an encrypted spool) every committed file must be sealed, and is read through them.
 */
export function inspectCrashedSpool(dir: string, keys?: SpoolKeys): CrashedSpool {
  const committed: CrashedSpool['committed'] = new Map();
  const problems: string[] = [];
  const withMeta = new Set<string>();
  for (const state of SPOOL_STATES) {
    for (const name of list(path.join(dir, state))) {
      const file = path.join(dir, state, name);
      if (!name.endsWith('.json')) {
        problems.push(`${state}/${name}: not a message metadata file`);
        continue;
      }
      const id = name.slice(0, -'.json'.length);
      withMeta.add(id);
      let meta: MessageMeta;
      try {
        const raw = readFileSync(file);
        if (keys && !isSealed(raw)) problems.push(`${state}/${name}: not encrypted`);
        meta = parseMeta(metaTextOf(openWhole(raw, keys ?? SpoolKeys.none(), file)), id);
      } catch (err) {
        problems.push(`${state}/${name}: ${err instanceof Error ? err.message : String(err)}`);
        continue;
      }
      if (state !== 'queue' && state !== 'active') {
        problems.push(`${state}/${name}: unexpected (last error ${meta.lastError?.code ?? 'none'}: ${meta.lastError?.message ?? ''})`);
        continue;
      }
      if (committed.has(id)) problems.push(`${id} is in both ${committed.get(id)!.state}/ and ${state}/`);
      committed.set(id, { state, meta });
      const eml = path.join(dir, 'data', `${id}.eml`);
      if (!existsSync(eml)) {
        problems.push(`${state}/${name}: data/${id}.eml is missing`);
        continue;
      }
      // the message, then (when the state entry is still the accepted file) its metadata
      let stored: Buffer;
      try {
        stored = openWhole(readFileSync(eml), keys ?? SpoolKeys.none(), eml);
      } catch (err) {
        problems.push(`data/${id}.eml: ${err instanceof Error ? err.message : String(err)}`);
        continue;
      }
      const bytes = stored.subarray(0, meta.size);
      if (bytes.length !== meta.size || sha256(bytes) !== meta.sha256) {
        problems.push(`data/${id}.eml is ${bytes.length} bytes (sha256 ${sha256(bytes).slice(0, 12)}), its metadata says ${meta.size} (${meta.sha256.slice(0, 12)}): half-written`);
      }
    }
  }
  const partialEml = list(path.join(dir, 'data')).filter((n) => n.endsWith('.eml') && !withMeta.has(n.slice(0, -4))).length;
  return { committed, partialEml, tmpFiles: list(path.join(dir, 'tmp')).length, problems };
}

/**
 * After a clean stop with everything delivered: every state directory, data/ and every tmp/
 * are empty, and every .json left anywhere under the spool (the sent log) parses.
 */
export function inspectDrainedSpool(dir: string, keys = SpoolKeys.none()): string[] {
  const problems: string[] = [];
  for (const sub of [...SPOOL_STATES, 'data']) {
    const left = list(path.join(dir, sub));
    if (left.length) problems.push(`${sub}/ still holds ${left.length} file(s): ${left.slice(0, 5).join(', ')}`);
  }
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = path.join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) {
        if (name === 'tmp' && readdirSync(p).length) problems.push(`${path.relative(dir, p)}/ holds temp files: ${readdirSync(p).slice(0, 5).join(', ')}`);
        walk(p);
      } else if (st.isFile() && name.endsWith('.json')) {
        try {
          JSON.parse(metaTextOf(openWhole(readFileSync(p), keys, p)));
        } catch {
          problems.push(`${path.relative(dir, p)} does not parse`);
        }
      }
    }
  };
  walk(dir);
  return problems;
}

/** Has the relay durably recorded (sent log) that this message reached Gmail? */
export function sentLogHas(dir: string, sender: string, messageSha256: string, keys = SpoolKeys.none()): boolean {
  const key = sentKey(sender, messageSha256);
  let text: string;
  try {
    text = readFileSync(path.join(dir, 'sent', 'journal'), 'utf8');
  } catch {
    return false;
  }
  // One JSON line per record (src/spool/sent-log.ts); a line torn by the kill is not a record.
  return text.split('\n').some((line) => {
    try {
      // (A sealed line: `~` and the sealed record in base64.)
      const text = line.startsWith('~') ? openWhole(Buffer.from(line.slice(1), 'base64'), keys, 'sent/journal').toString('utf8') : line;
      return (JSON.parse(text) as { k?: unknown }).k === key;
    } catch {
      return false;
    }
  });
}
