/**
 * Waiting for another process's lock without blocking the event loop.
 *
 * better-sqlite3 is synchronous: with a busy timeout, SQLite waits for a lock inside the call,
 * and the whole process (handlers, heartbeats, timers) stands still meanwhile; with four worker
 * processes on one file that was up to two seconds at a time. So connections run with no busy
 * timeout: a try that finds the file locked gets SQLITE_BUSY at once, waits on a timer, and
 * tries again, until its deadline. Writes wait in turn in sqlite-write-queue.ts.
 */

/** Resolves on the next turn of the event loop, after pending I/O and timers had theirs. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** SQLITE_BUSY and its extended codes: another connection holds a lock this call needs. */
export function isBusy(error: unknown): boolean {
  const code = sqliteCodeOf(error);
  return code !== null && code.startsWith('SQLITE_BUSY');
}

export function sqliteCodeOf(error: unknown): string | null {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : null;
}

/**
 * The pause before try `attempt + 1`: 1 ms doubling to 8 ms, each drawn from its upper half.
 * The cap is low because a lock is held for milliseconds and a try is cheap (well under a
 * millisecond): a caller that has waited long keeps trying as often as a newcomer, so fresher
 * callers do not starve it; the random half keeps processes that collided once from colliding
 * again in step. (With a 2 ms cap, four busy worker processes drained jobs no faster.)
 */
function pauseMs(attempt: number): number {
  const ceiling = Math.min(8, 2 ** attempt);
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

/**
 * Runs `attempt` until it does not fail with SQLITE_BUSY, waiting on a timer between tries;
 * the last SQLITE_BUSY is thrown once `deadline` (a `performance.now()` time) has passed.
 * `attempt` must be safe to run again after SQLITE_BUSY: a failed try changed nothing.
 */
export async function retryWhileBusy<T>(deadline: number, attempt: () => T): Promise<T> {
  for (let tries = 0; ; tries++) {
    try {
      return attempt();
    } catch (error) {
      if (!isBusy(error) || performance.now() >= deadline) throw error;
    }
    await pause(tries);
  }
}

/** Waits `pauseMs(attempt)` on a timer. */
export function pause(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, pauseMs(attempt)));
}
