/**
 * What is due when, per workspace and sending user: each user's queued ids sorted by next
 * attempt, users grouped by workspace. The scheduler finds the next message of each user in O(1)
 * and walks workspaces, then users, not messages. Fairness lives in the order: `served` moves a
 * workspace (and the user within it) behind the others, so a round of the scheduler starts with
 * whoever waited longest and a backlog in one practice cannot keep another's new message waiting.
 */
export interface DueEntry {
  id: string;
  at: number;
  sender: string;
  /** The quota this send shares with other users (a service account), if any: pacer.ts. */
  pool?: string | undefined;
  /** Recipients Google counts for this message (daily limit). */
  recipients: number;
  /** The workspace the message belongs to (fair share, per-practice limits, disabled practices). */
  workspace: string;
  /** When it entered the queue (accepted, or requeued by an admin): the queue's age (metrics). */
  since: number;
  /** The code of its last failure when that failure held it (an admin must fix something), else null. */
  held: string | null;
}

type Users = Map<string, DueEntry[]>;

export class DueIndex {
  private readonly byId = new Map<string, DueEntry>();
  /** Workspace → user → entries by time; both maps in round-robin order (least recently served first). */
  private readonly byWorkspace = new Map<string, Users>();
  private readonly counts = new Map<string, number>();

  get size(): number {
    return this.byId.size;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  get(id: string): DueEntry | undefined {
    return this.byId.get(id);
  }

  /** Messages of this workspace in the index. */
  countOf(workspace: string): number {
    return this.counts.get(workspace) ?? 0;
  }

  add(entry: DueEntry): void {
    this.remove(entry.id);
    this.byId.set(entry.id, entry);
    let users = this.byWorkspace.get(entry.workspace);
    if (!users) this.byWorkspace.set(entry.workspace, (users = new Map()));
    let list = users.get(entry.sender);
    if (!list) users.set(entry.sender, (list = []));
    this.counts.set(entry.workspace, this.countOf(entry.workspace) + 1);
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
    const users = this.byWorkspace.get(e.workspace)!;
    const list = users.get(e.sender)!;
    const i = list[0] === e ? 0 : list.indexOf(e);
    if (i >= 0) list.splice(i, 1);
    if (!list.length) users.delete(e.sender);
    if (!users.size) this.byWorkspace.delete(e.workspace);
    const n = this.countOf(e.workspace) - 1;
    if (n > 0) this.counts.set(e.workspace, n);
    else this.counts.delete(e.workspace);
    return e;
  }

  /** Every entry, in no particular order. */
  entries(): IterableIterator<DueEntry> {
    return this.byId.values();
  }

  /** Each workspace with the earliest entry of each of its users, least recently served first. */
  *workspaces(): Generator<{ workspace: string; heads: DueEntry[] }> {
    for (const [workspace, users] of this.byWorkspace) yield { workspace, heads: [...users.values()].map((l) => l[0]!) };
  }

  /** The earliest entry of each user. */
  *heads(): Generator<DueEntry> {
    for (const users of this.byWorkspace.values()) for (const list of users.values()) yield list[0]!;
  }

  /** A message of this workspace and user was just started: both go behind the others. */
  served(workspace: string, sender: string): void {
    const users = this.byWorkspace.get(workspace);
    if (!users) return;
    this.byWorkspace.delete(workspace);
    this.byWorkspace.set(workspace, users);
    const list = users.get(sender);
    if (!list) return;
    users.delete(sender);
    users.set(sender, list);
  }

  /** The earliest time anything is due, or Infinity; `skip`: workspaces not delivered now. */
  earliest(skip?: ReadonlySet<string>): number {
    let min = Infinity;
    for (const [workspace, users] of this.byWorkspace) {
      if (skip?.has(workspace)) continue;
      for (const list of users.values()) if (list[0]!.at < min) min = list[0]!.at;
    }
    return min;
  }
}
