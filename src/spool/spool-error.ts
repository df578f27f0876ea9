import { RelayError } from '../errors.js';

/**
 * A spool refusal that is not a file-system error: the message is not in the state the caller
 * expected (`spool.not_found`, `spool.not_queued` when another worker claimed it first), a bad
 * id or meta (`spool.bad_id`, `spool.bad_meta`), or an unreadable .json (`spool.corrupt_meta`).
 * File-system errors (ENOSPC, EIO, …) are rethrown as they came, errno `code` intact.
 */
export class SpoolError extends RelayError {
  readonly id: string | undefined;
  constructor(code: string, message: string, options: { id?: string; cause?: unknown } = {}) {
    super(code, message, { cause: options.cause });
    this.id = options.id;
  }
}
