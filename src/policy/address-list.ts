/**
 * A strict reader of RFC 5322 address lists (To, Cc, Bcc and the Resent- fields). Fails
 * closed: where a lenient parser would guess (junk after an address, a name with no address,
 * an unclosed bracket, an encoded-word standing in for an address, whitespace inside an
 * address), this one refuses and says why. Display names and comments are skipped and never
 * reported (they may hold a patient's name); only address text is.
 */
import { checkMailbox, hasEncodedWord, type Mailbox } from './address.js';

export type AddressListResult = { ok: true; mailboxes: Mailbox[] } | { ok: false; reason: string; near?: string };

type Token =
  | { t: 'ws'; comment: boolean } // whitespace and comments
  | { t: 'atom'; v: string }
  | { t: 'quoted'; v: string }
  | { t: 'special'; v: string };

const SPECIALS = new Set(['<', '>', '[', ']', ':', ';', '@', '\\', ',']);
const isWsp = (c: string) => c === ' ' || c === '\t';
const isControl = (code: number) => (code < 0x20 && code !== 0x09) || code === 0x7f;

class ListError extends Error {
  constructor(
    readonly reason: string,
    readonly near?: string,
  ) {
    super(reason);
  }
}

/**
 * Closing delimiter of a quoted string or comment starting at `start`. RFC 5322 comments nest,
 * but readers disagree (nodemailer's addressparser ends a comment at the first ")", and reads
 * what follows as addresses): a comment inside a comment is refused, like a quote inside one.
 */
function scanDelimited(s: string, start: number, open: string, close: string): { end: number; text: string } {
  let depth = 1;
  let text = '';
  for (let i = start + 1; i < s.length; i++) {
    const c = s[i]!;
    if (isControl(c.charCodeAt(0))) throw new ListError('a control character in the field');
    // Mail programs disagree on a quote or an escape inside a comment (one reads a quoted string
    // that hides or reveals an address): refuse rather than guess which reading Gmail makes.
    if (open === '(' && (c === '"' || c === '\\')) throw new ListError('a quote or backslash inside a comment');
    if (open === '(' && c === '(') throw new ListError('a comment inside a comment');
    if (c === '\\') {
      i++;
      if (i >= s.length) break;
      if (isControl(s.charCodeAt(i))) throw new ListError('a control character in the field');
      text += s[i];
      continue;
    }
    if (open !== close && c === open) depth++;
    else if (c === close && --depth === 0) return { end: i + 1, text };
    text += c;
  }
  throw new ListError(open === '"' ? 'a quoted string is not closed' : 'a comment is not closed');
}

function tokenize(s: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (isControl(c.charCodeAt(0))) throw new ListError('a control character in the field');
    if (isWsp(c) || c === '(') {
      i = c === '(' ? scanDelimited(s, i, '(', ')').end : i + 1;
      const last = out[out.length - 1];
      if (last?.t === 'ws') last.comment ||= c === '(';
      else out.push({ t: 'ws', comment: c === '(' });
    } else if (c === '"') {
      const q = scanDelimited(s, i, '"', '"');
      out.push({ t: 'quoted', v: q.text });
      i = q.end;
    } else if (c === ')') {
      throw new ListError('a ) without its (');
    } else if (SPECIALS.has(c)) {
      out.push({ t: 'special', v: c });
      i++;
    } else {
      let j = i;
      while (j < s.length && !isWsp(s[j]!) && !SPECIALS.has(s[j]!) && !'()"'.includes(s[j]!) && !isControl(s.charCodeAt(j))) j++;
      out.push({ t: 'atom', v: s.slice(i, j) });
      i = j;
    }
  }
  return out;
}

class Reader {
  i = 0;
  readonly mailboxes: Mailbox[] = [];
  constructor(private readonly tokens: Token[]) {}

  peek(): Token | undefined {
    return this.tokens[this.i];
  }
  isSpecial(v: string): boolean {
    const t = this.peek();
    return t?.t === 'special' && t.v === v;
  }
  /** Skip whitespace and comments; true when a comment was skipped. */
  skipWs(): boolean {
    let comment = false;
    for (let t = this.peek(); t?.t === 'ws'; t = this.peek()) {
      comment ||= t.comment;
      this.i++;
    }
    return comment;
  }

  /** Where an entry begins: a comment with no address after it is refused, because lenient
   * readers take an address written in it (`To: (x@outside.example)`) as the recipient. */
  entryStart(): void {
    const comment = this.skipWs();
    const t = this.peek();
    if (comment && (!t || (t.t === 'special' && (t.v === ',' || t.v === ';')))) {
      throw new ListError('a comment stands where an address belongs');
    }
  }

  list(): void {
    for (;;) {
      this.entryStart();
      if (!this.peek()) return;
      if (this.isSpecial(',')) {
        this.i++; // an empty list element (obs-addr-list) names no one
        continue;
      }
      this.address(false);
      this.skipWs();
      if (!this.peek()) return;
      if (!this.isSpecial(',')) throw this.junk();
      this.i++;
    }
  }

  junk(): ListError {
    const t = this.peek();
    const what = t?.t === 'special' ? `"${t.v}"` : 'text';
    return new ListError(`unexpected ${what} after an address (separate addresses with commas; put display names before <address>)`);
  }

  /** One mailbox, or (outside a group) a group of mailboxes. */
  address(inGroup: boolean): void {
    const words: Token[] = [];
    let lastWasWord = false;
    for (let t = this.peek(); t && (t.t === 'ws' || t.t === 'atom' || t.t === 'quoted'); t = this.peek()) {
      if (t.t !== 'ws') words.push(t);
      lastWasWord = t.t !== 'ws';
      this.i++;
    }
    const t = this.peek();
    if (!t || (t.t === 'special' && (t.v === ',' || (inGroup && t.v === ';')))) {
      if (words.some((w) => w.t === 'atom' && hasEncodedWord(w.v))) {
        throw new ListError('an encoded-word (=?...?=) stands where an address belongs: addresses must be written plainly');
      }
      throw new ListError('an entry has a display name but no address (put display names that contain commas in double quotes)');
    }
    if (t.t !== 'special') throw new ListError('unexpected text'); // unreachable: words consume the rest
    if (t.v === ':') {
      if (inGroup) throw new ListError('a group inside a group');
      if (words.length === 0) throw new ListError('a group without a name');
      this.i++;
      this.group();
      return;
    }
    if (t.v === '<') {
      this.i++;
      this.angleAddr();
      return;
    }
    if (t.v === '@') {
      if (words.length !== 1 || !lastWasWord) {
        throw new ListError('text before an address that is not in <...>, or whitespace inside an address (write Name <user@domain>)');
      }
      const local = words[0]!;
      this.i++;
      const domain = this.peek();
      if (domain?.t === 'special' && domain.v === '[') throw new ListError('IP address literals are not accepted', this.quoteText(local, '[...]'));
      if (domain?.t !== 'atom') throw new ListError('the address has no domain right after the @', this.quoteText(local, ''));
      this.i++;
      this.accept(this.quoteText(local, domain.v));
      return;
    }
    throw new ListError(`unexpected "${t.v}"`);
  }

  quoteText(local: Token, domain: string): string {
    const l = local.t === 'quoted' ? `"${local.v}"` : local.t === 'atom' ? local.v : '';
    return `${l}@${domain}`;
  }

  accept(spec: string): void {
    const m = checkMailbox(spec);
    if (!m.ok) throw new ListError(m.reason, spec);
    this.mailboxes.push({ local: m.local, domain: m.domain, address: m.address });
  }

  angleAddr(): void {
    this.skipWs();
    if (this.isSpecial('@')) throw new ListError('source routes (<@host:user@domain>) are not accepted');
    let spec = '';
    for (let t = this.peek(); t && t.t !== 'ws' && !(t.t === 'special' && t.v === '>'); t = this.peek()) {
      if (t.t === 'quoted') throw new ListError('quoted local parts are not accepted', `"${t.v}"${spec}`);
      if (t.t === 'special' && t.v !== '@') {
        throw new ListError(t.v === '[' ? 'IP address literals are not accepted' : `unexpected "${t.v}" inside <...>`, spec);
      }
      spec += t.v;
      this.i++;
    }
    this.skipWs();
    if (!this.isSpecial('>')) {
      throw new ListError(this.peek() ? 'whitespace or text inside <...> after the address' : 'a < is not closed with >', spec);
    }
    this.i++;
    if (spec === '') throw new ListError('an empty address <>');
    this.accept(spec);
  }

  group(): void {
    for (;;) {
      this.entryStart();
      if (!this.peek()) return; // a group left open at the end of the field: its members were read
      if (this.isSpecial(';')) {
        this.i++;
        return;
      }
      if (this.isSpecial(',')) {
        this.i++;
        continue;
      }
      this.address(true);
      this.skipWs();
      if (this.isSpecial(',')) this.i++;
      else if (this.peek() && !this.isSpecial(';')) throw this.junk();
    }
  }
}

/**
 * Read every mailbox of an address-list field value (unfolded, without the field name).
 * Group members are returned like other mailboxes; an empty group names no one.
 */
export function parseAddressList(value: string): AddressListResult {
  try {
    const reader = new Reader(tokenize(value));
    reader.list();
    return { ok: true, mailboxes: reader.mailboxes };
  } catch (err) {
    if (err instanceof ListError) return err.near === undefined ? { ok: false, reason: err.reason } : { ok: false, reason: err.reason, near: err.near };
    throw err;
  }
}
