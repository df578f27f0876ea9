/**
 * Work on a list with bounded concurrency, handing the results on in the list's order: results
 * that complete early wait for those before them. At most `window` items are started ahead of
 * the first one not yet handed on, so one slow item holds back a bounded number of results
 * (and, for the S/MIME commands, of unwritten audit lines).
 *
 * When `signal` aborts (Ctrl-C), nothing new starts; the items in flight finish and everything
 * done is handed on, in order: what was started is a prefix of the list, so the output and the
 * audit log end at one line, and a rerun starts over harmlessly.
 */

export interface OrderedOptions {
  concurrency: number;
  /** Items started ahead of the first not yet handed on (default: 4 × concurrency). */
  window?: number;
  signal?: AbortSignal | undefined;
}

export interface OrderedRun {
  /** Items handed on (all started ones, unless the work or `emit` threw). */
  done: number;
  /** Stopped by the signal before the end of the list. */
  interrupted: boolean;
}

/**
 * Run `work` on every item, at most `concurrency` at once, and `emit` each result in list order
 * (one `emit` at a time). A `work` or `emit` that throws stops the run: what was started
 * finishes, the results before the failed one are handed on, and the error is thrown.
 */
export async function runOrdered<T, R>(
  items: readonly T[],
  options: OrderedOptions,
  work: (item: T, index: number) => Promise<R>,
  emit: (result: R, index: number) => void | Promise<void>,
): Promise<OrderedRun> {
  const concurrency = Math.max(1, Math.floor(options.concurrency));
  const window = Math.max(concurrency, options.window ?? concurrency * 4);
  const results = new Map<number, R>();
  let next = 0; // the next item to start
  let emitted = 0; // items handed on
  let running = 0;
  /** A `work` that threw (the results from its index on are not handed on), or an `emit` that did. */
  let workFailure: { index: number; error: unknown } | undefined;
  let emitFailure: { error: unknown } | undefined;
  let emitting: Promise<void> = Promise.resolve();
  let wake: () => void = () => undefined;

  const stopped = () => workFailure !== undefined || emitFailure !== undefined || options.signal?.aborted === true;

  const flush = (): Promise<void> =>
    (emitting = emitting.then(async () => {
      while (!emitFailure && results.has(emitted)) {
        const r = results.get(emitted)!;
        results.delete(emitted);
        try {
          await emit(r, emitted);
        } catch (error) {
          emitFailure = { error };
          return;
        }
        emitted++;
      }
    }));

  await new Promise<void>((resolve) => {
    const pump = () => {
      while (!stopped() && next < items.length && running < concurrency && next < emitted + window) {
        const i = next++;
        running++;
        Promise.resolve()
          .then(() => work(items[i]!, i))
          .then(
            (r) => void results.set(i, r),
            (error: unknown) => {
              if (!workFailure || i < workFailure.index) workFailure = { index: i, error };
            },
          )
          .finally(() => {
            running--;
            void flush().then(() => wake());
          });
      }
      if (running === 0 && (stopped() || next >= items.length)) resolve();
    };
    wake = pump;
    options.signal?.addEventListener('abort', () => wake(), { once: true });
    pump();
  });
  await flush();
  if (emitFailure) throw emitFailure.error;
  if (workFailure) throw workFailure.error;
  return { done: emitted, interrupted: emitted < items.length };
}
