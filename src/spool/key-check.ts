/**
 * The spool's keys against what the spool holds (queue.encryption, docs/encryption.md): `serve`
 * refuses to start when a file needs a key the config does not give (a key taken out too soon, a
 * wrong key file, encryption turned off under a sealed spool), naming the key and the files,
 * before recovery or anything else touches the spool; `check` prints the same problems with the
 * notes (files under older keys or in plain text, and what `queue rekey` does about them).
 * (In the spool: it is the spool's files that are checked against the keys.)
 */
import path from 'node:path';
import type { Config } from '../config/index.js';
import { loadSpoolKeys, type SpoolKeys } from '../crypt/index.js';
import { ConfigError } from '../errors.js';
import { scanSpoolKeys } from './key-scan.js';

export interface SpoolKeyProblem {
  /** The config key to change. */
  key: string;
  message: string;
  fix: string;
}

export interface SpoolKeyState {
  /** What stops `serve` from starting. */
  problems: SpoolKeyProblem[];
  /** How the spool stands (for `check`): files per key, plain files, what to do next. */
  notes: string[];
}

/** Listed files per problem (the count says how many more). */
const SHOWN_FILES = 5;

/** The key files and the spool's files checked against each other. `keys`: already loaded (serve). */
export function checkSpoolKeys(config: Config, keys?: SpoolKeys): SpoolKeyState {
  const state: SpoolKeyState = { problems: [], notes: [] };
  if (!keys) {
    try {
      keys = loadSpoolKeys(config);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      state.problems.push({ key: err.path, message: err.message, fix: 'fix the key file (workspace-relay keygen FILE writes a new one)' });
      return state;
    }
  }
  const scan = scanSpoolKeys(path.resolve(config.queue.dir));
  const current = keys.current?.id;
  const key = keys.enabled ? 'queue.encryption.keyFiles' : 'queue.encryption';
  for (const [id, files] of scan.byKey) {
    if (keys.get(id)) {
      const n = `${files.length} file${files.length === 1 ? '' : 's'}`;
      state.notes.push(
        id === current
          ? `${n} encrypted with key ${id} (the first: it encrypts new mail)`
          : `${n} encrypted with key ${id}, an older key: \`workspace-relay queue rekey\` rewrites them with ${current}; remove ${id} from keyFiles only after that`,
      );
      continue;
    }
    const shown = files.slice(0, SHOWN_FILES).join(', ') + (files.length > SHOWN_FILES ? ` and ${files.length - SHOWN_FILES} more` : '');
    state.problems.push({
      key,
      message: `${files.length} file${files.length === 1 ? '' : 's'} in the spool ${files.length === 1 ? 'was' : 'were'} encrypted with key ${id}, which ${keys.enabled ? `is not among queue.encryption.keyFiles (they hold ${keys.ids().join(', ')})` : 'cannot be read with encryption off'}: ${shown}`,
      fix: `put the file of key ${id} back in queue.encryption.keyFiles (after the first key) and start again; nothing was deleted. If that key is lost for good, those messages are too: remove the files named.`,
    });
  }
  if (scan.plain.length && keys.enabled) {
    state.notes.push(`${scan.plain.length} file${scan.plain.length === 1 ? '' : 's'} in plain text (written before encryption was on): \`workspace-relay queue rekey\` encrypts them`);
  }
  return state;
}

/** Throw the first problem as a ConfigError (serve exits 78 on it). */
export function refuseMissingKeys(config: Config, keys: SpoolKeys): void {
  const problem = checkSpoolKeys(config, keys).problems[0];
  if (problem) throw new ConfigError(problem.key, `${problem.message}. ${problem.fix}`);
}
