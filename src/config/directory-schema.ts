/**
 * The `directory:` entry of a workspace (relay: recipientCheck; S/MIME: report and rotate
 * --workspace): its own service account, acting as an admin user, with read-only Directory API
 * scopes. The sending key should not read the directory, and Directory calls need an admin subject.
 */
import { z } from 'zod';
import { duration, emailSchema } from './atoms.js';

export const DIRECTORY_USER_SCOPE = 'https://www.googleapis.com/auth/admin.directory.user.readonly';
export const DIRECTORY_GROUP_SCOPE = 'https://www.googleapis.com/auth/admin.directory.group.readonly';
export const DIRECTORY_SCOPES: readonly string[] = [DIRECTORY_USER_SCOPE, DIRECTORY_GROUP_SCOPE];
export const DEFAULT_DIRECTORY_ROOT_URL = 'https://admin.googleapis.com/';

export const directorySchema = z.strictObject({
  /** A service account authorised (domain-wide delegation) for the two read-only directory scopes. */
  serviceAccountKeyFile: z.string().min(1),
  /** The admin the key acts as: Directory calls need an admin (a role with Users → Read and Groups → Read). */
  adminUser: emailSchema,
  scopes: z.array(z.url()).min(1).default([...DIRECTORY_SCOPES]),
  /** The Google customer whose directory is read; default: the admin user's own (my_customer). */
  customer: z
    .string()
    .regex(/^(my_customer|C[0-9a-z]+)$/, 'use my_customer or the customer ID (Admin console → Account → Account settings, e.g. C01abc2de)')
    .default('my_customer'),
  /** How long "this address exists" is remembered (a deleted user is accepted, then bounced, this long). */
  foundTtl: duration('1h', 1000),
  /** How long "no such address" is remembered (a new user's mail is refused at most this long). */
  missingTtl: duration('5m', 1000),
  /** Longest wait for one lookup while the client waits at RCPT; after it the recipient is accepted. */
  timeout: duration('5s', 100, { ms: 60_000, why: 'the client waits on it at RCPT' }),
});

export type DirectoryConfig = z.output<typeof directorySchema>;
