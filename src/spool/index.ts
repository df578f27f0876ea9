export type { MessageMeta, SpoolState } from './types.js';
export { Spool, type SpoolOptions } from './spool.js';
export { SpoolWriter } from './writer.js';
export { SpoolError } from './spool-error.js';
export { createQueueId, isValidQueueId, QUEUE_ID_PATTERN } from './queue-id.js';
export { probeHardLinks, type RecoveryCounts } from './recover.js';
export { SentLog, sentKey, type SentLogOptions } from './sent-log.js';
export { DIR_MODE, SPOOL_STATES, SpoolLayout } from './layout.js';
export { nodeSpoolFs, readMetaSync, readStoredMessage, readStoredMessageSync, readStoredRange, streamStoredMessage, type SpoolFs, type SpoolFileHandle } from './spool-fs.js';
