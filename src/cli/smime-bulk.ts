/**
 * The S/MIME commands over many users (src/smime/bulk.ts): `smime import`, `smime report` and
 * `smime rotate --users-file / --workspace`. Bounded concurrency (--concurrency), output and
 * audit lines in input order, and Ctrl-C finishes the calls in flight, writes what is done and
 * exits 130: run the same command again to finish (it skips what is done).
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { readSecretFile } from '../config/index.js';
import {
  DEFAULT_CONCURRENCY,
  MAX_CONCURRENCY,
  buildReport,
  collectUsers,
  directoryWorkspaceUsers,
  isWarning,
  reportJson,
  reportTable,
  rotateUsers,
  runImport,
  type AliasRotation,
  type SmimeConfig,
  type SmimeService,
  type WorkspaceUsers,
} from '../smime/index.js';
import { CliExit, EXIT_INTERRUPTED, EXIT_USAGE } from './exit-codes.js';

/** Ctrl-C during a bulk command: `signal` aborts on the first; `dispose` when the command ends. */
export interface Interrupt {
  signal: AbortSignal;
  dispose(): void;
}

export interface SetupOptions {
  /** --workspace names a relay workspace the smime section may not list: then each user's key is chosen by domain. */
  keyByDomainUnlessListed?: boolean;
}

/** What the bulk commands need from the `smime` command group (cli/smime.ts). */
export interface SmimeCliContext {
  setup: (workspace?: string, options?: SetupOptions) => { doc: unknown; config: SmimeConfig; service: SmimeService };
  run: <A extends unknown[]>(fn: (...args: A) => Promise<number | void>) => (...args: A) => Promise<void>;
  out: (text: string) => void;
  err: (text: string) => void;
  warn: (text: string) => void;
  now: () => Date;
  /** Watch for Ctrl-C while a bulk command runs (default: SIGINT and SIGTERM). */
  interrupt?: (() => Interrupt) | undefined;
  /** A workspace's users (default: its smime.workspaces[].users list, and the Directory's with a directory entry). */
  workspaceUsers?: WorkspaceUsers | undefined;
}

export const CONCURRENCY_HELP = `calls to Google at once, for different users (default ${DEFAULT_CONCURRENCY}, at most ${MAX_CONCURRENCY})`;

/** --concurrency's value: a whole number from 1 to MAX_CONCURRENCY (a usage error otherwise). */
export function parseConcurrency(text: string | undefined): number {
  if (text === undefined) return DEFAULT_CONCURRENCY;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > MAX_CONCURRENCY) {
    throw usage(`--concurrency ${text}: give a whole number from 1 to ${MAX_CONCURRENCY} (default ${DEFAULT_CONCURRENCY})`);
  }
  return n;
}

/** A mistake on the command line: exit 64. */
export const usage = (message: string) => new CliExit(EXIT_USAGE, `error: ${message}`);

/** SIGINT or SIGTERM: finish what is in flight; a second one ends the process at once (Node's default). */
export function processInterrupt(err: (text: string) => void): Interrupt {
  const controller = new AbortController();
  const onSignal = () => {
    dispose();
    err('interrupted: finishing the calls in flight and writing what is done (Ctrl-C again to stop at once)\n');
    controller.abort();
  };
  const dispose = () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return { signal: controller.signal, dispose };
}

async function interruptible<T>(ctx: SmimeCliContext, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const watch = (ctx.interrupt ?? (() => processInterrupt(ctx.err)))();
  try {
    return await fn(watch.signal);
  } finally {
    watch.dispose();
  }
}

/** Whose certificates a bulk command works on, as given on its command line. */
export interface UserChoice {
  named?: readonly string[];
  usersFile?: string | undefined;
  workspace?: string | undefined;
  /** With `workspace`: only the Directory's users in this unit and those below it. */
  orgUnit?: string | undefined;
}

/**
 * The service and the users of a bulk command (report, rotate): those named, the users file's,
 * and with --workspace NAME its smime.workspaces[].users and, with a directory entry, every
 * active user the Directory API lists (--org-unit: one unit). A NAME only the relay's workspaces
 * list (for its directory entry) uses each user's key by domain.
 */
export async function bulkUsers(ctx: SmimeCliContext, o: UserChoice): Promise<{ service: SmimeService; users: string[] }> {
  if (o.orgUnit !== undefined && !o.orgUnit.startsWith('/')) throw usage(`--org-unit ${o.orgUnit}: give the unit's full path, e.g. /Clinicians`);
  if (o.orgUnit !== undefined && o.workspace === undefined) throw usage('--org-unit goes with --workspace NAME (the workspace whose Directory to list)');
  const { doc, config, service } = ctx.setup(o.workspace, { keyByDomainUnlessListed: true });
  const workspaceUsers = ctx.workspaceUsers ?? directoryWorkspaceUsers(doc, { orgUnit: o.orgUnit });
  const users = await collectUsers({ named: o.named, usersFile: o.usersFile, workspace: o.workspace }, config, workspaceUsers);
  return { service, users };
}

export function registerBulkImport(smime: Command, ctx: SmimeCliContext): void {
  smime
    .command('import')
    .argument('<csv>', 'CSV file of lines user,path-to-p12,password (mode 0600: it holds passwords)')
    .description('upload many certificates, several at once; skips those already uploaded; goes on past bad lines; exit code 1 if any line failed')
    .option('--set-default', 'make each uploaded certificate the default of its user')
    .option('--workspace <name>', 'the smime.workspaces entry whose key to use (default: by domain)')
    .option('--concurrency <n>', CONCURRENCY_HELP)
    .option('--json', "JSON output: every line's outcome, then the counts")
    .action(
      ctx.run(async (csv: string, o: { setDefault?: boolean; workspace?: string; concurrency?: string; json?: boolean }) => {
        const concurrency = parseConcurrency(o.concurrency);
        const text = readSecretFile(csv, 'import');
        const { service } = ctx.setup(o.workspace);
        const r = await interruptible(ctx, (signal) =>
          runImport(text, {
            csvFile: csv,
            readFile: (f) => readFileSync(f),
            service,
            setDefault: o.setDefault === true,
            concurrency,
            signal,
            onOutcome: (x) => {
              if (o.json) return;
              const who = x.user ? ` ${x.user}` : '';
              if (x.ok) ctx.out(`line ${x.line}${who}: ${x.message}`);
              else ctx.err(`line ${x.line}${who}: FAILED: ${x.message}\n`);
              x.warnings.forEach((w) => ctx.warn(`line ${x.line}: ${w}`));
            },
          }),
        );
        const failed = r.outcomes.filter((x) => !x.ok).length;
        const already = r.outcomes.filter((x) => x.already).length;
        const uploaded = r.outcomes.length - failed - already;
        if (o.json) ctx.out(JSON.stringify({ lines: r.outcomes, uploaded, already, failed, interrupted: r.interrupted }, null, 2));
        else ctx.out(`${uploaded} uploaded, ${already ? `${already} already there, ` : ''}${failed} failed`);
        if (r.interrupted) {
          const last = r.outcomes.at(-1)?.line;
          ctx.err(`interrupted${last ? ` after line ${last}` : ''}: the lines reported are done; run the same command again to finish (certificates already uploaded are skipped)\n`);
          return EXIT_INTERRUPTED;
        }
        return failed ? 1 : 0;
      }),
    );
}

export function registerBulkReport(smime: Command, ctx: SmimeCliContext): void {
  smime
    .command('report')
    .argument('[users...]', 'users whose send-as addresses to check')
    .description('default-certificate expiry of every send-as address; exit code 1 when any warns')
    .option('--users-file <file>', 'file of user addresses, one per line (# comments)')
    .option(
      '--workspace <name>',
      "also check that workspace's users: smime.workspaces[name].users and, with a directory entry, every active user the Directory API lists (and use its key)",
    )
    .option('--org-unit <path>', "with --workspace: only the Directory's users in this organisational unit and those below it (e.g. /Clinicians)")
    .option('--warn-days <days>', 'warn when the default certificate expires within this many days', '30')
    .option('--concurrency <n>', CONCURRENCY_HELP)
    .option('--json', 'JSON output')
    .action(
      ctx.run(async (named: string[], o: { usersFile?: string; workspace?: string; orgUnit?: string; warnDays: string; concurrency?: string; json?: boolean }) => {
        const warnDays = Number(o.warnDays);
        if (!Number.isInteger(warnDays) || warnDays < 0) throw usage(`--warn-days ${o.warnDays}: give a whole number of days, e.g. 30`);
        const concurrency = parseConcurrency(o.concurrency);
        const { service, users } = await bulkUsers(ctx, { named, usersFile: o.usersFile, workspace: o.workspace, orgUnit: o.orgUnit });
        if (!users.length) {
          throw usage(
            'name the users to check: smime report USER…, --users-file FILE, or --workspace NAME (with smime.workspaces[].users, or a directory entry to list them from the Directory API)',
          );
        }
        const report = await interruptible(ctx, (signal) => buildReport(service.api, users, { now: ctx.now(), warnDays, concurrency, signal }));
        const rows = report.rows;
        ctx.out(o.json ? JSON.stringify(reportJson(rows), null, 2) : reportTable(rows));
        if (report.interrupted) {
          ctx.err(`interrupted: ${report.done} of ${users.length} users checked\n`);
          return EXIT_INTERRUPTED;
        }
        const warnings = rows.filter(isWarning).length;
        if (!o.json && warnings) ctx.err(`${warnings} of ${rows.length} send-as addresses need attention\n`);
        return warnings ? 1 : 0;
      }),
    );
}

export interface BulkRotateOptions {
  usersFile?: string;
  workspace?: string;
  orgUnit?: string;
  concurrency?: string;
  json?: boolean;
}

/** `smime rotate` without --user: every send-as alias of every user listed. */
export async function rotateMany(ctx: SmimeCliContext, o: BulkRotateOptions): Promise<number> {
  const concurrency = parseConcurrency(o.concurrency);
  const { service, users } = await bulkUsers(ctx, { usersFile: o.usersFile, workspace: o.workspace, orgUnit: o.orgUnit });
  if (!users.length) {
    throw usage('no users to rotate: give --user USER, --users-file FILE, or --workspace NAME (with smime.workspaces[].users, or a directory entry to list them from the Directory API)');
  }
  const line = (r: AliasRotation) => `${r.user}${r.alias && r.alias !== r.user ? ` (alias ${r.alias})` : ''}: ${r.status === 'failed' ? 'FAILED: ' : ''}${r.message}`;
  const run = await interruptible(ctx, (signal) =>
    rotateUsers(service, users, {
      concurrency,
      signal,
      onUser: (rows) => {
        if (o.json) return;
        for (const r of rows) {
          if (r.status === 'failed') ctx.err(`${line(r)}\n`);
          else ctx.out(line(r));
        }
      },
    }),
  );
  const count = (s: AliasRotation['status']) => run.rows.filter((r) => r.status === s).length;
  const failed = count('failed');
  if (o.json) ctx.out(JSON.stringify({ aliases: run.rows, changed: count('changed'), kept: count('kept'), failed, interrupted: run.interrupted }, null, 2));
  else ctx.out(`${count('changed')} changed, ${count('kept')} unchanged, ${count('none')} without certificates, ${failed} failed`);
  if (run.interrupted) {
    ctx.err(`interrupted: ${run.done} of ${users.length} users done; run the same command again to finish\n`);
    return EXIT_INTERRUPTED;
  }
  return failed ? 1 : 0;
}
