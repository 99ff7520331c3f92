import { setTimeout as delay } from 'node:timers/promises';

/**
 * Counts the distinct jobs whose handler ran, so a job run twice is noticed rather
 * than counted twice, and tells when enough of them have run: every job, or the first
 * `awaited` of a larger backlog (the scale workload times only part of its backlog).
 */
export class CompletionTracker {
  /** `performance.now()` when the awaited number of distinct jobs had run; null until then. */
  doneAt: number | null = null;
  private readonly seen: Uint8Array;
  private distinctCount = 0;
  private duplicateCount = 0;
  private signalDone: () => void = () => {};
  private readonly done: Promise<void>;

  constructor(
    readonly total: number,
    readonly awaited: number = total,
  ) {
    if (!(awaited >= 0 && awaited <= total)) throw new Error(`cannot await ${awaited} of ${total} jobs`);
    this.seen = new Uint8Array(total);
    this.done = new Promise((resolve) => {
      this.signalDone = resolve;
    });
    if (awaited === 0) this.markDone();
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
    if (this.distinctCount === this.awaited) this.markDone();
    return true;
  }

  /** Resolves true once the awaited number of jobs has run, or false at `deadline` (a `performance.now()` time). */
  async waitUntilDone(deadline: number): Promise<boolean> {
    const timeout = new AbortController();
    try {
      return await Promise.race([
        this.done.then(() => true),
        delay(Math.max(0, deadline - performance.now()), false, { signal: timeout.signal }),
      ]);
    } finally {
      // Leaves no timer behind to keep the process alive.
      timeout.abort();
    }
  }

  private markDone(): void {
    this.doneAt = performance.now();
    this.signalDone();
  }
}
