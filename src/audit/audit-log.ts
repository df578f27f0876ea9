/**
 * The audit log: one JSON line per administrative change (S/MIME uploads, deletions, default
 * changes; later the queue CLI's retries and deletions). Appended, fsynced, mode 0600.
 *
 * It records who (the OS user, and the user behind sudo), what, when and on what; never a
 * password, key or certificate body. Fields whose names look secret are dropped as a backstop.
 */
import { constants as fsConstants } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface AuditActor {
  /** The OS account that ran the command. */
  osUser: string;
  /** The account behind `sudo`, when there was one. */
  sudoUser?: string;
}

export interface AuditEntry {
  /** What was done, e.g. `smime.insert`. */
  action: string;
  who: AuditActor;
  /** ISO time; filled in by appendAudit when missing. */
  at?: string;
  [detail: string]: unknown;
}

/** Field names never written, whatever a caller passes (the plan is not to pass them). */
const SECRET_FIELD = /pass(word)?|secret|private|pkcs12|p12data|token|credential|^key$|keydata/i;

/** Who is running this command: from the OS account and `SUDO_USER` in `env`. */
export function auditActor(env: Readonly<Record<string, string | undefined>>): AuditActor {
  let osUser: string;
  try {
    osUser = os.userInfo().username;
  } catch {
    osUser = 'unknown';
  }
  const sudoUser = env.SUDO_USER?.trim();
  return sudoUser ? { osUser, sudoUser } : { osUser };
}

/** The line appendAudit writes for `entry` (secret-looking fields removed, `at` first). */
export function auditLine(entry: AuditEntry, now: Date = new Date()): string {
  const clean: Record<string, unknown> = { at: entry.at ?? now.toISOString() };
  for (const [k, v] of Object.entries(entry)) {
    if (k === 'at' || SECRET_FIELD.test(k) || v === undefined) continue;
    clean[k] = v;
  }
  return `${JSON.stringify(clean)}\n`;
}

/**
 * Append one entry to `file` and fsync it before returning. Creates the file (0600) and its
 * directory (0700) when missing; a new file's directory is fsynced too, so the entry survives a
 * crash right after the command reports success.
 */
export async function appendAudit(file: string, entry: AuditEntry, now: Date = new Date()): Promise<void> {
  const dir = path.dirname(path.resolve(file));
  await mkdir(dir, { recursive: true, mode: 0o700 });
  let created = false;
  let fh;
  try {
    fh = await open(file, fsConstants.O_WRONLY | fsConstants.O_APPEND | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600);
    created = true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    fh = await open(file, fsConstants.O_WRONLY | fsConstants.O_APPEND);
  }
  try {
    await fh.write(auditLine(entry, now));
    await fh.sync();
  } finally {
    await fh.close();
  }
  if (created) {
    const d = await open(dir, fsConstants.O_RDONLY);
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  }
}
