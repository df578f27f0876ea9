/**
 * The code table as Markdown (docs/google-errors.md holds it between markers, and a test keeps
 * the two equal; `workspace-relay explain-error --codes` prints it).
 */
import { FAILURE_CODES, codeRow, type FailureCode, type Source } from './codes.js';

const FROM: Record<Source, string> = {
  token: 'token endpoint',
  'gmail-api': 'Gmail API',
  'gmail-smtp': 'SMTP upstream',
  'smtp-relay': 'SMTP relay service',
  directory: 'Directory API',
  network: 'network',
  'send-as': 'sendAs.list',
  smime: 'S/MIME calls',
  relay: 'the relay',
};

/** Placeholders for the fix templates. */
const PLACEHOLDERS = { user: '<user>', clientId: '<client ID>', scopes: ['<scopes>'] };

export function renderCodeTable(): string {
  const lines = ['| Code | Kind | From | Notices (failure / delay) | What it means | Fix the relay writes |', '|---|---|---|---|---|---|'];
  for (const code of Object.keys(FAILURE_CODES) as FailureCode[]) {
    const row = codeRow(code);
    const fix = row.fix ? cell(row.fix(PLACEHOLDERS)) : row.kind === 'held' ? '(written where the relay raises it)' : '';
    lines.push(`| \`${code}\` | ${row.kind} | ${row.from.map((s) => FROM[s]).join(', ')} | ${row.notice.failure} / ${row.notice.delay} | ${cell(row.means)} | ${fix} |`);
  }
  return `${lines.join('\n')}\n`;
}

/** Markdown table cell text: no raw `<` (a placeholder would read as an HTML tag) or `|`. */
function cell(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\|/g, '\\|');
}
