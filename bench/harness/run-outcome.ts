/** What one run measured, as the process that measured it (or, for runs of several processes, the parent) reports it. Plain JSON. */
export type RunOutcome = ThroughputOutcome | LatencyOutcome | ScaleOutcome | MultiWorkerOutcome | FlowOutcome | DiskOutcome;

/**
 * One run of the disk workload (SQLite): a backlog processed to completion by one worker
 * with the system's default retention, the worker closed, the log folded into the
 * database (`PRAGMA wal_checkpoint(TRUNCATE)`), then the files measured.
 */
export interface DiskOutcome {
  readonly kind: 'disk';
  /** Jobs enqueued and processed. */
  readonly target: number;
  /** The processing run that completed them (its rate is not a figure of this workload). */
  readonly processing: ThroughputOutcome;
  /** Bytes of each file of the store after the checkpoint; 0 for a file that is not there. */
  readonly files: { readonly database: number; readonly wal: number; readonly shm: number; readonly journal: number };
  /** All the files' bytes over `target`. */
  readonly bytesPerJob: number;
  /** The processing hit its cap: fewer jobs completed than the bytes are divided by. */
  readonly capped: boolean;
  readonly duplicateRuns: number;
}

/** One run of the flow-children workload: flows created, then processed by one worker. */
export interface FlowOutcome {
  readonly kind: 'flow';
  readonly flows: number;
  /** Children of the largest flow (every flow but the last has this many). */
  readonly childrenPerFlow: number;
  /** Jobs of the run: every child and every parent. */
  readonly target: number;
  /** Creating every flow, one call per flow, awaited one after another. */
  readonly createMs: number;
  /** Jobs (children and parents) created per second. */
  readonly createJobsPerSecond: number;
  /** Distinct jobs whose handler ran (children, and parents once they had read their children) before the end or the cap. */
  readonly completed: number;
  /** From the worker's start to the last parent's run, or to the cap. */
  readonly elapsedMs: number;
  /** Jobs (children and parents) processed per second. */
  readonly jobsPerSecond: number;
  readonly capped: boolean;
  /** Handler runs of a job that had already run (should be 0): a parent run twice counts here. */
  readonly duplicateRuns: number;
  /** Parents that read fewer results than they have children (should be 0). */
  readonly parentsShortOfResults: number;
}

export interface ThroughputOutcome {
  readonly kind: 'throughput';
  /** Jobs the run set out to enqueue or process (in a scale run, the ones it times out of a larger backlog). */
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
  /** Processing runs only: handler runs of a job that had already run, up to the worker's stop (should be 0). */
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

/** One run of the scale workload: the same number of jobs processed with a small and with a large backlog queued. */
export interface ScaleOutcome {
  readonly kind: 'scale';
  /** Jobs timed at each backlog size. */
  readonly timedJobs: number;
  readonly small: BacklogRun;
  readonly large: BacklogRun;
  /**
   * The large backlog's rate over the small one's, within this run: the pair ran back to
   * back, so a machine that slowed down between runs does not move the ratio.
   */
  readonly largeOverSmall: number;
  /** Either side hit its time cap. */
  readonly capped: boolean;
  /** Both sides together (should be 0). */
  readonly duplicateRuns: number;
}

/** One side of a scale run: its own fresh store, its own measuring process. */
export interface BacklogRun {
  /** Jobs queued before the worker started. */
  readonly backlog: number;
  /** How long the untimed fill took; null when the measuring process filled a store that lives in it. */
  readonly fillMs: number | null;
  readonly processing: ThroughputOutcome;
}

/** One run of several worker processes on one store, merged by the parent from what each worker reported. */
export interface MultiWorkerOutcome {
  readonly kind: 'multi-worker';
  readonly processes: number;
  readonly concurrencyPerWorker: number;
  /** Jobs in the backlog the workers share. */
  readonly target: number;
  /** Distinct jobs that ran in any worker before the last of them was done, or before the cap. */
  readonly completed: number;
  /** From the moment the workers were told to start to the first run of the last job, or to the cap. */
  readonly elapsedMs: number;
  readonly jobsPerSecond: number;
  readonly capped: boolean;
  /** Handler runs of a job that had already run, in the same worker or another, up to the workers' stop (should be 0). */
  readonly duplicateRuns: number;
  /** Jobs no worker ran by the time all of them had stopped (should be 0). */
  readonly lostJobs: number;
  /** Handler runs in each worker process: how the work was shared out. */
  readonly runsPerWorker: readonly number[];
}
