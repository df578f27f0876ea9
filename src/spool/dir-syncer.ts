/**
 * Group commit of directory fsyncs. `sync(dir)` resolves once an fsync of `dir` that STARTED
 * after the call has completed, so it covers every rename/unlink the caller made before calling.
 * Callers that arrive while an fsync is running share the next round, which starts when the
 * current one ends: under load, one fsync serves many messages.
 */
interface Waiters {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface DirState {
  busy: boolean;
  next: Waiters | null;
}

function waiters(): Waiters {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export class DirSyncer {
  private readonly dirs = new Map<string, DirState>();
  /** fsyncs started so far (for metrics and tests). */
  rounds = 0;

  constructor(private readonly syncDir: (path: string) => Promise<void>) {}

  sync(dir: string): Promise<void> {
    let state = this.dirs.get(dir);
    if (!state) {
      state = { busy: false, next: null };
      this.dirs.set(dir, state);
    }
    state.next ??= waiters();
    const { promise } = state.next;
    if (!state.busy) void this.pump(dir, state);
    return promise;
  }

  private async pump(dir: string, state: DirState): Promise<void> {
    state.busy = true;
    try {
      while (state.next) {
        const round = state.next;
        state.next = null;
        this.rounds++;
        try {
          await this.syncDir(dir);
          round.resolve();
        } catch (err) {
          round.reject(err);
        }
      }
    } finally {
      state.busy = false;
    }
  }
}
