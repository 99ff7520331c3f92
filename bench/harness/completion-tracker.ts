import { setTimeout as delay } from 'node:timers/promises';

/**
 * Counts the distinct jobs whose handler ran, so a job run twice is noticed rather
 * than counted twice, and tells when every job has run.
 */
export class CompletionTracker {
  /** `performance.now()` when the most recent new job ran. */
  lastNewAt = 0;
  private readonly seen: Uint8Array;
  private distinctCount = 0;
  private duplicateCount = 0;
  private signalAllSeen: () => void = () => {};
  private readonly allSeen: Promise<void>;

  constructor(readonly total: number) {
    this.seen = new Uint8Array(total);
    this.allSeen = new Promise((resolve) => {
      this.signalAllSeen = resolve;
    });
    if (total === 0) this.signalAllSeen();
  }

  get distinct(): number {
    return this.distinctCount;
  }

  get duplicates(): number {
    return this.duplicateCount;
  }

  /** Records that job `index` ran. Returns false when it had already run. */
  record(index: number): boolean {
    if (!Number.isInteger(index) || index < 0 || index >= this.total) throw new Error(`job index ${index} is outside 0…${this.total - 1}`);
    if (this.seen[index] === 1) {
      this.duplicateCount++;
      return false;
    }
    this.seen[index] = 1;
    this.distinctCount++;
    this.lastNewAt = performance.now();
    if (this.distinctCount === this.total) this.signalAllSeen();
    return true;
  }

  /** Resolves true once every job has run, or false at `deadline` (a `performance.now()` time). */
  async waitForAll(deadline: number): Promise<boolean> {
    const timeout = new AbortController();
    try {
      return await Promise.race([
        this.allSeen.then(() => true),
        delay(Math.max(0, deadline - performance.now()), false, { signal: timeout.signal }),
      ]);
    } finally {
      // Leaves no timer behind to keep the process alive.
      timeout.abort();
    }
  }
}
