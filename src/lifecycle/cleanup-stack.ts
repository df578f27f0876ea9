/**
 * What has been opened so far, to be closed in reverse order: start-up pushes a close for each
 * part it opens, and a start that fails half-way unwinds the stack (nothing left open, no thread
 * keeping the process alive); `stop` unwinds the same stack. A reload pushes the undo of each
 * step, unwinds it if a later step fails, and forgets it once every step has held.
 *
 * (Node 20 has no AsyncDisposableStack; this is the part of it the relay needs.)
 */
export class CleanupStack {
  private readonly steps: (() => unknown)[] = [];

  /** Run `fn` at unwind (after everything pushed later). */
  defer(fn: () => unknown): void {
    this.steps.push(fn);
  }

  get size(): number {
    return this.steps.length;
  }

  /**
   * Run every step, last pushed first, each awaited; a step that throws does not stop the others.
   * Resolves with the errors (empty when all went well); the stack is empty afterwards.
   */
  async unwind(): Promise<unknown[]> {
    const errors: unknown[] = [];
    while (this.steps.length) {
      const step = this.steps.pop()!;
      try {
        await step();
      } catch (err) {
        errors.push(err);
      }
    }
    return errors;
  }

  /** Forget every step (what they would undo stays: a reload that went through). */
  dismiss(): void {
    this.steps.length = 0;
  }
}
