/**
 * Bare line endings in DATA. RFC 5321 allows CR and LF in a message only as CRLF. A receiver
 * that accepts a bare LF (or CR) before "." as the end of the data can be made to see two
 * messages where the relay saw one (SMTP smuggling, CVE-2023-51764), so by default a message
 * with either is refused (LineEndingCheck). A listener with allowBareLineEndings (a known,
 * broken device) instead turns every bare LF and bare CR into CRLF as the message is received
 * (LineEndingNormalizer): the spool then holds, the policy reads and Gmail receives the same
 * lines, so `To: …\n\nBcc: x` cannot be one header section to the relay and another to Gmail.
 * smtp-server itself only ends DATA at <CR><LF>.<CR><LF>; this looks at the content it passes on.
 */

const CR = 0x0d;
const LF = 0x0a;
const CRLF = Buffer.from('\r\n');
export class LineEndingCheck {
  private pendingCR = false;
  private lastByte = -1;
  private found: 'LF' | 'CR' | null = null;

  /** The first bare line ending seen so far, if any (a CR at the very end counts). */
  get bare(): 'LF' | 'CR' | null {
    return this.found ?? (this.pendingCR ? 'CR' : null);
  }

  /** Feed the next chunk of message content (chunks may split a CRLF anywhere); stored as it is. */
  write(chunk: Buffer): Buffer {
    this.look(chunk);
    return chunk;
  }

  end(): Buffer {
    return Buffer.alloc(0);
  }

  private look(chunk: Buffer): void {
    if (this.found || chunk.length === 0) return;
    if (this.pendingCR) {
      this.pendingCR = false;
      if (chunk[0] !== LF) {
        this.found = 'CR';
        return;
      }
    }
    for (let i = chunk.indexOf(LF); i >= 0; i = chunk.indexOf(LF, i + 1)) {
      if ((i > 0 ? chunk[i - 1] : this.lastByte) !== CR) {
        this.found = 'LF';
        return;
      }
    }
    for (let i = chunk.indexOf(CR); i >= 0; i = chunk.indexOf(CR, i + 1)) {
      if (i + 1 === chunk.length) this.pendingCR = true;
      else if (chunk[i + 1] !== LF) {
        this.found = 'CR';
        return;
      }
    }
    this.lastByte = chunk[chunk.length - 1]!;
  }
}

/** Every bare LF and bare CR becomes CRLF; CRLF stays. Chunks may split a CRLF anywhere. */
export class LineEndingNormalizer {
  private pendingCR = false;
  /** Line endings changed so far. */
  changed = 0;

  /** The chunk with its line endings normalised (a CR at its very end is held for the next). */
  write(chunk: Buffer): Buffer {
    const parts: Buffer[] = [];
    let start = 0;
    let i = 0;
    if (this.pendingCR && chunk.length > 0) {
      this.pendingCR = false;
      parts.push(CRLF);
      if (chunk[0] === LF) start = i = 1;
      else this.changed++;
    }
    for (; i < chunk.length; i++) {
      const b = chunk[i];
      if (b === CR) {
        if (i + 1 === chunk.length) {
          parts.push(chunk.subarray(start, i));
          this.pendingCR = true;
          start = i + 1;
        } else if (chunk[i + 1] === LF) i++;
        else {
          parts.push(chunk.subarray(start, i), CRLF);
          this.changed++;
          start = i + 1;
        }
      } else if (b === LF) {
        parts.push(chunk.subarray(start, i), CRLF);
        this.changed++;
        start = i + 1;
      }
    }
    if (parts.length === 0) return chunk;
    parts.push(chunk.subarray(start));
    return Buffer.concat(parts);
  }

  /** What is left at the end of the message (a held CR, as CRLF). */
  end(): Buffer {
    if (!this.pendingCR) return Buffer.alloc(0);
    this.pendingCR = false;
    this.changed++;
    return CRLF;
  }
}
