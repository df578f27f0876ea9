/**
 * What is due when, per sending user: each user's queued ids sorted by next attempt, so the
 * scheduler finds the next message of each user in O(1) and walks users, not messages.
 */
export interface DueEntry {
  id: string;
  at: number;
  sender: string;
  /** The quota this send shares with other users (a service account), if any: pacer.ts. */
  pool?: string | undefined;
  /** Recipients Google counts for this message (daily limit). */
  recipients: number;
  workspace: string;
  /** When it entered the queue (accepted, or requeued by an admin): the queue's age (metrics). */
  since: number;
  /** The code of its last failure when that failure held it (an admin must fix something), else null. */
  held: string | null;
}

export class DueIndex {
  private readonly byId = new Map<string, DueEntry>();
  private readonly byUser = new Map<string, DueEntry[]>();

  get size(): number {
    return this.byId.size;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  get(id: string): DueEntry | undefined {
    return this.byId.get(id);
  }

  add(entry: DueEntry): void {
    this.remove(entry.id);
    this.byId.set(entry.id, entry);
    let list = this.byUser.get(entry.sender);
    if (!list) this.byUser.set(entry.sender, (list = []));
    // binary search for the first entry due later (stable: equal times keep arrival order)
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (list[mid]!.at <= entry.at) lo = mid + 1;
      else hi = mid;
    }
    list.splice(lo, 0, entry);
  }

  remove(id: string): DueEntry | undefined {
    const e = this.byId.get(id);
    if (!e) return undefined;
    this.byId.delete(id);
    const list = this.byUser.get(e.sender)!;
    const i = list.indexOf(e);
    if (i >= 0) list.splice(i, 1);
    if (!list.length) this.byUser.delete(e.sender);
    return e;
  }

  /** Every entry, in no particular order. */
  entries(): IterableIterator<DueEntry> {
    return this.byId.values();
  }

  /** The earliest entry of each user. */
  *heads(): Generator<DueEntry> {
    for (const list of this.byUser.values()) yield list[0]!;
  }

  /** The earliest time anything is due, or Infinity. */
  earliest(): number {
    let min = Infinity;
    for (const e of this.heads()) if (e.at < min) min = e.at;
    return min;
  }
}
