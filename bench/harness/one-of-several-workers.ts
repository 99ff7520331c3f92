import { setTimeout as delay } from 'node:timers/promises';
import type { SystemConnection } from '../systems/system-adapter.ts';
import type { ParentLink } from './parent-link.ts';
import { RunReporter } from './run-reporter.ts';

/** One worker's part of a multi-worker run, as its process reports it; the job runs themselves went to the parent as they happened. */
export interface WorkerShare {
  readonly kind: 'worker-share';
  /** Handler runs this worker reported, repeats included: the parent checks it received them all. */
  readonly runs: number;
  /** False when the child stopped at its own cap because the parent never said stop. */
  readonly stoppedByParent: boolean;
}

/**
 * Beyond the run's cap, how long a worker waits for the parent's stop before stopping on
 * its own. The parent stops every worker at the cap at the latest; this only guards
 * against a parent that never does.
 */
const parentSilenceMarginMs = 30_000;

/**
 * The body of one of several worker processes on one store: connected and idle until the
 * parent says start (so connecting is never timed), then one worker that reports every
 * handler run until the parent, which merges the reports of all workers, says stop.
 */
export async function runOneOfSeveralWorkers(
  connection: SystemConnection,
  options: { readonly concurrency: number; readonly capMs: number },
  parent: ParentLink,
): Promise<WorkerShare> {
  const reporter = new RunReporter((indexes, at) => parent.reportRuns(indexes, at));
  try {
    parent.announceReady();
    await parent.started;
    const worker = await connection.startWorker({ concurrency: options.concurrency, onJobStart: (job) => reporter.record(job.index) });
    const ownCap = new AbortController();
    const stoppedByParent = await Promise.race([
      parent.stopped.then(() => true),
      delay(options.capMs + parentSilenceMarginMs, false, { signal: ownCap.signal }),
    ]);
    ownCap.abort();
    // Runs during the stop are reported too: a job run twice while the workers wind down is still a duplicate.
    await worker.stop();
    return { kind: 'worker-share', runs: reporter.runs, stoppedByParent };
  } finally {
    reporter.close();
  }
}
