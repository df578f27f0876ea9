/**
 * The guard of src/smtp/smtp-server-internals.ts: the installed smtp-server has every piece of
 * code the patches and private-field reads rely on, and a version without any one of them is
 * refused at start with an error that names it and the fix. (What the patches do on the wire is
 * asserted by the edge tests: enhanced codes, greetingDelay, shutdown.)
 */
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import { describe, expect, it } from 'vitest';
import { RelayError } from '../src/errors.js';
import {
  assertSmtpServerInternals,
  checkSmtpServerSources,
  installSmtpServerInternals,
  readSmtpServerSources,
  REQUIREMENTS,
  smtpServerInternalsInstalled,
  smtpServerVersion,
} from '../src/smtp/smtp-server-internals.js';

const pieces = REQUIREMENTS.flatMap((r) => r.needs.map((snippet) => ({ source: r.source, snippet, use: r.use })));

/** The installed sources with one piece of code changed. */
function without(source: string, snippet: string) {
  const sources = readSmtpServerSources();
  sources[source] = sources[source]!.split(snippet).join('/* changed */');
  return sources;
}

describe('smtp-server internals guard', () => {
  it('finds every piece it relies on in the installed smtp-server', () => {
    expect(pieces.length).toBeGreaterThanOrEqual(15);
    expect(checkSmtpServerSources(readSmtpServerSources())).toEqual([]);
    expect(() => assertSmtpServerInternals()).not.toThrow();
  });

  it.each(pieces)('notices when $source no longer has `$snippet`', ({ source, snippet, use }) => {
    expect(checkSmtpServerSources(without(source, snippet))).toContain(`${source}: missing \`${snippet}\` (used for ${use})`);
  });

  it('notices a source that is gone altogether', () => {
    const sources = readSmtpServerSources();
    delete sources['SMTPServer.connect'];
    expect(checkSmtpServerSources(sources).filter((p) => p.startsWith('SMTPServer.connect: '))).toHaveLength(2);
  });

  it('refuses to start on a changed smtp-server, naming the version, what changed and the fix', () => {
    const changed = without('SMTPConnection.init', 'setTimeout(() => this.connectionReady(), 100)');
    let err: unknown;
    try {
      installSmtpServerInternals(changed);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RelayError);
    expect((err as RelayError).code).toBe('smtp.internals_changed');
    const text = (err as RelayError).message;
    expect(text).toContain(`smtp-server ${smtpServerVersion()} `);
    expect(text).toContain('SMTPConnection.init: missing `setTimeout(() => this.connectionReady(), 100)` (used for listen[].greetingDelay)');
    expect(text).toContain('npm ci');
    expect(text).toContain('src/smtp/smtp-server-internals.ts');
  });

  it('installs once, and still reads the original code afterwards (a reload starts listeners again)', () => {
    installSmtpServerInternals();
    expect(smtpServerInternalsInstalled()).toBe(true);
    const proto = SMTPConnection.prototype as unknown as { send: unknown; init: unknown; _parseAddressCommand: unknown };
    const patched = { send: proto.send, init: proto.init, parse: proto._parseAddressCommand };
    installSmtpServerInternals();
    expect({ send: proto.send, init: proto.init, parse: proto._parseAddressCommand }).toEqual(patched);
    expect(String(proto.init)).toContain('greetingDelay');
    expect(checkSmtpServerSources(readSmtpServerSources())).toEqual([]);
  });
});
