import type { RunOutcome } from './run-outcome.ts';

/**
 * What makes a run's figures wrong rather than slow: a job whose handler ran twice, a
 * job that never ran in a run of several workers (work a queue promised and lost), or a
 * flow's parent that read fewer results than it has children. The
 * tables flag such figures instead of showing them as plain results.
 */

/** Handler runs of a job that had already run. Latency runs do not count them: they measure time to start, not delivery. */
export function duplicateRunsOf(outcome: RunOutcome): number {
  return outcome.kind === 'latency' ? 0 : outcome.duplicateRuns;
}

/**
 * Jobs that never ran although every worker had stopped. Only the multi-worker workload
 * tells a lost job from a slow one; elsewhere a job not run by the cap is marked as capped.
 */
export function lostJobsOf(outcome: RunOutcome): number {
  return outcome.kind === 'multi-worker' ? outcome.lostJobs : 0;
}

export function isWrong(outcome: RunOutcome): boolean {
  return duplicateRunsOf(outcome) > 0 || lostJobsOf(outcome) > 0 || (outcome.kind === 'flow' && outcome.parentsShortOfResults > 0);
}
