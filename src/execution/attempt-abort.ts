/**
 * How one attempt is aborted: by its timeout, a cancel, a lost lease or the worker's
 * shutdown. The handler's `AbortSignal` is made only when the handler reads `ctx.signal`:
 * most handlers never do, and an `AbortController` with its event target was among the
 * largest per-job costs of a short job (about 5% of a worker's CPU at concurrency 50).
 * A signal made after the abort is made aborted, with the same reason.
 */
export class AttemptAbort {
  private controller: AbortController | null = null;
  private listener: ((reason: Error) => void) | null = null;
  private abortedWith: { reason: Error } | null = null;

  get aborted(): boolean {
    return this.abortedWith !== null;
  }

  /** Why it was aborted; undefined while it was not. */
  get reason(): Error | undefined {
    return this.abortedWith?.reason;
  }

  /** The handler's signal, made on first use. */
  get signal(): AbortSignal {
    if (this.controller === null) {
      this.controller = new AbortController();
      if (this.abortedWith) this.controller.abort(this.abortedWith.reason);
    }
    return this.controller.signal;
  }

  /** Aborts with `reason`; later calls change nothing. */
  abort(reason: Error): void {
    if (this.abortedWith) return;
    this.abortedWith = { reason };
    this.controller?.abort(reason);
    const listener = this.listener;
    this.listener = null;
    listener?.(reason);
  }

  /** Calls `listener` once with the reason when aborted (at once if it already is). One listener: the attempt's own. */
  onAbort(listener: (reason: Error) => void): void {
    if (this.abortedWith) listener(this.abortedWith.reason);
    else this.listener = listener;
  }
}
