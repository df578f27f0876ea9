/**
 * The benchmark's messages: a small unique header (so every message has its own Message-ID and
 * sha256, as real mail does; duplicate suppression must not kick in) and one shared body of
 * printable 76-character lines, padded so the whole message is `size` bytes. The body buffer is
 * shared by every message: the load generator holds one copy whatever the count.
 */
export interface MessageFactory {
  /** Bytes to send after DATA's 354 (header + body + the terminating dot line). */
  parts(i: number, from: string, to: string): [Buffer, Buffer];
}

const LINE = `${'The quick brown fox jumps over the lazy dog 0123456789 '.repeat(2).slice(0, 76)}\r\n`;

export function messageFactory(size: number, runId: string): MessageFactory {
  const headerEstimate = 260;
  const bodyBytes = Math.max(size - headerEstimate, LINE.length);
  const lines = Math.floor(bodyBytes / LINE.length);
  const rest = bodyBytes - lines * LINE.length;
  const body = Buffer.from(`${LINE.repeat(lines)}${rest > 2 ? `${'x'.repeat(rest - 2)}\r\n` : ''}.\r\n`, 'latin1');
  const date = new Date().toUTCString().replace('GMT', '+0000');
  return {
    parts(i, from, to) {
      const header =
        `From: <${from}>\r\nTo: <${to}>\r\nSubject: bench ${i}\r\nDate: ${date}\r\n` +
        `Message-ID: <${i}.${runId}@bench.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n`;
      return [Buffer.from(header, 'latin1'), body];
    },
  };
}
