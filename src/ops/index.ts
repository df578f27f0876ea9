/**
 * ops: the operations HTTP listener (/metrics, /healthz, /readyz) and the health checks behind
 * it. Off the SMTP path; see docs/observability.md.
 */
export { Health, type HealthDeps, type HealthReason, type HealthReport } from './health.js';
export { startOpsListener, type OpsListener, type OpsRoutes } from './ops-listener.js';
