/**
 * trace: what happened to each message, kept for queue.traceRetention after it left the spool
 * (`workspace-relay trace`). Records (records.ts) are written by TraceRecorder from RelayEvents
 * and read by findTraces; only trace-files.ts touches the files. See docs/observability.md.
 */
export type { AuditRecord } from './audit-record.js';
export type { AcceptedRecord, AttemptOutcome, AttemptRecord, RejectedRecord, TraceRecord } from './records.js';
export { TraceFiles, dayOf, decodeLine, encodeRecord } from './trace-files.js';
export { TraceRecorder, type TraceRecorderOptions } from './trace-recorder.js';
export { findTraces, type MessageTrace, type TraceOutcome, type TraceQuery, type TraceResult } from './trace-query.js';
export { formatTrace, formatTraces } from './format.js';
