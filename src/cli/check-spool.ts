/**
 * `check`, the spool: its owner and permissions (it holds patient data: 0700, the relay's own),
 * the free space against queue.minFreeSpace (below it the relay answers 452 to new mail), and hard
 * links (the spool refuses to start without them: the same probe, under a name of its own).
 */
import type { Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/index.js';
import { errorText } from '../errors.js';
import { spoolFreeBytes } from '../queue/index.js';
import { DIR_MODE, SpoolLayout, checkSpoolKeys, nodeSpoolFs, probeHardLinks, type SpoolFs } from '../spool/index.js';
import { fail, pass, warn, type CheckItem, type CheckSection } from './check-report.js';

export interface SpoolCheckOptions {
  /** This process's uid (default process.getuid()). */
  uid?: number;
  /** Free bytes on the file system of a directory (default: statfs, as the relay reads it). */
  freeBytes?: (dir: string) => Promise<number>;
  /** Replace the spool's file-system calls (tests: a file system without hard links). */
  spoolFs?: Partial<SpoolFs>;
}

export async function spoolSection(config: Config, options: SpoolCheckOptions = {}): Promise<CheckSection> {
  const root = path.resolve(config.queue.dir);
  const existing = await nearestExisting(root);
  const items: CheckItem[] = [
    await ownership(root, options.uid ?? process.getuid?.()),
    await freeSpace(config, existing, options.freeBytes ?? spoolFreeBytes),
    await hardLinks(root, existing, { ...nodeSpoolFs, ...options.spoolFs }),
    spoolKeys(config),
  ];
  return { title: `spool ${root}`, items };
}

/** The spool's files against queue.encryption's keys (what serve refuses to start on: docs/encryption.md). */
function spoolKeys(config: Config): CheckItem {
  const name = 'spool.keys';
  const state = checkSpoolKeys(config);
  const problem = state.problems[0];
  if (problem) return fail(name, `${problem.key}: ${problem.message}`, problem.fix);
  const on = config.queue.encryption ? `encryption on (${config.queue.encryption.keyFiles.length} key file(s))` : 'encryption off (queue.encryption)';
  return state.notes.some((n) => n.includes('queue rekey')) ? warn(name, `${on}; ${state.notes.join('; ')}`, 'workspace-relay queue rekey') : pass(name, [on, ...state.notes].join('; '));
}

async function ownership(root: string, uid: number | undefined): Promise<CheckItem> {
  const name = 'spool.permissions';
  const layout = new SpoolLayout(root);
  const dirs: [string, Stats][] = [];
  for (const dir of [...layout.allDirs(), path.join(root, 'sent')]) {
    const st = await stat(dir).catch(() => null);
    if (st?.isDirectory()) dirs.push([dir, st]);
  }
  if (!dirs.length) return pass(name, 'does not exist yet: the relay creates it (0700) at its first start');
  const open = dirs.filter(([, st]) => (st.mode & 0o777 & ~DIR_MODE) !== 0);
  if (open.length) {
    const [dir, st] = open[0]!;
    return fail(name, `${dir} is ${(st.mode & 0o777).toString(8)}: others may read the mail in it (the spool holds patient data)`, `chmod 700 ${open.map(([d]) => d).join(' ')} (the relay also sets 0700 at its next start)`);
  }
  const others = dirs.filter(([, st]) => uid !== undefined && st.uid !== uid);
  if (uid === 0 && others.length) {
    return pass(name, `0700, owned by uid ${others[0]![1].uid} (check runs as root; as the relay's user, sudo -u workspace-relay workspace-relay check, it tests what the relay may do)`);
  }
  if (others.length) {
    const [dir, st] = others[0]!;
    return fail(name, `${dir} belongs to uid ${st.uid}, not to this user (uid ${uid})`, `run check as the relay's user (sudo -u workspace-relay workspace-relay check); if that is the relay's user, give it the spool: chown -R <relay user>: ${root}`);
  }
  return pass(name, `0700, owned by this user (uid ${uid ?? '?'})`);
}

async function freeSpace(config: Config, dir: string, freeBytes: (dir: string) => Promise<number>): Promise<CheckItem> {
  const name = 'spool.free-space';
  let free: number;
  try {
    free = await freeBytes(dir);
  } catch (err) {
    return fail(name, `cannot read the free space of ${dir}: ${errorText(err)}`, undefined);
  }
  const min = config.queue.minFreeSpace;
  const said = `${bytes(free)} free (queue.minFreeSpace ${bytes(min)})`;
  const fix = `free space on that file system, or move queue.dir to a larger one (or lower queue.minFreeSpace)`;
  if (free < min) return fail(name, `${said}: below it the relay answers 452 to new mail`, fix);
  if (free < 2 * min) return warn(name, `${said}: less than twice the minimum`, fix);
  return pass(name, said);
}

async function hardLinks(root: string, existing: string, fs: SpoolFs): Promise<CheckItem> {
  const name = 'spool.hard-links';
  const tmp = new SpoolLayout(root).tmp;
  // In the spool's tmp/ once it exists (the relay clears it at each start); else beside it.
  const dir = (await stat(tmp).catch(() => null))?.isDirectory() ? tmp : existing;
  try {
    await probeHardLinks(fs, dir, root, `check-link-probe-${process.pid}`);
    return pass(name, dir === tmp ? 'supported' : `supported (tried in ${dir}, where the spool will be)`);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'spool.no_hard_links') return fail(name, errorText(err), undefined, { code });
    // Not writable here: the start-up section says so (directories).
    return warn(name, `not tried in ${dir}: ${errorText(err)}`, undefined);
  }
}

/** `dir`, or its nearest parent that exists. */
async function nearestExisting(dir: string): Promise<string> {
  let at = dir;
  while (!(await stat(at).catch(() => null)) && path.dirname(at) !== at) at = path.dirname(at);
  return at;
}

function bytes(n: number): string {
  const units = ['bytes', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}
