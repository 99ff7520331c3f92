/**
 * The package's edge: builds clients, workers and schedulers with the resolver that opens
 * connection strings (`sqlite:`, `memory:`, `postgres://`, `redis://`), each backend loaded
 * only when a string names it. Nothing below this file imports a backend.
 */
import { resolveBackend } from './backends/resolve-backend.ts';
import { Client, type ClientOptions } from './client/client.ts';
import { Scheduler, type SchedulerOptions } from './scheduler/scheduler.ts';
import { Worker, type WorkerOptions } from './worker/worker.ts';

/** Creates a client: enqueue, run inline, look up, steer. Opens its backend on first use. */
export function createClient(options: ClientOptions = {}): Client {
  return new Client(options, resolveBackend);
}

/** Creates a worker. Call `start()` to begin claiming. */
export function createWorker(options: WorkerOptions): Worker {
  return new Worker(options, resolveBackend);
}

/** Creates a scheduler. Call `start()` to fire due ticks. */
export function createScheduler(options: SchedulerOptions = {}): Scheduler {
  return new Scheduler(options, resolveBackend);
}
