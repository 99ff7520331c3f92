/** What one run measured, as the process that measured it reports it. Plain JSON. */
export type RunOutcome = ThroughputOutcome | LatencyOutcome;

export interface ThroughputOutcome {
  readonly kind: 'throughput';
  /** Jobs the run set out to enqueue or process. */
  readonly target: number;
  /** Jobs enqueued, or distinct jobs whose handler ran, before the end or the cap. */
  readonly completed: number;
  /** From the first enqueue (or the worker's start) to the last job done, or to the cap. */
  readonly elapsedMs: number;
  readonly jobsPerSecond: number;
  /** The run hit its time cap: the figures cover the `completed` jobs only. */
  readonly capped: boolean;
  /** Processing runs only: the worker process's memory. */
  readonly workerMemory: WorkerMemory | null;
  /** Processing runs only: handler runs of a job that had already run (should be 0). */
  readonly duplicateRuns: number;
}

export interface WorkerMemory {
  /** The highest `process.memoryUsage().rss` sampled while the worker ran. */
  readonly peakRssBytes: number;
  /** RSS just before the worker started: the runtime, the loaded code and, for an in-process store, the backlog. */
  readonly rssAtStartBytes: number;
  /** The kernel's high-water mark for the whole process life (`process.resourceUsage().maxRSS`), a cross-check. */
  readonly processMaxRssBytes: number;
  readonly samples: number;
}

export interface LatencyOutcome {
  readonly kind: 'latency';
  /** Jobs the run set out to enqueue. */
  readonly target: number;
  readonly sent: number;
  /** Distinct jobs whose handler started. */
  readonly received: number;
  readonly capped: boolean;
  /** What the producer achieved, to show it kept the intended pace. */
  readonly sentPerSecond: number;
  /** Time from just before enqueue to handler start. */
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}
