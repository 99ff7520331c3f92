/**
 * Live workers (capability `live-workers`): each running worker keeps a registration in the
 * store, renewed by its heartbeat, so operators (`jobsmith workers`, `jobsmith why`, the
 * dashboard) can see who serves which queue. A worker that stops removes its registration; one
 * that crashed stops renewing it, and it lapses after its time to live (the worker's lease).
 */

/** What a worker says about itself when it registers. */
export interface WorkerPresence {
  /** The worker's id, as its leases name it. */
  id: string;
  host: string;
  pid: number;
  /** The queues it claims from; null means every queue. */
  queues: string[] | null;
  /** The job names it runs. */
  names: string[];
  /** Attempts it runs at once, at most. */
  concurrency: number;
  /** Attempts running there at the last heartbeat. */
  running: number;
  /** When it started, in ms since the epoch. */
  startedAt: number;
}

/** A registration the store holds and has not seen lapse. Times are the backend's clock. */
export interface LiveWorker extends WorkerPresence {
  /** When the registration was last written. */
  lastHeartbeatAt: number;
  /** When it lapses unless renewed. */
  expiresAt: number;
}

/** A registration to write in the same call as a heartbeat's lease renewal (`renewLeases`). */
export interface PresenceRenewal {
  worker: WorkerPresence;
  ttlMs: number;
}

/** The role a backend with `live-workers` keeps. */
export interface WorkerRegistry {
  /** Inserts the worker's registration, or refreshes it, until now + `ttlMs`. */
  registerWorker(worker: WorkerPresence, ttlMs: number): Promise<void>;
  /** Removes the registration; false when there was none. */
  deregisterWorker(workerId: string): Promise<boolean>;
  /** The registrations that have not lapsed, ordered by id. A backend may delete lapsed ones here. */
  listWorkers(): Promise<LiveWorker[]>;
}
