/**
 * The message `sendmail` reads on stdin, made ready for SMTP: lines end in CRLF (programs write
 * LF; the relay refuses bare line endings), a line with a single dot ends the message unless -i,
 * with -t the recipients are read from To, Cc and Bcc and the Bcc fields are removed (the
 * envelope carries those recipients), and a message without From gets one (-F's full name and
 * the envelope sender). The relay's policy checks everything again; this only prepares.
 */
import addressparser from 'nodemailer/lib/addressparser';

export interface PreparedMessage {
  raw: Buffer;
  /** Recipients found in To, Cc and Bcc (with readHeaders). */
  headerRecipients: string[];
}

/** Read at most `max` bytes of the message from `input`; `tooLarge` when there was more. */
export async function readMessage(input: AsyncIterable<Buffer | string>, max: number): Promise<{ bytes: Buffer; tooLarge: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += b.length;
    if (size > max) return { bytes: Buffer.alloc(0), tooLarge: true };
    chunks.push(b);
  }
  return { bytes: Buffer.concat(chunks, size), tooLarge: false };
}

export function prepareMessage(bytes: Buffer, o: { readHeaders: boolean; ignoreDots: boolean; from: string; fullName: string | undefined }): PreparedMessage {
  // latin1: one char per octet, so 8-bit bodies pass through unchanged.
  let lines = bytes.toString('latin1').split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  if (!o.ignoreDots) {
    const dot = lines.indexOf('.');
    if (dot >= 0) lines = lines.slice(0, dot);
  }
  const blank = lines.indexOf('');
  const header = blank < 0 ? lines : lines.slice(0, blank);
  const body = blank < 0 ? [] : lines.slice(blank);
  const fields = splitFields(header);
  const named = (...names: string[]) => fields.filter((f) => names.includes(f.name));
  const headerRecipients = o.readHeaders
    ? named('to', 'cc', 'bcc')
        .flatMap((f) => addressparser(f.text.slice(f.text.indexOf(':') + 1), { flatten: true }))
        .map((a) => a.address)
        .filter((a): a is string => Boolean(a))
    : [];
  let kept = o.readHeaders ? fields.filter((f) => f.name !== 'bcc') : fields;
  if (!named('from').length) kept = [{ name: 'from', text: `From: ${fromValue(o.from, o.fullName)}` }, ...kept];
  const out = [...kept.map((f) => f.text), ...body].join('\r\n');
  return { raw: Buffer.from(`${out}\r\n`, 'latin1'), headerRecipients };
}

interface Field {
  name: string;
  /** The field with its continuation lines, joined with CRLF. */
  text: string;
}

function splitFields(header: readonly string[]): Field[] {
  const fields: Field[] = [];
  for (const line of header) {
    const last = fields.at(-1);
    if (last && (line.startsWith(' ') || line.startsWith('\t'))) last.text += `\r\n${line}`;
    else fields.push({ name: line.slice(0, Math.max(0, line.indexOf(':'))).trim().toLowerCase(), text: line });
  }
  return fields;
}

/**
 * `"Full Name" <sender>`, or the sender alone; the name quoted (an RFC 2047 word when it is not
 * ASCII), never able to add a line.
 */
function fromValue(sender: string, fullName: string | undefined): string {
  const address = sender || 'MAILER-DAEMON';
  const name = fullName?.replace(/[\r\n\0]/g, ' ').trim();
  if (!name) return address;
  if (/[^\x20-\x7e]/.test(name)) return `=?UTF-8?B?${Buffer.from(name, 'utf8').toString('base64')}?= <${address}>`;
  return `"${name.replace(/["\\]/g, '\\$&')}" <${address}>`;
}
