/**
 * Folding long header lines on the way out must never change an address: a split inside
 * "x@clinic.com" can make other readers see "x@clinic.co" (found in review).
 */
import { describe, expect, it } from 'vitest';
import { applyHeaderChanges } from '../src/delivery/outgoing.js';
import { checkHeaders } from '../src/policy/index.js';
import { parseConfig } from '../src/config/load.js';
import { renderReply } from '../src/replies/index.js';

const ws = parseConfig({
  workspaces: [{ name: 'clinic', domains: ['clinic.com'], transport: 'outbox', outbox: { dir: 'x' } }],
  queue: { dir: 'x' },
}).workspaces[0]!;
const addrs = (n: number) => Array.from({ length: n }, (_, i) => `user${String(i).padStart(3, '0')}@clinic.com`);

describe('long address lines', () => {
  it('refuses at DATA an address list with no whitespace to fold at, naming the field', () => {
    const d = checkHeaders(ws, Buffer.from(`To: ${addrs(60).join(',')}\r\nSubject: x\r\n\r\n`), [], 100);
    expect(d.ok).toBe(false);
    if (!d.ok) {
      expect([renderReply(d.reply).responseCode, renderReply(d.reply).enhanced]).toEqual([554, '5.6.0']);
      expect(renderReply(d.reply).reason).toMatch(/the to header has a run of over 990 octets without a space/);
    }
  });

  it('accepts a long address list with spaces, and folds it at whitespace only: same addresses after folding', () => {
    const header = `To: ${addrs(60).join(', ')}\r\nSubject: ${'s'.repeat(3000)}\r\n\r\n`;
    const d = checkHeaders(ws, Buffer.from(header), [], 100);
    expect(d.ok).toBe(true);
    const out = applyHeaderChanges(Buffer.from(`${header}body\r\n`), { addDate: 'Sun, 22 Nov 2026 08:00:00 +0000' });
    const head = out.toString('latin1').slice(0, out.indexOf('\r\n\r\n') + 4);
    for (const line of head.split('\r\n')) expect(line.length).toBeLessThanOrEqual(998);
    const again = checkHeaders(ws, Buffer.from(head), [], 100);
    expect(again.ok && again.headerRecipients).toEqual(d.ok && d.headerRecipients);
    // the long Subject (no whitespace) is still split hard, as Postfix does
    expect(head).toMatch(/\r\n s{900,}\r\n s+/);
  });

  it('never splits an address field hard, even when asked to fold one that has no whitespace', () => {
    const to = `To: ${addrs(60).join(',')}`;
    const out = applyHeaderChanges(Buffer.from(`${to}\r\n\r\nbody\r\n`), { addDate: 'Sun, 22 Nov 2026 08:00:00 +0000' });
    const first = out.toString('latin1').split(/\r\n(?![ \t])/)[0]!;
    // folded at most at whitespace (after "To:"): unfolding gives back exactly the original line
    expect(first.replace(/\r\n(?=[ \t])/g, '')).toBe(to);
  });
});
