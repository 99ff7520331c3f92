import type { AnyJob } from '../domain/define-job.ts';
import type { ScheduleOptions } from '../scheduler/scheduler.ts';
import type { WorkerOptions } from '../worker/worker.ts';

/** Worker options a config file may set; `jobsmith worker --queues/--concurrency` override theirs. */
export type WorkerConfig = Omit<WorkerOptions, 'backend' | 'jobs' | 'clock' | 'logger'>;

/**
 * What `jobsmith.config.ts` (or `.js` / `.mjs`) exports as its default: the store, the
 * jobs, the schedules and the worker's options, read by the `jobsmith` command.
 */
export interface JobsmithConfig {
  /**
   * The store's connection string. `--url` and the `JOBSMITH_URL` environment variable
   * take precedence over it. @default 'sqlite:./jobsmith.db'
   */
  url?: string;
  /** The jobs `jobsmith worker` runs and `jobsmith run` / `enqueue` know by name. */
  jobs?: readonly AnyJob[];
  /** Schedules `jobsmith worker` registers at start (an idempotent upsert by id) and fires. */
  schedules?: readonly ScheduleOptions[];
  /** Options of the worker `jobsmith worker` runs. */
  worker?: WorkerConfig;
}

/**
 * Types a config file; returns it unchanged.
 * @example
 * export default defineConfig({ jobs: [sendEmail], worker: { concurrency: 20 } });
 */
export function defineConfig(config: JobsmithConfig): JobsmithConfig {
  return config;
}
