/**
 * delivery: the transports (Gmail API, Gmail SMTP, the outbox), one interface. The queue
 * dispatches to them; app.ts and `check` build them from the config.
 */
export { buildCredentials, buildTransports, keptTransportFiles, workspaceCredentials } from './build.js';
export { pruneOutbox, resealOutboxes } from './outbox-files.js';
export { PROXY_VARIABLES } from './gmail-api.js';
export { sendSize, transportChanges } from './send-size.js';
export type { DeliveryResult, OutboundMessage, Transport } from './types.js';
