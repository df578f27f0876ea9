/** Turning raw runs into the numbers the benchmark prints: rates, percentiles, medians, tables. */
import type { RunResult } from './scenario.js';

export interface Metrics {
  accepted: number;
  failed: number;
  /** Accepted messages per second over the load (first connect → last 250). */
  acceptRate: number;
  p50: number;
  p99: number;
  /** Delivered per second, first connect → last delivery at the fake. */
  endToEndRate: number;
  /** Seconds from the last 250 to the last delivery. */
  drainAfterAccept: number;
  delivered: number;
  peakRssMiB: number;
  idleRssMiB: number;
  /** Relay CPU (user + system) per message accepted and delivered, ms. */
  cpuPerMessage: number;
  /** The same for the load generator and the fake Gmail (they share the machine). */
  loadCpuPerMessage: number;
  gmailCpuPerMessage: number;
  /** Directory fsyncs per accepted message while accepting (2 if every commit paid its own). */
  dirSyncsPerMessage: number;
  /** Most sends of one user in any 1 s window (pacing check). */
  maxUserSendsPerSecond: number;
  /** The busiest user's average pace, sends/s (first → last of its sends). */
  busiestUserPace: number;
  /** Sends per second while draining: first send (or the release of held mail) to the last. */
  drainRate: number;
  /** The slowest user's average pace, sends/s (users with at least two sends). */
  slowestUserPace: number;
  /** Most sends of one user in any 60 s window (Google's per-user quota: 150). */
  maxUserSendsPerMinute: number;
  /** Sends the fake answered 429 (over a quota), and their share of all send attempts. */
  rateLimited: number;
  rateLimitedShare: number;
  /** The fake enforced Google's quotas. */
  quota: boolean;
  drained: boolean;
}

export function percentile(values: readonly number[], p: number): number {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

const MiB = 1024 * 1024;

export function metrics(r: RunResult): Metrics {
  const { load, gmail } = r;
  const loadSeconds = (load.endedAt - load.startedAt) / 1000;
  const lastAt = gmail.lastAt ?? load.endedAt;
  // Held mail released (preload): the pace is what went after the release.
  const from = r.releasedAt;
  const drained = Object.values(gmail.perUser).map((l) => (from === undefined ? l : l.filter((t) => t >= from)));
  const drainStart = from ?? gmail.firstAt ?? load.startedAt;
  const drainCount = drained.reduce((a, l) => a + l.length, 0);
  return {
    accepted: load.accepted,
    failed: Object.values(load.failed).reduce((a, b) => a + b, 0),
    acceptRate: load.accepted / loadSeconds,
    p50: percentile(load.latencies, 50),
    p99: percentile(load.latencies, 99),
    endToEndRate: gmail.delivered / ((lastAt - load.startedAt) / 1000),
    drainAfterAccept: Math.max(0, (lastAt - load.endedAt) / 1000),
    delivered: gmail.delivered,
    peakRssMiB: r.peakRss / MiB,
    idleRssMiB: r.idleRss / MiB,
    cpuPerMessage: (r.relayCpu * 1000) / Math.max(1, load.accepted),
    loadCpuPerMessage: (r.loadCpu * 1000) / Math.max(1, load.accepted),
    gmailCpuPerMessage: (r.gmailCpu * 1000) / Math.max(1, load.accepted),
    dirSyncsPerMessage: r.dirSyncs / Math.max(1, load.accepted),
    maxUserSendsPerSecond: maxInWindow(Object.values(gmail.perUser), 1000),
    busiestUserPace: busiestPace(drained),
    drainRate: (from === undefined ? drainCount - 1 : drainCount) / ((lastAt - drainStart) / 1000),
    slowestUserPace: slowestPace(drained),
    maxUserSendsPerMinute: maxInWindow(Object.values(gmail.perUser), 60_000),
    rateLimited: gmail.rateLimited,
    rateLimitedShare: gmail.rateLimited / Math.max(1, gmail.delivered + gmail.rateLimited),
    quota: gmail.quota,
    drained: r.drained,
  };
}

/** The largest number of timestamps of one list inside any window of `ms`. */
export function maxInWindow(lists: readonly (readonly number[])[], ms: number): number {
  let best = 0;
  for (const list of lists) {
    const t = [...list].sort((a, b) => a - b);
    let lo = 0;
    for (let hi = 0; hi < t.length; hi++) {
      while (t[hi]! - t[lo]! >= ms) lo++;
      best = Math.max(best, hi - lo + 1);
    }
  }
  return best;
}

/** Average sends/s of the user with the most sends, from its first send to its last. */
export function busiestPace(lists: readonly (readonly number[])[]): number {
  const busiest = [...lists].sort((a, b) => b.length - a.length)[0];
  return busiest ? paceOf(busiest) : NaN;
}

/** Average sends/s of one user's sends, first to last. */
function paceOf(list: readonly number[]): number {
  if (list.length < 2) return NaN;
  const span = (Math.max(...list) - Math.min(...list)) / 1000;
  return span > 0 ? (list.length - 1) / span : NaN;
}

/** The lowest average pace of any user with at least two sends. */
export function slowestPace(lists: readonly (readonly number[])[]): number {
  const paces = lists.map(paceOf).filter(Number.isFinite);
  return paces.length ? Math.min(...paces) : NaN;
}

/** The median of each field over several runs (failures summed, drained only if all drained). */
export function medianMetrics(all: readonly Metrics[]): Metrics {
  const m = (k: keyof Metrics) => median(all.map((x) => Number(x[k])));
  return {
    accepted: m('accepted'),
    failed: all.reduce((a, x) => a + x.failed, 0),
    acceptRate: m('acceptRate'),
    p50: m('p50'),
    p99: m('p99'),
    endToEndRate: m('endToEndRate'),
    drainAfterAccept: m('drainAfterAccept'),
    delivered: m('delivered'),
    peakRssMiB: m('peakRssMiB'),
    idleRssMiB: m('idleRssMiB'),
    cpuPerMessage: m('cpuPerMessage'),
    loadCpuPerMessage: m('loadCpuPerMessage'),
    gmailCpuPerMessage: m('gmailCpuPerMessage'),
    dirSyncsPerMessage: m('dirSyncsPerMessage'),
    maxUserSendsPerSecond: Math.max(...all.map((x) => x.maxUserSendsPerSecond)),
    busiestUserPace: m('busiestUserPace'),
    slowestUserPace: m('slowestUserPace'),
    drainRate: m('drainRate'),
    maxUserSendsPerMinute: Math.max(...all.map((x) => x.maxUserSendsPerMinute)),
    rateLimited: all.reduce((a, x) => a + x.rateLimited, 0),
    rateLimitedShare: m('rateLimitedShare'),
    quota: all.every((x) => x.quota),
    drained: all.every((x) => x.drained),
  };
}

const f0 = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : '–');
const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '–');
const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '–');

export function describe(label: string, m: Metrics, runs: readonly Metrics[]): string {
  const spread = (k: keyof Metrics, f: (n: number) => string) =>
    runs.length > 1 ? ` (runs: ${runs.map((r) => f(Number(r[k]))).join(', ')})` : '';
  return [
    `== ${label}${runs.length > 1 ? ` — median of ${runs.length} runs` : ''}`,
    `accepted            ${m.accepted}${m.failed ? `  (failed: ${m.failed}, all runs)` : ''}`,
    `accept rate         ${f0(m.acceptRate)} msgs/s${spread('acceptRate', f0)}`,
    `accept latency      p50 ${f1(m.p50)} ms, p99 ${f1(m.p99)} ms (end of DATA → 250)`,
    `end-to-end rate     ${(m.endToEndRate < 10 ? f2 : f0)(m.endToEndRate)} msgs/s (first connect → last delivery at the fake)${spread('endToEndRate', f0)}`,
    `drain after accept  ${f1(m.drainAfterAccept)} s${m.drained ? '' : '  (not drained: accept-only, or the timeout)'}`,
    `relay RSS           idle ${f0(m.idleRssMiB)} MiB, peak ${f0(m.peakRssMiB)} MiB (VmHWM)${spread('peakRssMiB', f0)}`,
    `relay CPU           ${f1(m.cpuPerMessage)} ms per message (user + system, accept and delivery)${spread('cpuPerMessage', f1)}; ` +
      `load generator ${f1(m.loadCpuPerMessage)}, fake Gmail ${f1(m.gmailCpuPerMessage)}`,
    `directory fsyncs    ${f2(m.dirSyncsPerMessage)} per accepted message while accepting (data/ and queue/; 2 if none were shared)${spread('dirSyncsPerMessage', f2)}`,
    `busiest user        at most ${m.maxUserSendsPerSecond} sends in any 1 s window, ${f1(m.busiestUserPace)} sends/s on average`,
    ...(m.quota
      ? [
          `drain               ${f2(m.drainRate)} sends/s in all; ` +
            `slowest user ${f2(m.slowestUserPace)} sends/s, busiest ${f2(m.busiestUserPace)} (first → last of its sends); ` +
            `at most ${m.maxUserSendsPerMinute} sends of one user in any 60 s (Google: 150)`,
          `Google's quotas     ${m.rateLimited} sends answered 429 (${(m.rateLimitedShare * 100).toFixed(2)}% of send attempts); delivered ${m.delivered} of ${m.accepted} accepted`,
        ]
      : []),
  ].join('\n');
}

export function tableRow(label: string, m: Metrics): string {
  return `| ${label} | ${f0(m.acceptRate)} | ${f1(m.p50)} / ${f1(m.p99)} | ${f0(m.endToEndRate)} | ${f0(m.peakRssMiB)} |`;
}

export const TABLE_HEAD = '| run | accept msgs/s | latency p50 / p99 ms | end-to-end msgs/s | relay peak RSS MiB |\n|---|---|---|---|---|';
