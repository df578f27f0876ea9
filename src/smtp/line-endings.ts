/**
 * Bare line endings in DATA. RFC 5321 allows CR and LF in a message only as CRLF. A receiver
 * that accepts a bare LF (or CR) before "." as the end of the data can be made to see two
 * messages where the relay saw one (SMTP smuggling, CVE-2023-51764), so by default a message
 * with either is refused (listen[].allowBareLineEndings opts out for a known device).
 * smtp-server itself only ends DATA at <CR><LF>.<CR><LF>; this checks the content it passes on.
 */
export class LineEndingCheck {
  private pendingCR = false;
  private lastByte = -1;
  private found: 'LF' | 'CR' | null = null;

  /** The first bare line ending seen so far, if any (a CR at the very end counts). */
  get bare(): 'LF' | 'CR' | null {
    return this.found ?? (this.pendingCR ? 'CR' : null);
  }

  /** Feed the next chunk of message content (chunks may split a CRLF anywhere). */
  write(chunk: Buffer): void {
    if (this.found || chunk.length === 0) return;
    if (this.pendingCR) {
      this.pendingCR = false;
      if (chunk[0] !== 0x0a) {
        this.found = 'CR';
        return;
      }
    }
    for (let i = chunk.indexOf(0x0a); i >= 0; i = chunk.indexOf(0x0a, i + 1)) {
      if ((i > 0 ? chunk[i - 1] : this.lastByte) !== 0x0d) {
        this.found = 'LF';
        return;
      }
    }
    for (let i = chunk.indexOf(0x0d); i >= 0; i = chunk.indexOf(0x0d, i + 1)) {
      if (i + 1 === chunk.length) this.pendingCR = true;
      else if (chunk[i + 1] !== 0x0a) {
        this.found = 'CR';
        return;
      }
    }
    this.lastByte = chunk[chunk.length - 1]!;
  }
}
