/**
 * The handler runs several worker processes reported, merged into one account: which
 * jobs ran, which ran more than once, and when the last of them first ran. Run times are
 * `wallClockMs()` from each worker's process, comparable on one machine; reports from
 * different processes arrive in any order, so a job's first run is the earliest reported.
 */
export class MergedJobRuns {
  private readonly firstRunAt: Float64Array;
  private distinctCount = 0;
  private duplicateCount = 0;
  private received = 0;
  private outOfRange = 0;
  private signalAllRan: () => void = () => {};
  private readonly allRan: Promise<void>;

  constructor(readonly total: number) {
    this.firstRunAt = new Float64Array(total).fill(Number.NaN);
    this.allRan = new Promise((resolve) => {
      this.signalAllRan = resolve;
    });
    if (total === 0) this.signalAllRan();
  }

  get distinct(): number {
    return this.distinctCount;
  }

  get duplicates(): number {
    return this.duplicateCount;
  }

  /** Every run reported, repeats included, to check against what each worker says it sent. */
  get runsReceived(): number {
    return this.received;
  }

  /** Reported indexes outside 0 … total-1: a system that handed a worker something that is not one of the backlog's jobs. */
  get unknownJobs(): number {
    return this.outOfRange;
  }

  /** Adds one worker's batch: the job indexes whose handler ran, and when. */
  add(indexes: readonly number[], at: readonly number[]): void {
    for (let position = 0; position < indexes.length; position++) {
      const index = indexes[position]!;
      const time = at[position]!;
      this.received++;
      if (!Number.isInteger(index) || index < 0 || index >= this.total) {
        this.outOfRange++;
        continue;
      }
      const first = this.firstRunAt[index]!;
      if (Number.isNaN(first)) {
        this.firstRunAt[index] = time;
        this.distinctCount++;
        if (this.distinctCount === this.total) this.signalAllRan();
      } else {
        this.duplicateCount++;
        if (time < first) this.firstRunAt[index] = time;
      }
    }
  }

  /**
   * Resolves true once every job has run in some worker, or false at `deadline` (a
   * `performance.now()` time) or as soon as `giveUp` settles (a worker that ended early).
   */
  async waitForAll(deadline: number, giveUp: Promise<unknown>): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.allRan.then(() => true),
        giveUp.then(
          () => false,
          () => false,
        ),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), Math.max(0, deadline - performance.now()));
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** When the last job to run first ran (the moment every job had run at least once); null while some have not. */
  lastFirstRunAt(): number | null {
    if (this.distinctCount < this.total) return null;
    let latest = Number.NEGATIVE_INFINITY;
    for (const time of this.firstRunAt) latest = Math.max(latest, time);
    return this.total === 0 ? null : latest;
  }
}
