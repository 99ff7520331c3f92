import { type ComparedSystem, type Comparison, comparisons as defaultComparisons } from './comparisons.ts';
import type { RunRecord } from './measure-run.ts';
import type { Metric, MetricUnit } from './metrics.ts';
import { isWrong } from './run-faults.ts';
import { median } from './statistics.ts';

/** One system's figure for one metric over its runs. */
export interface Figure {
  /** Null when no run produced the figure. */
  readonly median: number | null;
  readonly min: number | null;
  readonly max: number | null;
  /** Runs that produced the figure. */
  readonly runs: number;
  /** Of those, runs that hit their time cap. */
  readonly cappedRuns: number;
  /**
   * Of those, runs that ran a job twice or never ran one (bench/harness/run-faults.ts):
   * their figures are wrong, not just slow. Absent in results saved before it was counted.
   */
  readonly wrongRuns?: number;
  /** Runs that failed and produced nothing. */
  readonly failedRuns: number;
}

/** The best Jobsmith figure over the best peer figure, and whose they were. */
export interface PeerRatio {
  readonly ratio: number;
  readonly jobsmith: string;
  readonly peer: string;
  /** How many peers the comparison had a figure for (the best of them is `peer`). */
  readonly peersCompared: number;
}

export interface SummaryRow {
  readonly metric: string;
  readonly label: string;
  readonly unit: MetricUnit;
  readonly better: 'higher' | 'lower';
  /** By system id; null where the workload does not apply to the system. */
  readonly figures: Readonly<Record<string, Figure | null>>;
  /**
   * By comparison id (bench/harness/comparisons.ts), for the comparisons that cover this
   * metric: null until one of its Jobsmith systems and one of its peers have the figure.
   */
  readonly ratios: Readonly<Record<string, PeerRatio | null>>;
}

/** Medians and ranges per metric and system; rows whose workload was not run are left out. */
export function summarize(
  systems: readonly ComparedSystem[],
  metrics: readonly Metric[],
  runs: readonly RunRecord[],
  comparisons: readonly Comparison[] = defaultComparisons,
): SummaryRow[] {
  const rows: SummaryRow[] = [];
  for (const metric of metrics) {
    const ofWorkload = runs.filter((run) => run.workload === metric.workload);
    if (ofWorkload.length === 0) continue;
    const figures: Record<string, Figure | null> = {};
    for (const system of systems) {
      const ofSystem = ofWorkload.filter((run) => run.system === system.id);
      figures[system.id] = ofSystem.length === 0 ? null : figureOf(metric, ofSystem);
    }
    rows.push({
      metric: metric.id,
      label: metric.label,
      unit: metric.unit,
      better: metric.better,
      figures,
      ratios: Object.fromEntries(
        comparisons
          .filter((comparison) => metric.comparedWithPeers && comparison.covers(metric.id))
          .map((comparison) => [comparison.id, peerRatio(metric, systems.filter(comparison.jobsmith), systems.filter(comparison.peers), figures)]),
      ),
    });
  }
  return rows;
}

function figureOf(metric: Metric, runs: readonly RunRecord[]): Figure {
  const values: number[] = [];
  let cappedRuns = 0;
  let wrongRuns = 0;
  for (const run of runs) {
    if (run.outcome === null) continue;
    const value = metric.read(run.outcome);
    if (value === null) continue;
    values.push(value);
    if (run.outcome.capped) cappedRuns++;
    if (isWrong(run.outcome)) wrongRuns++;
  }
  return {
    median: values.length > 0 ? median(values) : null,
    min: values.length > 0 ? Math.min(...values) : null,
    max: values.length > 0 ? Math.max(...values) : null,
    runs: values.length,
    cappedRuns,
    wrongRuns,
    failedRuns: runs.filter((run) => run.outcome === null).length,
  };
}

function peerRatio(
  metric: Metric,
  jobsmithSystems: readonly ComparedSystem[],
  peerSystems: readonly ComparedSystem[],
  figures: Readonly<Record<string, Figure | null>>,
): PeerRatio | null {
  const jobsmith = best(metric, jobsmithSystems, figures);
  const peer = best(metric, peerSystems, figures);
  if (!jobsmith || !peer || peer.value === 0) return null;
  const peersCompared = peerSystems.filter((system) => typeof figures[system.id]?.median === 'number').length;
  return { ratio: jobsmith.value / peer.value, jobsmith: jobsmith.system, peer: peer.system, peersCompared };
}

function best(metric: Metric, systems: readonly ComparedSystem[], figures: Readonly<Record<string, Figure | null>>): { system: string; value: number } | null {
  let found: { system: string; value: number } | null = null;
  for (const system of systems) {
    const value = figures[system.id]?.median;
    if (value === null || value === undefined) continue;
    const better = found === null || (metric.better === 'higher' ? value > found.value : value < found.value);
    if (better) found = { system: system.id, value };
  }
  return found;
}
