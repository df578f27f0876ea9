/**
 * The shipped monitoring examples (docs/monitoring: Prometheus alert rules, Grafana dashboard) and
 * the metric list of docs/observability.md only name metrics a running relay exposes on /metrics,
 * and that list names every one of them.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { describe, expect, it } from 'vitest';
import { gmailConfig, relayEnv, startTestRelay } from './support/harness.js';
import { scrape } from './support/prom.js';

const DOCS = path.resolve(import.meta.dirname, '../docs');
/** Metrics of the relay and of the Node process; Prometheus' own (`up`) are not the relay's. */
const NAME = /\b(?:workspace_relay|process|nodejs)_[a-z0-9_]+\b/g;
const HISTOGRAM_PARTS = /_(bucket|sum|count)$/;

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

function namesIn(exprs: string[]): Set<string> {
  return new Set(exprs.flatMap((e) => e.match(NAME) ?? []));
}

/** Every string value under `key` anywhere in a JSON document. */
function stringsAt(value: unknown, key: string): string[] {
  if (Array.isArray(value)) return value.flatMap((v) => stringsAt(v, key));
  if (!value || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => (k === key && typeof v === 'string' ? [v] : stringsAt(v, key)));
}

describe('monitoring examples', () => {
  const env = relayEnv();
  /** Metric families and sample names on /metrics, histogram parts included. */
  let exposed: Set<string>;


  async function exposedNames(): Promise<Set<string>> {
    ({ relay: env.relay } = await startTestRelay(gmailConfig(env.dir, env.google)));
    const m = await scrape(env.relay);
    return new Set([...m.families, ...m.samples.map((s) => s.name)]);
  }
  const missing = (names: Set<string>) => [...names].filter((n) => !exposed.has(n) && !exposed.has(n.replace(HISTOGRAM_PARTS, '')));

  it('alert rules: well-formed, covering held mail, queue age, failures and readiness, naming exposed metrics only', async () => {
    exposed = await exposedNames();
    const doc = YAML.parse(readFileSync(path.join(DOCS, 'monitoring/alerts.yml'), 'utf8')) as { groups: { name: string; rules: Rule[] }[] };
    const rules = doc.groups.flatMap((g) => g.rules);
    for (const r of rules) {
      expect(r.alert, JSON.stringify(r)).toMatch(/^WorkspaceRelay[A-Za-z]+$/);
      expect(r.expr.length).toBeGreaterThan(0);
      expect(['critical', 'warning']).toContain(r.labels?.severity);
      expect(r.annotations?.summary).toBeTruthy();
    }
    const names = namesIn(rules.map((r) => r.expr));
    for (const needed of ['workspace_relay_messages_held', 'workspace_relay_queue_oldest_seconds', 'workspace_relay_messages_dead_total', 'workspace_relay_ready']) {
      expect(names).toContain(needed);
    }
    expect(missing(names)).toEqual([]);
  });

  it('Grafana dashboard: valid JSON naming exposed metrics only', async () => {
    exposed = await exposedNames();
    const dash = JSON.parse(readFileSync(path.join(DOCS, 'monitoring/grafana-dashboard.json'), 'utf8')) as unknown;
    const exprs = [...stringsAt(dash, 'expr'), ...stringsAt(dash, 'definition')];
    expect(exprs.length).toBeGreaterThan(10);
    const names = namesIn(exprs);
    expect(names.size).toBeGreaterThan(10);
    expect(missing(names)).toEqual([]);
  });

  it('docs/observability.md lists every workspace_relay_ metric, and no other', async () => {
    exposed = await exposedNames();
    const text = readFileSync(path.join(DOCS, 'observability.md'), 'utf8');
    const documented = new Set([...text.matchAll(/`(workspace_relay_[a-z_]+)/g)].map((m) => m[1]!));
    const families = [...exposed].filter((n) => n.startsWith('workspace_relay_') && !HISTOGRAM_PARTS.test(n));
    expect(families.filter((f) => !documented.has(f))).toEqual([]);
    expect(missing(documented)).toEqual([]);
  });
});
