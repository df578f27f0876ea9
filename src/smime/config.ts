/**
 * The `smime:` section of the config file. S/MIME commands use their own credentials entry: the
 * settings scopes can also add mailbox delegates and send-as aliases, so the relay daemon (which
 * needs only gmail.send) never loads this key.
 */
import path from 'node:path';
import { domainToASCII } from 'node:url';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { DEFAULT_API_ROOT_URL, DEFAULT_TOKEN_URL } from '../config/schema.js';
import { formatKeyPath } from '../config/load.js';

export const GMAIL_SETTINGS_BASIC_SCOPE = 'https://www.googleapis.com/auth/gmail.settings.basic';
export const GMAIL_SETTINGS_SHARING_SCOPE = 'https://www.googleapis.com/auth/gmail.settings.sharing';
export const DEFAULT_SMIME_SCOPES: readonly string[] = [GMAIL_SETTINGS_BASIC_SCOPE, GMAIL_SETTINGS_SHARING_SCOPE];
export const DEFAULT_AUDIT_LOG = './var/audit.log';

const smimeDomain = z.string().transform((v, ctx) => {
  const ascii = domainToASCII(v.trim().toLowerCase());
  if (!ascii || ascii.endsWith('.') || !ascii.includes('.')) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a domain name such as clinic.example` });
    return z.NEVER;
  }
  return ascii;
});

const smimeEmail = z
  .string()
  .trim()
  .refine((v) => /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(v), { message: 'expected an email address such as user@clinic.example' })
  .transform((v) => v.toLowerCase());

const smimeWorkspaceSchema = z.strictObject({
  /** Same name as the relay workspace, by convention (it is what `report --workspace` takes). */
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/i, 'use letters, digits, - and _'),
  /** Users of these domains are managed with this workspace's key. */
  domains: z.array(smimeDomain).default([]),
  /** The users `report --workspace NAME` covers. */
  users: z.array(smimeEmail).default([]),
  /** This workspace's own service-account key (another Google tenant); default: the top-level one. */
  serviceAccountKeyFile: z.string().min(1).optional(),
  scopes: z.array(z.url()).min(1).optional(),
});

export const smimeConfigSchema = z
  .strictObject({
    /** A service account authorised ONLY for the settings scopes; not the relay's gmail.send key. */
    serviceAccountKeyFile: z.string().min(1).optional(),
    scopes: z.array(z.url()).min(1).default([...DEFAULT_SMIME_SCOPES]),
    workspaces: z.array(smimeWorkspaceSchema).default([]),
    auditLog: z.string().min(1).default(DEFAULT_AUDIT_LOG),
    tokenUrl: z.url().default(DEFAULT_TOKEN_URL),
    apiRootUrl: z.url().default(DEFAULT_API_ROOT_URL),
  })
  .superRefine((c, ctx) => {
    if (!c.serviceAccountKeyFile && !c.workspaces.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['serviceAccountKeyFile'],
        message: 'is required: the JSON key of a service account authorised for the gmail.settings scopes',
      });
    }
    const names = new Set<string>();
    const owner = new Map<string, string>();
    c.workspaces.forEach((w, i) => {
      if (!w.serviceAccountKeyFile && !c.serviceAccountKeyFile) {
        ctx.addIssue({
          code: 'custom',
          path: ['workspaces', i, 'serviceAccountKeyFile'],
          message: `workspace "${w.name}" needs a serviceAccountKeyFile (or set one for all under smime.serviceAccountKeyFile)`,
        });
      }
      if (names.has(w.name)) {
        ctx.addIssue({ code: 'custom', path: ['workspaces', i, 'name'], message: `workspace name "${w.name}" is used twice` });
      }
      names.add(w.name);
      w.domains.forEach((d, j) => {
        const first = owner.get(d);
        if (first !== undefined && first !== w.name) {
          ctx.addIssue({
            code: 'custom',
            path: ['workspaces', i, 'domains', j],
            message: `domain ${d} already belongs to S/MIME workspace "${first}"`,
          });
        }
        owner.set(d, w.name);
      });
    });
  });

export type SmimeConfigInput = z.input<typeof smimeConfigSchema>;
export type SmimeConfig = z.output<typeof smimeConfigSchema>;
export type SmimeWorkspaceConfig = SmimeConfig['workspaces'][number];

function describe(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}`;
  if (issue.code === 'invalid_type' && /received undefined/.test(issue.message)) return `is required (${issue.expected})`;
  return issue.message;
}

/**
 * Read the `smime:` section of an already-parsed config document (YAML or JSON). Errors name the
 * key path (`smime.workspaces[0].domains[1]: ...`) and what to do.
 */
export function parseSmimeConfig(doc: unknown): SmimeConfig {
  const section = doc && typeof doc === 'object' ? (doc as Record<string, unknown>).smime : undefined;
  if (section === undefined || section === null) {
    throw new ConfigError(
      'smime',
      'is missing: S/MIME commands need their own "smime:" section with serviceAccountKeyFile (a service account authorised for gmail.settings.basic and gmail.settings.sharing); see the README, "S/MIME certificates"',
    );
  }
  const result = smimeConfigSchema.safeParse(section);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${formatKeyPath(['smime', ...i.path])}: ${describe(i)}`);
    const first = result.error.issues[0]!;
    throw new ConfigError(formatKeyPath(['smime', ...first.path]), describe(first), {
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
