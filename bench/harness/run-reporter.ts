import { wallClockMs } from './wall-clock.ts';

/** How often a worker's handler runs go to the parent: late enough to batch, early enough that the parent stops the workers soon after the last job. */
const reportIntervalMs = 10;
/** A batch is sent at once when it reaches this size, keeping each IPC message small. */
const maxBatch = 1000;

/**
 * Collects the handler runs of one worker among several, each with the moment it
 * started, and hands them to `report` in batches. The moments are `wallClockMs()`, so
 * the parent can order runs from different processes on one clock; a message per job
 * would cost the worker more than the no-op jobs it runs.
 */
export class RunReporter {
  private indexes: number[] = [];
  private at: number[] = [];
  private count = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly report: (indexes: readonly number[], at: readonly number[]) => void) {
    this.timer = setInterval(() => this.flush(), reportIntervalMs);
  }

  /** Handler runs recorded so far, every one, repeats included. */
  get runs(): number {
    return this.count;
  }

  record(index: number): void {
    // Read the clock first: it is the moment the handler started.
    this.at.push(wallClockMs());
    this.indexes.push(index);
    this.count++;
    if (this.indexes.length >= maxBatch) this.flush();
  }

  /** Sends what is left and stops the timer; call after the worker has stopped. */
  close(): void {
    clearInterval(this.timer);
    this.flush();
  }

  private flush(): void {
    if (this.indexes.length === 0) return;
    this.report(this.indexes, this.at);
    this.indexes = [];
    this.at = [];
  }
}
