/**
 * Polling with a deadline: servers say they are ready in their own time, so the harness
 * asks until they answer or the deadline passes, and reports the last reason they gave.
 */

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface WaitOptions {
  readonly timeoutMs: number;
  /** Pause between attempts; short, because readiness usually comes within tens of ms. */
  readonly intervalMs?: number;
  /** Names what is awaited, for the timeout message. */
  readonly what: string;
}

/**
 * Calls `probe` until it resolves, then returns its value. A rejection counts as "not yet";
 * the last one is quoted when the deadline passes. `probe` may throw `StopWaiting` to give
 * up at once (say, the process it waits on has exited).
 */
export async function waitFor<T>(probe: () => Promise<T>, options: WaitOptions): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  const intervalMs = options.intervalMs ?? 25;
  let lastError: unknown;
  for (;;) {
    try {
      return await probe();
    } catch (error) {
      if (error instanceof StopWaiting) throw error;
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const reason = lastError instanceof Error ? lastError.message : String(lastError);
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${options.what}; last error: ${reason}`);
    }
    await sleep(intervalMs);
  }
}

/** Thrown by a probe to end `waitFor` early: waiting longer cannot help. */
export class StopWaiting extends Error {
  override readonly name = 'StopWaiting';
}

/**
 * Blocks the thread for `ms`. Only for `process.on('exit')` handlers, where nothing
 * asynchronous runs any more but a dying server still needs a moment.
 */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
