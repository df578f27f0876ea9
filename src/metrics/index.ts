/**
 * metrics: the Prometheus registry and instruments (relay-metrics.ts), fed by RelayEvents and by
 * gauges read from memory at scrape time; served by src/ops. See docs/observability.md.
 */
export { RelayMetrics, type RelayMetricsOptions } from './relay-metrics.js';
export { SpoolCensus, type StoredState } from './spool-census.js';
export type { MetricsSources, QueuedMessage } from './sources.js';
