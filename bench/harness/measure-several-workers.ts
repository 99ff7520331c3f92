import type { SystemAdapter } from '../systems/system-adapter.ts';
import { fillBacklog } from './bench-jobs.ts';
import { MergedJobRuns } from './merged-job-runs.ts';
import type { WorkerShare } from './one-of-several-workers.ts';
import type { MultiWorkerOutcome } from './run-outcome.ts';
import type { ChildResult, RunSpec } from './run-spec.ts';
import { type MeasuringChild, spawnMeasuringChild } from './spawn-child.ts';
import { wallClockMs } from './wall-clock.ts';

export interface SeveralWorkersOptions {
  readonly processes: number;
  readonly concurrencyPerWorker: number;
  /** Time beyond the cap each worker's process gets for setup and teardown before it is killed. */
  readonly childGraceMs: number;
}

/**
 * One run of several worker processes on one store. The parent fills the store
 * (untimed), starts the worker processes and waits until each has connected, then tells
 * them all to start at once; timing runs from that moment to the first run of the last
 * job. The workers report every handler run as it happens, the parent merges the reports
 * and stops the workers once every job has run (or at the cap), and the merged account
 * tells whether a job ran twice, in one worker or in two, or never ran at all.
 */
export async function measureSeveralWorkers(system: SystemAdapter, spec: Omit<RunSpec, 'store'>, options: SeveralWorkersOptions): Promise<MultiWorkerOutcome> {
  if (!system.storeSharedAcrossProcesses) throw new Error(`${system.id} keeps its store in one process; several worker processes cannot share it`);
  const store = await system.createStore();
  try {
    const producer = await system.connect(store);
    try {
      await fillBacklog(producer, spec.jobs, spec.fillCapMs);
    } finally {
      // Closed before the workers start, so the parent holds nothing open during the timed part.
      await producer.close();
    }
    const runs = new MergedJobRuns(spec.jobs);
    const workers: MeasuringChild[] = Array.from({ length: options.processes }, () =>
      spawnMeasuringChild({ ...spec, store }, spec.capMs + options.childGraceMs, { onRuns: (indexes, at) => runs.add(indexes, at) }),
    );
    try {
      // Starting Node and connecting is not part of the figure: every worker is connected before any starts.
      await Promise.all(workers.map((worker) => worker.ready));
      const startedAtWallClock = wallClockMs();
      const startedAt = performance.now();
      for (const worker of workers) worker.tell({ type: 'start' });
      // A worker that ends before it is told to stop has failed: stop waiting, and let its result say why.
      const anyEnded = Promise.race(workers.map((worker) => worker.result));
      const finished = await runs.waitForAll(startedAt + spec.capMs, anyEnded);
      const cappedAfterMs = performance.now() - startedAt;
      const completedByCap = runs.distinct;
      for (const worker of workers) worker.tell({ type: 'stop' });
      const shares = await Promise.all(workers.map(async (worker) => expectShare(await worker.result)));

      // IPC delivers each worker's reports before its result, so by now every run is merged.
      const reported = shares.reduce((sum, share) => sum + share.runs, 0);
      if (reported !== runs.runsReceived) throw new Error(`the workers reported ${reported} handler runs, but the parent received ${runs.runsReceived}`);
      if (runs.unknownJobs > 0) throw new Error(`the workers ran ${runs.unknownJobs} job(s) that are not in the backlog`);

      const lastFirstRunAt = runs.lastFirstRunAt();
      const elapsedMs = finished && lastFirstRunAt !== null ? lastFirstRunAt - startedAtWallClock : cappedAfterMs;
      const completed = finished ? spec.jobs : completedByCap;
      return {
        kind: 'multi-worker',
        processes: options.processes,
        concurrencyPerWorker: options.concurrencyPerWorker,
        target: spec.jobs,
        completed,
        elapsedMs,
        jobsPerSecond: completed / (elapsedMs / 1000),
        capped: !finished,
        duplicateRuns: runs.duplicates,
        // Counted once every worker has stopped: a job that ran while they wound down was late, not lost.
        lostJobs: spec.jobs - runs.distinct,
        runsPerWorker: shares.map((share) => share.runs),
      };
    } finally {
      // Only does something when the run failed and a worker is still running.
      for (const worker of workers) worker.stop();
    }
  } finally {
    await system.destroyStore(store);
  }
}

function expectShare(result: ChildResult): WorkerShare {
  if (result.kind !== 'worker-share') throw new Error(`a worker process sent a ${result.kind} outcome where its share of a multi-worker run was expected`);
  return result;
}
