/**
 * Where time comes from. The worker, client, scheduler and backends read time and
 * wait only through a `Clock`, so tests drive delays, retries, leases and cron with a
 * fake one (`FakeClock` in `jobsmith/testing`) instead of sleeping.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Calls `callback` after `ms`. The returned function cancels it. Real timers never keep the process alive. */
  setTimer(ms: number, callback: () => void): () => void;
}

/** The longest wait `setTimeout` takes (about 24.8 days); beyond it, Node fires after 1 ms. */
const maxTimeoutMs = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(ms, callback) {
    // A longer wait (a 30-day timeout) is taken in steps, or it would fire at once.
    let left = ms;
    let timer: NodeJS.Timeout;
    const arm = () => {
      const step = Math.min(left, maxTimeoutMs);
      left -= step;
      timer = setTimeout(left > 0 ? arm : callback, step);
      timer.unref();
    };
    arm();
    return () => clearTimeout(timer);
  },
};

/** Resolves after `ms` on `clock`; rejects with the signal's reason if it aborts first. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      cancel();
      reject(signal?.reason);
    };
    const cancel = clock.setTimer(ms, () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
