/** A MessageMeta for spool tests: a scanner's message to one doctor, with fields to override. */
import type { MessageMeta } from '../../src/spool/index.js';

export function makeMeta(id: string, over: Partial<MessageMeta> = {}): MessageMeta {
  return {
    version: 1,
    id,
    receivedAt: '2024-05-01T10:00:00.000Z',
    workspace: 'clinic',
    mailFrom: 'scanner@clinic.example',
    sender: 'frontdesk@clinic.example',
    recipients: ['dr.a@clinic.example'],
    bcc: [],
    headerRecipients: ['dr.a@clinic.example'],
    messageId: null,
    from: null,
    size: 0,
    sha256: '',
    client: { address: '127.0.0.1' },
    attempts: 0,
    nextAttemptAt: '2024-05-01T10:00:00.000Z',
    lastError: null,
    ...over,
  };
}
