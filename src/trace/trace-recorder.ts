/**
 * Writes the message trace as the relay works (RelayEvents → records → trace-files.ts). Nothing
 * is written on the caller's path: a record is encoded and kept in memory, and the records of the
 * last `flushMs` go to the day's file in one write (no fsync, see trace-files.ts), so accepting
 * mail waits for no trace I/O before its 250. If the disk cannot keep up or refuses, records
 * beyond `maxPendingBytes` are dropped (logged once): the trace never holds mail back.
 */
import { systemClock, type Clock, type Timer } from '../clock.js';
import type { DeliveryError } from '../errors.js';
import { errorText } from '../errors.js';
import type { DeliveredResult, FailedOutcome, Rejection, RelayEvents, Removal } from '../events.js';
import type { Logger } from '../log.js';
import type { MessageMeta } from '../spool/index.js';
import { auditDeleted, auditDelivered, auditFailed } from './audit-record.js';
import { acceptedRecord, deliveredRecord, failedRecord, rejectedRecord, type TraceRecord } from './records.js';
import { dayOf, encodeRecord, type TraceFiles } from './trace-files.js';

export interface TraceRecorderOptions {
  files: TraceFiles;
  logger: Logger;
  /** queue.traceRetention, read at each prune (a reload may change it). */
  retentionMs: () => number;
  clock?: Clock;
  flushMs?: number;
  maxPendingBytes?: number;
  pruneEveryMs?: number;
}

export class TraceRecorder implements RelayEvents {
  private pending: { day: string; text: string }[] = [];
  private pendingBytes = 0;
  private flushTimer: Timer | undefined;
  private pruneTimer: Timer | undefined;
  /** The write in progress: writes run one at a time, in order. */
  private writing: Promise<void> = Promise.resolve();
  private dropped = 0;
  private failing = false;
  private closed = false;
  private readonly clock: Clock;

  constructor(private readonly options: TraceRecorderOptions) {
    this.clock = options.clock ?? systemClock;
  }

  private now(): number {
    return this.clock.now();
  }

  /** Prune now and every pruneEveryMs (default hourly). */
  start(): void {
    void this.prune();
    this.pruneTimer = this.clock.setInterval(() => void this.prune(), this.options.pruneEveryMs ?? 3_600_000).unref();
  }

  sessionRefused(): void {}
  authFailed(): void {}

  accepted(meta: MessageMeta, from: { listener: string; device?: string | undefined }): void {
    // at its receivedAt: the time its audit record (built from the meta alone) says it was accepted
    const at = Date.parse(meta.receivedAt);
    this.push(acceptedRecord(meta, from, new Date(Number.isFinite(at) ? at : this.now())));
  }

  rejected(rejection: Rejection): void {
    this.push(rejectedRecord(rejection, new Date(this.now())));
  }

  delivered(meta: MessageMeta, result: DeliveredResult): void {
    const at = new Date(this.now());
    this.push(deliveredRecord(meta, result, at));
    this.push(auditDelivered(meta, result, at));
  }

  attemptFailed(meta: MessageMeta, error: DeliveryError, outcome: FailedOutcome): void {
    const at = new Date(this.now());
    this.push(failedRecord(meta, error, outcome, at));
    if (outcome !== 'failed') return;
    this.push(auditFailed(meta, error, at));
  }

  removed(meta: MessageMeta, removal: Removal): void {
    this.push(auditDeleted(meta, removal, new Date(this.now())));
  }

  /** Write what is pending now; resolves when it is written (or dropped). */
  flush(): Promise<void> {
    this.flushTimer?.cancel();
    this.flushTimer = undefined;
    const batch = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    if (batch.length) this.writing = this.writing.then(() => this.write(batch));
    return this.writing;
  }

  /** Flush and close the file (stop). */
  async close(): Promise<void> {
    this.closed = true;
    this.pruneTimer?.cancel();
    await this.flush();
    await this.options.files.close().catch(() => undefined);
  }

  private push(record: TraceRecord): void {
    if (this.closed) return;
    const text = encodeRecord(record, this.options.files.keys);
    if (this.pendingBytes + text.length > (this.options.maxPendingBytes ?? 4 * 1024 * 1024)) {
      this.dropped += 1;
      return;
    }
    const day = dayOf(Date.parse(record.at));
    const last = this.pending[this.pending.length - 1];
    if (last?.day === day) last.text += text;
    else this.pending.push({ day, text });
    this.pendingBytes += text.length;
    if (!this.flushTimer) {
      this.flushTimer = this.clock.setTimeout(() => void this.flush(), this.options.flushMs ?? 200).unref();
    }
  }

  private async write(batch: { day: string; text: string }[]): Promise<void> {
    try {
      for (const { day, text } of batch) await this.options.files.append(day, text);
      if (this.failing || this.dropped) {
        this.options.logger.info({ event: 'trace.write_resumed', dropped: this.dropped }, 'message trace written again');
      }
      this.failing = false;
      this.dropped = 0;
    } catch (err) {
      if (!this.failing) {
        this.options.logger.warn(
          { event: 'trace.write_failed', dir: this.options.files.dir, err: errorText(err) },
          'could not write the message trace (mail is not affected; `workspace-relay trace` misses these records)',
        );
      }
      this.failing = true;
      await this.options.files.close().catch(() => undefined);
    }
  }

  private async prune(): Promise<void> {
    try {
      const removed = await this.options.files.prune(this.options.retentionMs(), this.now());
      if (removed.length) this.options.logger.info({ event: 'trace.pruned', days: removed }, 'removed message trace files older than queue.traceRetention');
    } catch (err) {
      this.options.logger.warn({ event: 'trace.prune_failed', err: errorText(err) }, 'could not remove old message trace files');
    }
  }
}
