/** Human units in config: durations ("90s", "5m", "4h", "5d") and sizes ("25MB", "512KiB"). */

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** Milliseconds of "5m", "1.5h", "250ms"; a bare number (also written as text, "0") is milliseconds. */
export function parseDuration(text: string | number): number | null {
  if (typeof text === 'number') return Number.isFinite(text) && text >= 0 ? text : null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/i.exec(text);
  if (!m) return null;
  return Math.round(Number(m[1]) * DURATION_UNITS[(m[2] ?? 'ms').toLowerCase()]!);
}

export function formatDuration(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return ms >= 1000 ? `${Math.round(ms / 1000)}s` : `${ms}ms`;
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
};

/** Bytes of "25MB" (binary units: 1 MB = 1 MiB, as Gmail counts), or a bare number. */
export function parseSize(text: string | number): number | null {
  if (typeof text === 'number') return Number.isInteger(text) && text >= 0 ? text : null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  if (!m) return null;
  const unit = SIZE_UNITS[m[2]!.toLowerCase()];
  if (unit === undefined) return null;
  return Math.floor(Number(m[1]) * unit);
}

/**
 * A retry schedule such as "1m,5m,15m,1h*4,4h*10": the delay before each next attempt, the last
 * one repeating until the maximum age. Returns null when any part does not parse.
 */
export function parseSchedule(text: string): number[] | null {
  const delays: number[] = [];
  for (const part of text.split(',')) {
    const m = /^\s*([^*\s]+)\s*(?:\*\s*(\d+))?\s*$/.exec(part);
    if (!m) return null;
    const ms = parseDuration(m[1]!);
    const times = m[2] === undefined ? 1 : Number(m[2]);
    if (ms === null || ms <= 0 || times < 1 || times > 10_000) return null;
    for (let i = 0; i < times; i++) delays.push(ms);
  }
  return delays.length ? delays : null;
}
