/**
 * An in-process mutex per key: `run(key, fn)` runs `fn` when every earlier `run` of the same key
 * has settled (FIFO); different keys run concurrently. Keys with nobody waiting are forgotten.
 */
export class KeyMutex {
  private readonly tails = new Map<string, Promise<void>>();

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(fn);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** Keys currently held or waited for (tests, metrics). */
  get size(): number {
    return this.tails.size;
  }
}
