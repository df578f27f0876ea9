import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/errors.js';
import { EXAMPLE_CONFIG_PATH, configErrorReport, loadConfig, parseConfig } from '../src/config/index.js';
import type { ConfigInput } from '../src/config/index.js';

const base = (): ConfigInput => ({
  workspaces: [{ name: 'clinic', domains: ['clinic.example'], transport: 'outbox', outbox: { dir: './var/outbox' } }],
  queue: { dir: './var/spool' },
});

function errorOf(doc: unknown): ConfigError {
  try {
    parseConfig(doc);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  it('loads the shipped example (a dry run on 127.0.0.1:2525) with documented defaults', () => {
    const c = loadConfig(EXAMPLE_CONFIG_PATH);
    expect(c.listen).toHaveLength(1);
    expect(c.listen[0]).toMatchObject({ host: '127.0.0.1', port: 2525, tls: { mode: 'none', minVersion: 'TLSv1.2' }, fromPolicy: 'rewrite' });
    expect(c.listen[0]!.allow.map((n) => n.text)).toEqual(['127.0.0.0/8', '::1/128']);
    expect(c.workspaces[0]!.transport).toBe('outbox');
    // no scopes: the relay asks for gmail.send, else https://mail.google.com/
    expect(c.workspaces[0]!.gmailApi!.scopes).toBeUndefined();
    expect(c.workspaces[0]!.recipientCheck).toBe('none');
    expect(c.limits).toMatchObject({ maxMessageSize: 25 * 1024 * 1024, maxRecipients: 100 });
    expect(c.queue.maxAge).toBe(5 * 86_400_000);
    expect(Object.isFrozen(c.workspaces[0]!.domains)).toBe(true);
  });

  it('http: the operations listener on 127.0.0.1:9325 for loopback by default; null turns it off; a bad entry names its key', () => {
    const example = loadConfig(EXAMPLE_CONFIG_PATH);
    for (const c of [example, parseConfig(base())]) {
      expect(c.http!.listen).toHaveLength(1);
      expect(c.http!.listen[0]).toMatchObject({ host: '127.0.0.1', port: 9325 });
      expect(c.http!.listen[0]!.allow.map((n) => n.text)).toEqual(['127.0.0.0/8', '::1/128']);
      expect(c.queue.traceRetention).toBe(30 * 86_400_000);
    }
    expect(parseConfig({ ...base(), http: null }).http).toBeNull();
    expect(parseConfig({ ...base(), http: { listen: [{ host: '0.0.0.0', allow: ['10.1.0.0/16'] }] } }).http!.listen[0]).toMatchObject({ host: '0.0.0.0', port: 9325 });
    expect(errorOf({ ...base(), http: { listen: [{ port: 9325 }, { port: 9325 }] } }).message).toMatch(/^http\.listen\[1\]\.port: 127\.0\.0\.1:9325 is listed twice/);
    expect(errorOf({ ...base(), http: { listen: [{ allow: ['everyone'] }] } }).message).toMatch(/^http\.listen\[0\]\.allow\[0\]: "everyone" is not a network/);
    expect(errorOf({ ...base(), http: { port: 9325 } }).message).toMatch(/^http: unknown key port/);
    expect(errorOf({ ...base(), queue: { dir: 'x', traceRetention: '1h' } }).message).toMatch(/^queue\.traceRetention: "1h" is too short: use at least 86400s/);
  });

  it('the default retry schedule reaches the maximum age', () => {
    const c = parseConfig(base());
    expect(c.queue.retrySchedule.at(-1)).toBe(4 * 3_600_000);
    expect(c.queue.retrySchedule.reduce((a, b) => a + b, 0)).toBeLessThan(c.queue.maxAge);
  });

  it('names the key path of a bad value', () => {
    const doc = base();
    doc.workspaces[0]!.domains = ['clinic.example', 'not a domain'];
    expect(errorOf(doc).message).toMatch(/^workspaces\[0\]\.domains\[1\]: "not a domain" is not a domain name/);
  });

  it('says which section a transport needs', () => {
    const doc = base();
    doc.workspaces[0]!.transport = 'gmail-api';
    expect(errorOf(doc).message).toMatch(/^workspaces\[0\]\.gmailApi: transport is "gmail-api", so this workspace needs a "gmailApi" section/);
  });

  it('refuses two workspaces sharing a domain', () => {
    const doc = base();
    doc.workspaces.push({ name: 'b', domains: ['CLINIC.example'], transport: 'outbox', outbox: { dir: 'x' } });
    expect(errorOf(doc).message).toMatch(/workspaces\[1\]\.domains\[0\]: domain clinic\.example already belongs to workspace "clinic"/);
  });

  it('stores IDN domains as A-labels', () => {
    const doc = base();
    doc.workspaces[0]!.domains = ['Bücher.example'];
    expect(parseConfig(doc).workspaces[0]!.domains).toEqual(['xn--bcher-kva.example']);
  });

  it('refuses unknown keys, naming them', () => {
    const err = errorOf({ ...base(), queu: {} });
    expect(configErrorReport(err)).toMatch(/unknown key queu/);
  });

  it('refuses a sender mapping that leaves the workspace', () => {
    const doc = base();
    doc.workspaces[0]!.senders = { map: { 'scanner@printer.local': 'scans@gmail.com' } };
    expect(errorOf(doc).message).toMatch(/workspaces\[0\]\.senders\.map\["scanner@printer\.local"\]: maps to scans@gmail\.com/);
  });

  it('refuses a bad retry schedule and duration with the form to use', () => {
    expect(errorOf({ ...base(), queue: { dir: 'x', retrySchedule: '1m,soon' } }).message).toMatch(/queue\.retrySchedule: use delays/);
    expect(errorOf({ ...base(), queue: { dir: 'x', maxAge: 'forever' } }).message).toMatch(/queue\.maxAge: "forever" is not a duration/);
  });

  it('refuses a backoff so short the relay would retry in a loop, and says a bare number is milliseconds', () => {
    expect(errorOf({ ...base(), queue: { dir: 'x', rateLimitBackoff: 0 } }).message).toMatch(/queue\.rateLimitBackoff: "0" is too short: use at least 100ms/);
    expect(errorOf({ ...base(), queue: { dir: 'x', heldRetry: 30 } }).message).toMatch(/queue\.heldRetry: .*a bare number is milliseconds: write e\.g\. "30s"/);
    expect(parseConfig({ ...base(), queue: { dir: 'x', rateLimitBackoff: '1s', heldRetry: 5000 } }).queue).toMatchObject({ rateLimitBackoff: 1000, heldRetry: 5000 });
  });

  it('keeps the shutdown bound under the systemd unit\'s stop timeout', () => {
    expect(errorOf({ ...base(), queue: { dir: 'x', shutdownTimeout: '2m' } }).message).toMatch(/queue\.shutdownTimeout: "2m" is too long: use at most 80s \(the systemd unit's TimeoutStopSec/);
    expect(parseConfig({ ...base(), queue: { dir: 'x', shutdownTimeout: '80s' } }).queue.shutdownTimeout).toBe(80_000);
  });

  it('caps recipients at Gmail’s 100', () => {
    expect(errorOf({ ...base(), limits: { maxRecipients: 500 } }).message).toMatch(/^limits\.maxRecipients:/);
  });
});
