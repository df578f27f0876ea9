/**
 * The `smime:` section of the config file. S/MIME commands use their own credentials entry: the
 * settings scopes can also add mailbox delegates and send-as aliases, so the relay daemon (which
 * needs only gmail.send) never loads this key.
 */
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { describeIssue, formatKeyPath, defaultAuditFile, smimeConfigSchema, type SmimeConfig, type SmimeWorkspaceConfig } from '../config/index.js';

export {
  DEFAULT_AUDIT_LOG,
  DEFAULT_SMIME_SCOPES,
  GMAIL_SETTINGS_BASIC_SCOPE,
  GMAIL_SETTINGS_SHARING_SCOPE,
  smimeConfigSchema,
  type SmimeConfig,
  type SmimeConfigInput,
  type SmimeWorkspaceConfig,
} from '../config/index.js';

/**
 * Read the `smime:` section of an already-parsed config document (YAML or JSON). Errors name the
 * key path (`smime.workspaces[0].domains[1]: ...`) and what to do.
 */
export function parseSmimeConfig(doc: unknown): SmimeConfig {
  const section = doc && typeof doc === 'object' ? (doc as Record<string, unknown>).smime : undefined;
  if (section === undefined || section === null) {
    throw new ConfigError(
      'smime',
      'is missing: S/MIME commands need their own "smime:" section with serviceAccountKeyFile (a service account authorised for gmail.settings.basic and gmail.settings.sharing); see docs/smime.md',
    );
  }
  // smime.auditLog defaults to the relay's audit.file (itself <queue.dir>/audit.log by default):
  // one audit log for the queue and S/MIME CLIs
  const d = doc as { audit?: { file?: unknown }; queue?: { dir?: unknown } };
  const auditFile = d.audit?.file ?? (typeof d.queue?.dir === 'string' ? defaultAuditFile(d.queue.dir) : undefined);
  const input =
    typeof section === 'object' && typeof auditFile === 'string' && (section as { auditLog?: unknown }).auditLog === undefined
      ? { ...section, auditLog: auditFile }
      : section;
  const result = smimeConfigSchema.safeParse(input);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${formatKeyPath(['smime', ...i.path])}: ${describeIssue(i)}`);
    const first = result.error.issues[0]!;
    throw new ConfigError(formatKeyPath(['smime', ...first.path]), describeIssue(first), {
      cause: new Error(`the smime section is not valid:\n${lines.join('\n')}`),
    });
  }
  return result.data;
}

/** The S/MIME workspace that manages `user`: by name when given, else by domain, else by its users list. */
export function smimeWorkspaceFor(config: SmimeConfig, user: string, name?: string): SmimeWorkspaceConfig | undefined {
  if (name !== undefined) {
    const w = config.workspaces.find((x) => x.name === name);
    if (!w) {
      const known = config.workspaces.map((x) => x.name).join(', ') || 'none';
      throw new ConfigError('smime.workspaces', `no S/MIME workspace named "${name}" (configured: ${known})`);
    }
    return w;
  }
  const addr = user.toLowerCase();
  const domain = addr.slice(addr.lastIndexOf('@') + 1);
  return config.workspaces.find((w) => w.domains.includes(domain)) ?? config.workspaces.find((w) => w.users.includes(addr));
}

/**
 * Least-privilege warnings: the S/MIME key should not be a key the relay daemon also loads
 * (its client ID would then need the settings scopes authorised, and the daemon could use them).
 */
export function smimeConfigWarnings(doc: unknown, config: SmimeConfig): string[] {
  const relay = new Map<string, string>();
  const workspaces = doc && typeof doc === 'object' ? (doc as { workspaces?: unknown }).workspaces : undefined;
  if (Array.isArray(workspaces)) {
    workspaces.forEach((w: unknown, i) => {
      const file = (w as { gmailApi?: { serviceAccountKeyFile?: unknown } } | null)?.gmailApi?.serviceAccountKeyFile;
      if (typeof file === 'string') relay.set(path.resolve(file), `workspaces[${i}].gmailApi.serviceAccountKeyFile`);
    });
  }
  const mine: [string | undefined, string][] = [
    [config.serviceAccountKeyFile, 'smime.serviceAccountKeyFile'],
    ...config.workspaces.map((w, i): [string | undefined, string] => [w.serviceAccountKeyFile, `smime.workspaces[${i}].serviceAccountKeyFile`]),
  ];
  const out: string[] = [];
  for (const [file, key] of mine) {
    const shared = file ? relay.get(path.resolve(file)) : undefined;
    if (shared) {
      out.push(`${key} is the relay's own key (${shared}): use a separate service account for S/MIME, so the relay never holds the settings scopes`);
    }
  }
  return out;
}
