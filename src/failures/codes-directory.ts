/**
 * The code table's rows for the Admin SDK Directory API (recipientCheck: directory; smime report
 * --workspace), spread into FAILURE_CODES (codes.ts). The matcher is directory-api.ts.
 */
import { OTHER, clientIdOf, type CodeRow } from './code-row.js';
import { DELEGATION_PAGE, type FixFacts } from './context.js';

const directoryScopes = (f: FixFacts) => (f.scopes ?? []).join(',') || 'the admin.directory.user.readonly and admin.directory.group.readonly scopes';

export const DIRECTORY_CODES = {
  'directory.delegation': {
    kind: 'held', from: ['directory'], notice: OTHER,
    means: 'the directory client ID is not authorised for the directory scopes (unauthorized_client, access_denied)',
    fix: (f) => `authorise client ID ${clientIdOf(f)} for ${directoryScopes(f)} in ${DELEGATION_PAGE} (changes can take up to 24 h to propagate)`,
  },
  'directory.admin_user': {
    kind: 'held', from: ['directory'], notice: OTHER,
    means: 'the admin user the directory key acts as does not exist or is suspended (invalid_grant)',
    fix: (f) => `${f.user ?? 'directory.adminUser'} must be an active admin of the workspace: set directory.adminUser to one`,
  },
  'directory.key': {
    kind: 'held', from: ['directory'], notice: OTHER,
    means: "Google refused the directory service account's signed token request (invalid_grant, invalid_client, disabled_client)",
    fix: () => 'check directory.serviceAccountKeyFile (create a new JSON key if it was deleted or disabled) and the system clock (NTP)',
  },
  'directory.not_authorized': {
    kind: 'held', from: ['directory'], notice: OTHER,
    means: 'the admin user may not read the directory (403 Not Authorized to access this resource/api), or the domain is not this customer\'s',
    fix: (f) =>
      `give ${f.user ?? 'directory.adminUser'} an admin role with the Admin API privileges Users → Read and Groups → Read (Admin console → Account → Admin roles), and check that the workspace's domains belong to that Google customer`,
  },
  'directory.scope': {
    kind: 'held', from: ['directory'], notice: OTHER,
    means: 'the token lacks a directory scope (403 insufficient scopes)',
    fix: (f) => `ask for and authorise ${directoryScopes(f)} for client ID ${clientIdOf(f)} in ${DELEGATION_PAGE}`,
  },
  'directory.api_disabled': {
    kind: 'held', from: ['directory'], notice: OTHER,
    means: "the Admin SDK API is not enabled in the directory service account's Cloud project",
    fix: () => 'enable it: Google Cloud console → APIs & Services → Library → Admin SDK API → Enable',
  },
  'directory.unavailable': { kind: 'temporary', from: ['directory'], notice: OTHER, means: 'the Directory API (or its token endpoint) answered 5xx, 429 or something unrecognised' },
} as const satisfies Record<string, CodeRow>;
