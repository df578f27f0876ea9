/** One attempt with duplicate suppression: what happens around the send (src/queue/attempt.ts). */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Transport } from '../src/delivery/types.js';
import { attemptDelivery } from '../src/queue/index.js';
import { SentLog, nodeSpoolFs, sentKey } from '../src/spool/index.js';
import { LogCapture } from './support/harness.js';
import { makeMeta } from './support/spool-meta.js';
import { SpoolKeys } from '../src/crypt/index.js';
import { messageSource } from '../src/spool/index.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'attempt-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('attemptDelivery', () => {
  it('a send that went out stays delivered when its sent-log record cannot be written (logged as an alert)', async () => {
    // the disk refuses every append to the journal (opened on its temp file, then renamed)
    const sentLog = await SentLog.open(dir, {
      retentionMs: 86_400_000,
      fs: {
        async open(p, flags, mode) {
          const h = await nodeSpoolFs.open(p, flags, mode);
          return { write: async () => Promise.reject(Object.assign(new Error('EIO'), { code: 'EIO' })), sync: () => h.sync(), close: () => h.close() };
        },
      },
    });
    const path = join(dir, 'm.eml');
    writeFileSync(path, 'Subject: x\r\n\r\nbody\r\n');
    let sends = 0;
    const transport: Transport = { name: 'gmail-api', deliver: async () => (sends++, { providerId: 'g1' }) };
    const meta = makeMeta('ATTEMPT0000001', { messageId: 'a@x', sha256: 'ab'.repeat(32) });
    const logs = new LogCapture();
    const outcome = await attemptDelivery({ meta, message: messageSource(path, meta.size, SpoolKeys.none()), transport, sentLog, signal: new AbortController().signal, logger: logs.logger });
    expect(outcome).toEqual({ kind: 'delivered', result: { providerId: 'g1' } });
    expect(sends).toBe(1);
    expect(logs.events('sent_log.write_failed')).toEqual([expect.objectContaining({ queueId: meta.id, alert: true })]);
    // and this process would not send it again
    expect(await sentLog.reached(sentKey(meta.sender, meta.sha256))).toEqual(new Set(meta.recipients));
  });
});
