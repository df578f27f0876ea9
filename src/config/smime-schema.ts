/**
 * The `smime:` section of the config file. S/MIME commands use their own credentials entry: the
 * settings scopes can also add mailbox delegates and send-as aliases, so the relay daemon (which
 * needs only gmail.send) never loads this key.
 */
import { z } from 'zod';
import { DEFAULT_API_ROOT_URL, DEFAULT_TOKEN_URL, checkDistinctWorkspaces, domainSchema, emailSchema } from './atoms.js';
import { DEFAULT_DIRECTORY_ROOT_URL, directorySchema } from './directory-schema.js';

export const GMAIL_SETTINGS_BASIC_SCOPE = 'https://www.googleapis.com/auth/gmail.settings.basic';
export const GMAIL_SETTINGS_SHARING_SCOPE = 'https://www.googleapis.com/auth/gmail.settings.sharing';
export const DEFAULT_SMIME_SCOPES: readonly string[] = [GMAIL_SETTINGS_BASIC_SCOPE, GMAIL_SETTINGS_SHARING_SCOPE];
export const DEFAULT_AUDIT_LOG = './var/audit.log';

const smimeWorkspaceSchema = z.strictObject({
  /** Same name as the relay workspace, by convention (it is what `report`/`rotate --workspace` take). */
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/i, 'use letters, digits, - and _'),
  /** Users of these domains are managed with this workspace's key. */
  domains: z.array(domainSchema).default([]),
  /** The users `report`/`rotate --workspace NAME` cover (beside those the directory lists). */
  users: z.array(emailSchema).default([]),
  /**
   * Read-only directory credentials: `report`/`rotate --workspace NAME` list the workspace's users
   * themselves (users.list). Default: the relay workspace of the same name's `directory` entry, if any.
   */
  directory: directorySchema.optional(),
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
    directoryRootUrl: z.url().default(DEFAULT_DIRECTORY_ROOT_URL),
  })
  .superRefine((c, ctx) => {
    if (!c.serviceAccountKeyFile && !c.workspaces.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['serviceAccountKeyFile'],
        message: 'is required: the JSON key of a service account authorised for the gmail.settings scopes',
      });
    }
    c.workspaces.forEach((w, i) => {
      if (!w.serviceAccountKeyFile && !c.serviceAccountKeyFile) {
        ctx.addIssue({
          code: 'custom',
          path: ['workspaces', i, 'serviceAccountKeyFile'],
          message: `workspace "${w.name}" needs a serviceAccountKeyFile (or set one for all under smime.serviceAccountKeyFile)`,
        });
      }
    });
    checkDistinctWorkspaces(c.workspaces, ctx, 'S/MIME workspace');
  });

export type SmimeConfigInput = z.input<typeof smimeConfigSchema>;
export type SmimeConfig = z.output<typeof smimeConfigSchema>;
export type SmimeWorkspaceConfig = SmimeConfig['workspaces'][number];
