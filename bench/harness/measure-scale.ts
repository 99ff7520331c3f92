import type { SystemAdapter } from '../systems/system-adapter.ts';
import { scaleTimedJobCount, type ScaleOptions } from './bench-options.ts';
import { processBacklogInChild } from './measure-backlog.ts';
import type { BacklogRun, ScaleOutcome } from './run-outcome.ts';
import type { RunSpec } from './run-spec.ts';

/**
 * One run of the scale workload: the same number of jobs processed by the same worker,
 * first with the small backlog queued, then with the large one, each on a fresh store in
 * a fresh process. Back to back, so the pair sees the same machine and their ratio is the
 * run's own.
 */
export async function measureScale(system: SystemAdapter, spec: Omit<RunSpec, 'store'>, scale: ScaleOptions, childGraceMs: number): Promise<ScaleOutcome> {
  const timedJobs = scaleTimedJobCount(scale);
  const measureWith = async (backlog: number): Promise<BacklogRun> => {
    const { fillMs, outcome } = await processBacklogInChild(system, { ...spec, jobs: backlog, timedJobs }, childGraceMs);
    return { backlog, fillMs, processing: outcome };
  };
  const small = await measureWith(scale.smallBacklog);
  const large = await measureWith(scale.largeBacklog);
  return {
    kind: 'scale',
    timedJobs,
    small,
    large,
    largeOverSmall: large.processing.jobsPerSecond / small.processing.jobsPerSecond,
    capped: small.processing.capped || large.processing.capped,
    duplicateRuns: small.processing.duplicateRuns + large.processing.duplicateRuns,
  };
}
