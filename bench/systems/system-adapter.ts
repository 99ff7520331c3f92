/**
 * The contract every benchmarked system implements, Jobsmith's own backends and peer
 * libraries alike. The harness times everything itself and only ever calls these
 * methods, so a new system is one file that implements them and one line in
 * `registry.ts`.
 *
 * A run goes: `createStore` (fresh and empty) → `connect` in each process that needs
 * it → enqueue and/or `startWorker` → `close` → `destroyStore`. The worker usually
 * runs in a different process from the one that created the store, which is why a
 * store is named by a plain JSON `StoreRef` rather than an object.
 */
export interface SystemAdapter {
  /** The name used on the command line (`--systems`) and in results, e.g. `sqlite-full`. */
  readonly id: string;
  /** The name shown in tables. */
  readonly label: string;
  /** Jobsmith's own configurations, or a library it is compared with. */
  readonly family: SystemFamily;
  /** Where the jobs live; the results table groups systems by it and compares Jobsmith with peers on the same store. */
  readonly store: StoreKind;
  /**
   * SQLite only: whether a commit is flushed to disk before it returns (`full`: durable
   * against power loss) or only to the OS (`normal`: durable against a process crash).
   * Jobsmith SQLite is compared with the peers in the same mode.
   */
  readonly durability?: Durability;
  /**
   * Whether the system has a bulk enqueue call. Without one, the bulk workload is reported
   * as "none" and the backlog is filled with single enqueues.
   */
  readonly bulkEnqueue: boolean;
  /**
   * Whether the system creates parent and child jobs (its connections have `flows`): the
   * flow-children workload runs only on those. Absent: it has none.
   */
  readonly flows?: boolean;
  /** The npm package measured, for peers: its installed version is recorded with the results. */
  readonly packageName?: string;
  /** Everything a reader needs to reproduce the setup: store, durability, worker options, versions. */
  readonly settings: readonly string[];
  /**
   * False when the store lives inside one process (an in-memory store): the process that
   * runs the worker must then create and fill the store itself, and a producer in another
   * process cannot reach it (cross-process latency is not measured).
   */
  readonly storeSharedAcrossProcesses: boolean;
  /** Creates a fresh, empty store. */
  createStore(): Promise<StoreRef>;
  /** Connects this process to a store. Resolves once the store is open and ready, so opening it is never timed. */
  connect(store: StoreRef): Promise<SystemConnection>;
  /** Removes the store and everything in it. Called once per run, after every connection is closed. */
  destroyStore(store: StoreRef): Promise<void>;
}

export type SystemFamily = 'jobsmith' | 'peer';

/** The kind of store a system keeps its jobs in. PostgreSQL and Redis are throwaway servers the harness starts once per benchmark. */
export type StoreKind = 'memory' | 'sqlite' | 'postgres' | 'redis';

export type Durability = 'full' | 'normal';

/** JSON that lets any process reach a store: a URL, a file path, a queue prefix… */
export type StoreRef = Readonly<Record<string, string>>;

/** The payload of every benchmark job. Small on purpose: the benchmark measures the queue, not serialization. */
export interface BenchJob {
  /** 0 … n-1, so the harness can tell every job ran once. */
  readonly index: number;
  /**
   * When the producer called enqueue, in ms since the epoch with sub-ms precision
   * (`wallClockMs()`), comparable across processes on one machine. Latency is handler
   * start minus this, so adapters need nothing special for the latency workloads.
   */
  readonly sentAt: number;
}

export interface SystemConnection {
  /** Enqueues one job and resolves once the system acknowledges it. */
  enqueue(job: BenchJob): Promise<void>;
  /**
   * Enqueues many jobs with the system's bulk call (the harness sends 1,000 at a time).
   * Absent when the system has none (`bulkEnqueue: false`).
   */
  enqueueBatch?(jobs: readonly BenchJob[]): Promise<void>;
  /** Starts one worker and resolves once it is running. */
  startWorker(options: BenchWorkerOptions): Promise<RunningWorker>;
  /** Parent and child jobs, when the system has them (`flows: true`). */
  readonly flows?: FlowConnection;
  /** Closes everything this connection opened; workers must be stopped first. */
  close(): Promise<void>;
}

export interface BenchWorkerOptions {
  /** Jobs run at once by this worker. */
  readonly concurrency: number;
  /**
   * The job's handler: the adapter calls it synchronously at the start of each handler
   * run with the job's payload, then returns at once (a no-op job).
   */
  readonly onJobStart: (job: BenchJob) => void;
}

/**
 * A system's parent and child jobs: a flow is one parent job that runs once all its children
 * have finished and reads their results (Jobsmith's `client.flow` and `ctx.children()`,
 * BullMQ's `FlowProducer` and `job.getChildrenValues()`).
 */
export interface FlowConnection {
  /** Creates one flow in one call: `children` and their `parent`; resolves once the system acknowledges it. */
  enqueueFlow(parent: BenchJob, children: readonly BenchJob[]): Promise<void>;
  /** Starts one worker that runs children and parents alike, and resolves once it is running. */
  startWorker(options: FlowWorkerOptions): Promise<RunningWorker>;
}

export interface FlowWorkerOptions {
  readonly concurrency: number;
  /** Called at the start of each child's handler run, which then returns the child's `index` as its result. */
  readonly onChildRun: (job: BenchJob) => void;
  /** Called in each parent's handler run once it has read its children's results: how many it read. */
  readonly onParentRun: (job: BenchJob, childResults: number) => void;
}

export interface RunningWorker {
  /** Stops gracefully: waits for running jobs and for their outcomes to be written. */
  stop(): Promise<void>;
}
