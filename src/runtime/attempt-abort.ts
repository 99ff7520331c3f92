/**
 * How one attempt is aborted: by its timeout, a cancel, a lost lease or the worker's
 * shutdown. The handler's `AbortSignal` is made only when the handler reads `ctx.signal`:
 * most handlers never do, and an `AbortController` with its event target was among the
 * largest per-job costs of a short job (about 5% of a worker's CPU at concurrency 50).
 * A signal made after the abort is made aborted, with the same reason.
 */
export class AttemptAbort {
  private controller: AbortController | null = null;
  private listener: ((reason: unknown) => void) | null = null;
  #aborted = false;
  #reason: unknown = undefined;

  get aborted(): boolean {
    return this.#aborted;
  }

  /** Why it was aborted (an Error); undefined while it was not. */
  get reason(): unknown {
    return this.#reason;
  }

  /** The handler's signal, made on first use. */
  get signal(): AbortSignal {
    if (this.controller === null) {
      this.controller = new AbortController();
      if (this.#aborted) this.controller.abort(this.#reason);
    }
    return this.controller.signal;
  }

  /** Aborts with `reason`; later calls change nothing. */
  abort(reason: Error): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.controller?.abort(reason);
    const listener = this.listener;
    this.listener = null;
    listener?.(reason);
  }

  /** Calls `listener` once with the reason when aborted (at once if it already is). One listener: the attempt's own. */
  onAbort(listener: (reason: unknown) => void): void {
    if (this.#aborted) listener(this.#reason);
    else this.listener = listener;
  }
}
