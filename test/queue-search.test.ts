/** `queue find` matches what an admin pastes from Email Log Search, however it is written. */
import { describe, expect, it } from 'vitest';
import { matchesQuery, type QueueQuery } from '../src/control/queue-search.js';
import { makeMeta } from './support/spool-meta.js';

const meta = makeMeta('01HV3K9XZ7QW4M', {
  sender: 'alice@clinic.example',
  mailFrom: 'scanner@printer.local',
  recipients: ['bob@xn--mller-kva.example'],
  headerRecipients: ['bob@xn--mller-kva.example'],
  bcc: [],
  messageId: 'find-me@clinic.example',
});

describe('queue find', () => {
  it.each<[QueueQuery, string]>([
    [{ recipient: '<bob@xn--mller-kva.example>' }, 'angle brackets'],
    [{ recipient: 'Bob Smith <BOB@xn--mller-kva.example>' }, 'a display name'],
    [{ recipient: 'bob@müller.example' }, 'the IDN domain as a U-label'],
    [{ recipient: 'bob@xn--mller-kva.example.' }, 'a trailing dot'],
    [{ sender: 'Alice <alice@clinic.example>' }, 'the sender with a display name'],
    [{ sender: 'scanner@printer.local' }, 'the envelope sender'],
    [{ messageId: '<FIND-ME@clinic.example>' }, 'a Message-ID in <>'],
  ])('matches %o (%s)', (query) => {
    expect(matchesQuery(meta, query)).toBe(true);
  });

  it('does not match another address, or an empty query', () => {
    expect(matchesQuery(meta, { recipient: 'bob@mueller.example' })).toBe(false);
    expect(matchesQuery(meta, { sender: 'alice@clinic.example', recipient: 'carol@clinic.example' })).toBe(false);
    expect(matchesQuery(meta, {})).toBe(false);
  });
});
