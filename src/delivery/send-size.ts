/**
 * What each way out sends of a message, decided in one place: the Gmail API (and the outbox, its
 * dry run) adds the envelope-only recipients in a Bcc header, the SMTP ways (Gmail SMTP with an
 * app password or XOAUTH2, the SMTP relay service) strip every Bcc (their envelope carries them),
 * and all apply the header changes decided at accept time.
 * `sendSize` is the exact size of what will go out, computed at DATA from the header section, so
 * the listener can refuse (552) what the transport could never send (config/send-limits.ts).
 */
import { honoursEnvelope, type WorkspaceConfig } from '../config/index.js';
import type { MessageMeta } from '../spool/index.js';
import { outgoingHead, rewriteChanges, type OutgoingChanges } from './outgoing.js';

export function transportChanges(transport: WorkspaceConfig['transport'], meta: Pick<MessageMeta, 'bcc' | 'rewrite'>): OutgoingChanges {
  const own: OutgoingChanges = honoursEnvelope(transport) ? { stripBcc: true } : { addBcc: meta.bcc };
  return { ...own, ...rewriteChanges(meta.rewrite) };
}

/**
 * Bytes the workspace's transport will send of a message: `header` is what DATA kept (the header
 * section, or the whole message when it has no empty line), `meta.size` the bytes received.
 */
export function sendSize(workspace: Pick<WorkspaceConfig, 'transport'>, header: Buffer, meta: Pick<MessageMeta, 'bcc' | 'rewrite' | 'size'>): number {
  const { head, bodyOffset } = outgoingHead(header, transportChanges(workspace.transport, meta))!;
  return head.length + meta.size - bodyOffset;
}
