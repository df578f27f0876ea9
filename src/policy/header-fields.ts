/**
 * Splits a raw header section into fields. Lines end in CRLF or a bare LF (devices send both);
 * a continuation line (starting with a space or tab) is unfolded into the field before it. A
 * bare CR is refused: mail systems disagree on whether it ends a line, so a field could hide
 * behind it.
 */
export type HeaderField = {
  /** The field name, lowercased, reduced to letters, digits and hyphens (so `To :`, `TO` and a
   * name with invisible characters around it all read as `to`: more fields get checked, never fewer). */
  key: string;
  /** The unfolded value (after the first colon), decoded as UTF-8. */
  value: string;
};

export type HeaderFieldsResult = { ok: true; fields: HeaderField[] } | { ok: false; reason: string };

const decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: false });

/** Parse the header section: the bytes up to the first empty line (or all of them). */
export function splitHeaderFields(block: Buffer | Uint8Array): HeaderFieldsResult {
  const text = decoder.decode(block);
  const lines = text.split('\n');
  const raw: string[] = [];
  for (let line of lines) {
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line.includes('\r')) return { ok: false, reason: 'the header section has a bare CR: header lines must end in CRLF' };
    if (line === '') break; // end of the header section
    const last = raw.length - 1;
    if ((line.startsWith(' ') || line.startsWith('\t')) && last >= 0) raw[last] += line;
    else raw.push(line);
  }
  const fields: HeaderField[] = [];
  for (const line of raw) {
    const colon = line.indexOf(':');
    if (colon < 0) continue; // not a header field (an mbox "From " line, or junk): names no one
    const key = line
      .slice(0, colon)
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, '');
    fields.push({ key, value: line.slice(colon + 1) });
  }
  return { ok: true, fields };
}
