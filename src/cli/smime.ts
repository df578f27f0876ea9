/**
 * `workspace-relay smime …`: S/MIME certificates of users' send-as aliases through the Gmail API,
 * with the `smime:` config section's own service account (never the relay's). Passwords come from
 * --password-file, WORKSPACE_RELAY_P12_PASSWORD or a prompt; never from argv, never printed. The
 * commands over many users (import, report, rotate without --user) are in smime-bulk.ts.
 */
import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { auditActor } from '../audit/index.js';
import { systemClock, type Clock } from '../clock.js';
import { configErrorReport, readSecretFile } from '../config/index.js';
import { ConfigError, errorText } from '../errors.js';
import { CliExit, EXIT_CONFIG, EXIT_FAILURE, EXIT_USAGE, usageExits } from './exit-codes.js';
import { CONCURRENCY_HELP, registerBulkImport, registerBulkReport, rotateMany, usage, type BulkRotateOptions, type Interrupt, type SetupOptions, type SmimeCliContext } from './smime-bulk.js';
import {
  SlowDownGate,
  SmimeService,
  createGmailSmimeApi,
  entriesTable,
  entryJson,
  entryText,
  isoDay,
  parseSmimeConfig,
  smimeConfigWarnings,
  smimeCredentials,
  type P12Upload,
  type SmimeConfig,
  type WorkspaceUsers,
} from '../smime/index.js';

export const P12_PASSWORD_ENV = 'WORKSPACE_RELAY_P12_PASSWORD';

export interface SmimeCliDeps {
  /** The parsed config document (YAML/JSON) named by --config / WORKSPACE_RELAY_CONFIG. */
  loadDoc(): unknown;
  stdout(text: string): void;
  stderr(text: string): void;
  /** Ask for a password without echoing it (see ttyPrompt). */
  prompt(question: string): Promise<string>;
  /** Set the process exit code (only called with non-zero codes). */
  exit(code: number): void;
  /** Environment: the password variable and SUDO_USER for the audit log. Default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  clock?: Clock;
  /** Watch for Ctrl-C during a bulk command (default: SIGINT and SIGTERM of this process). */
  interrupt?: () => Interrupt;
  /** The users of an S/MIME workspace (default: its smime.workspaces[].users list, and the Directory's with a directory entry). */
  workspaceUsers?: WorkspaceUsers;
}

interface Common {
  user: string;
  alias?: string;
  workspace?: string;
  json?: boolean;
}
interface WithP12 extends Common {
  p12?: string;
  passwordFile?: string;
  password?: string;
  setDefault?: boolean;
}

export function registerSmimeCommands(program: Command, deps: SmimeCliDeps): Command {
  const env = deps.env ?? process.env;
  const clock = deps.clock ?? systemClock;
  const now = () => new Date(clock.now());
  const out = (s: string) => deps.stdout(s.endsWith('\n') ? s : `${s}\n`);
  const warn = (s: string) => deps.stderr(`warning: ${s}\n`);

  function setup(workspace?: string, options: SetupOptions = {}): { doc: unknown; config: SmimeConfig; service: SmimeService } {
    const doc = deps.loadDoc();
    const config = parseSmimeConfig(doc);
    smimeConfigWarnings(doc, config).forEach(warn);
    const credentialsFor = smimeCredentials(config);
    // (a relay workspace the smime section does not list: each user's key by domain)
    const keyOf = options.keyByDomainUnlessListed && !config.workspaces.some((w) => w.name === workspace) ? undefined : workspace;
    const slowDown = new SlowDownGate({ clock });
    const api = createGmailSmimeApi({ credentialsFor: (u) => credentialsFor(u, keyOf), apiRootUrl: config.apiRootUrl, slowDown });
    return { doc, config, service: new SmimeService({ api, auditLog: config.auditLog, actor: auditActor(env), clock }) };
  }

  const run =
    <A extends unknown[]>(fn: (...args: A) => Promise<number | void>) =>
    async (...args: A): Promise<void> => {
      try {
        const code = await fn(...args);
        if (code) deps.exit(code);
      } catch (err) {
        if (err instanceof CliExit) {
          if (err.message) deps.stderr(`${err.message}\n`);
          if (err.exitCode) deps.exit(err.exitCode);
          return;
        }
        // The smime: section, its key files, or the config file itself (unreadable, not YAML).
        if (err instanceof ConfigError && (err.path.startsWith('smime') || err.path === '')) {
          deps.stderr(`config error: ${configErrorReport(err)}\n`);
          deps.exit(EXIT_CONFIG);
          return;
        }
        deps.stderr(`error: ${err instanceof ConfigError ? configErrorReport(err) : errorText(err)}\n`);
        deps.exit(EXIT_FAILURE);
      }
    };

  async function p12From(opts: Pick<WithP12, 'password' | 'passwordFile'>, file: string): Promise<P12Upload> {
    if (opts.password !== undefined) {
      throw new CliExit(
        EXIT_USAGE,
        `error: passwords are never taken from the command line (shell history, ps): use --password-file FILE, ${P12_PASSWORD_ENV} or the prompt`,
      );
    }
    let data: Buffer;
    try {
      data = readFileSync(file);
    } catch (err) {
      throw new Error(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? errorText(err)}`);
    }
    let password: string;
    if (opts.passwordFile) password = readSecretFile(opts.passwordFile, '--password-file').replace(/\r?\n$/, '');
    else if (env[P12_PASSWORD_ENV] !== undefined) password = env[P12_PASSWORD_ENV];
    else password = await deps.prompt(`Password for ${file}: `);
    return { data, password, label: file };
  }

  const target = (o: Common) => ({ user: o.user.trim().toLowerCase(), alias: (o.alias ?? o.user).trim().toLowerCase() });
  const withTarget = (c: Command) =>
    c
      .requiredOption('--user <email>', 'the user (impersonated through domain-wide delegation)')
      .option('--alias <email>', 'the send-as address (default: the user\'s own address)')
      .option('--workspace <name>', 'the smime.workspaces entry whose key to use (default: by domain)');
  const withPassword = (c: Command) =>
    c
      .option('--password-file <file>', `file holding the .p12 password (mode 0600); or set ${P12_PASSWORD_ENV}; else you are asked`)
      .addOption(new Option('--password <password>').hideHelp());

  // Usage mistakes exit 64; the subcommands inherit it.
  const smime = usageExits(
    program.command('smime').description('S/MIME certificates of send-as addresses, through the Gmail API (config section "smime")'),
  );

  withTarget(smime.command('list').description('list the certificates of an alias'))
    .option('--json', 'JSON output')
    .action(
      run(async (o: Common) => {
        const { user, alias } = target(o);
        const entries = await setup(o.workspace).service.list(user, alias);
        out(o.json ? JSON.stringify(entries.map((e) => entryJson(e, now())), null, 2) : entriesTable(entries, now()));
      }),
    );

  withTarget(smime.command('get').argument('<id>', 'certificate id (from smime list)').description('show one certificate'))
    .option('--json', 'JSON output')
    .action(
      run(async (id: string, o: Common) => {
        const { user, alias } = target(o);
        const e = await setup(o.workspace).service.get(user, alias, id);
        out(o.json ? JSON.stringify(entryJson(e, now()), null, 2) : entryText(e, now()));
      }),
    );

  withTarget(smime.command('delete').argument('<id>', 'certificate id').description('delete a certificate (audited)'))
    .option('--json', 'JSON output')
    .action(
      run(async (id: string, o: Common) => {
        const { user, alias } = target(o);
        await setup(o.workspace).service.delete(user, alias, id);
        out(o.json ? JSON.stringify({ deleted: id, user, alias }, null, 2) : `deleted certificate ${id} of ${alias}`);
      }),
    );

  withTarget(smime.command('set-default').argument('<id>', 'certificate id').description('make a certificate the default (audited)'))
    .option('--json', 'JSON output')
    .action(
      run(async (id: string, o: Common) => {
        const { user, alias } = target(o);
        await setup(o.workspace).service.setDefault(user, alias, id);
        out(o.json ? JSON.stringify({ defaultId: id, user, alias }, null, 2) : `certificate ${id} is now the default of ${alias}`);
      }),
    );

  withPassword(withTarget(smime.command('insert').description('check a .p12 locally, then upload it (audited)')))
    .requiredOption('--p12 <file>', 'PKCS#12 file with the private key and certificate (and chain)')
    .option('--set-default', 'make it the default certificate of the alias')
    .option('--json', 'JSON output')
    .action(
      run(async (o: WithP12) => {
        const { user, alias } = target(o);
        const p12 = await p12From(o, o.p12!);
        const r = await setup(o.workspace).service.insert(user, alias, p12, { setDefault: o.setDefault === true });
        r.warnings.forEach(warn);
        if (o.json) out(JSON.stringify({ ...entryJson(r.entry, now()), isDefault: r.entry.isDefault || r.madeDefault }, null, 2));
        else {
          const exp = r.entry.expiration ? `, expires ${isoDay(r.entry.expiration)}` : '';
          out(`uploaded certificate ${r.entry.id} for ${alias} (issuer ${r.entry.issuerCn ?? '-'}${exp})${r.madeDefault ? ', now the default' : ''}`);
        }
      }),
    );

  const ctx: SmimeCliContext = { setup, run, out, err: (t) => deps.stderr(t), warn, now, interrupt: deps.interrupt, workspaceUsers: deps.workspaceUsers };
  registerBulkImport(smime, ctx);

  withPassword(
    smime
      .command('rotate')
      .description(
        'upload a new certificate if the default is missing or expired; make the furthest-expiring one the default. ' +
          'Without --user, for every send-as address of every user in --users-file or --workspace (no upload: import first)',
      )
      .option('--user <email>', 'the user (impersonated through domain-wide delegation)')
      .option('--alias <email>', "with --user: the send-as address (default: the user's own address)")
      .option(
        '--workspace <name>',
        "with --user: the smime.workspaces entry whose key to use (default: by domain); without: that workspace's users (its users list and, with a directory entry, every active user the Directory API lists)",
      )
      .option('--org-unit <path>', "with --workspace: only the Directory's users in this organisational unit and those below it (e.g. /Clinicians)")
      .option('--users-file <file>', 'without --user: the users to rotate, one address per line (# comments)')
      .option('--concurrency <n>', `without --user: ${CONCURRENCY_HELP}`),
  )
    .option('--p12 <file>', 'with --user: the new PKCS#12 file, uploaded only when needed')
    .option('--json', 'JSON output')
    .action(
      run(async (o: Omit<WithP12, 'user'> & BulkRotateOptions & { user?: string }) => {
        if (o.user === undefined) {
          if (o.p12 || o.alias) throw usage('--p12 and --alias need --user: rotating many users picks among the certificates already uploaded (upload them with smime import)');
          if (!o.usersFile && !o.workspace) throw usage('say whose certificates to rotate: --user USER, or --users-file FILE or --workspace NAME for many users');
          return rotateMany(ctx, o);
        }
        if (o.usersFile || o.orgUnit !== undefined) throw usage(`give --user or ${o.usersFile ? '--users-file' : '--workspace with --org-unit'}, not both`);
        const { user, alias } = target({ ...o, user: o.user });
        const { service } = setup(o.workspace);
        const p12 = o.p12 ? await p12From(o, o.p12) : undefined;
        const r = await service.rotate(user, alias, p12);
        r.warnings.forEach(warn);
        if (o.json) {
          out(JSON.stringify({ alias: r.alias, uploaded: r.uploaded ? entryJson(r.uploaded, now()) : null, previousDefaultId: r.previousDefaultId ?? null, defaultId: r.defaultId, changed: r.changed, notes: r.notes }, null, 2));
          return;
        }
        r.notes.forEach((n) => out(n));
        if (r.uploaded) out(`uploaded certificate ${r.uploaded.id} for ${alias}`);
        out(r.changed ? `certificate ${r.defaultId} is now the default of ${alias} (was ${r.previousDefaultId ?? 'none'})` : `certificate ${r.defaultId} stays the default of ${alias}`);
      }),
    );

  registerBulkReport(smime, ctx);

  return smime;
}
