/**
 * The performance targets Jobsmith is held to, checked against a benchmark's medians.
 * Most compare one Jobsmith system with a reference (a peer's figure, a fixed number, or
 * the same system's figure under easier conditions) on one metric; the rest demand that
 * something never happens (a job run twice). A target whose figures were not all
 * measured is "not measured".
 */
import { type ScaleOptions, defaultBenchOptions } from './bench-options.ts';
import type { MetricUnit } from './metrics.ts';
import type { SummaryRow } from './summarize.ts';

export type TargetCheck = RatioCheck | NeverCheck;

export type TargetStatus = 'met' | 'missed' | 'not measured';

/** A Jobsmith figure over a reference figure, against a required ratio. */
export interface RatioCheck {
  readonly kind: 'ratio';
  readonly target: string;
  readonly unit: MetricUnit;
  /** The Jobsmith system and its median. */
  readonly jobsmith: string;
  readonly jobsmithValue: number | null;
  /**
   * What it is compared with: a system id (`peer`), a fixed limit with its unit
   * (`limit`), or how the same Jobsmith system's baseline figure was made (`baseline`).
   */
  readonly reference: string;
  readonly referenceKind: 'peer' | 'limit' | 'baseline';
  readonly referenceValue: number | null;
  /** Jobsmith over the reference (for a fixed limit, over the limit). */
  readonly ratio: number | null;
  /** The ratio the target asks for: at least it (jobs/s) or at most it (ms, MB). */
  readonly required: number;
  readonly better: 'higher' | 'lower';
  readonly status: TargetStatus;
}

/** Counts that must be zero in every run: a fault, not a speed. */
export interface NeverCheck {
  readonly kind: 'never';
  readonly target: string;
  readonly jobsmith: string;
  /** Each count's worst run (its maximum), so one faulty run among several still misses the target. */
  readonly counts: ReadonlyArray<{ readonly what: string; readonly worst: number | null }>;
  readonly status: TargetStatus;
}

interface RatioSpec {
  readonly target: string;
  readonly metric: string;
  readonly jobsmith: string;
  /** The best of these peers is the reference… */
  readonly peers?: readonly string[];
  /** …or this fixed limit, in the metric's unit… */
  readonly limit?: number;
  /**
   * …or the same system's figure on this metric, described by `baselineLabel`; the ratio
   * is then read from `ratioMetric`, the median of each run's own ratio, rather than
   * computed from the two medians.
   */
  readonly baseline?: { readonly metric: string; readonly label: string; readonly ratioMetric: string };
  readonly required: number;
}

interface NeverSpec {
  readonly target: string;
  readonly jobsmith: string;
  readonly counts: ReadonlyArray<{ readonly metric: string; readonly what: string }>;
}

const graphile = ['graphile-default', 'graphile-best'];
const sqlitePeers = { full: ['plainjob-full', 'sidequest-sqlite'], normal: ['plainjob-normal'] } as const;
const jobsmithSystems = ['memory', 'sqlite-full', 'sqlite-normal', 'postgres', 'redis'];
/** Jobsmith's systems whose store several processes can share. */
const sharedStoreSystems = ['sqlite-full', 'sqlite-normal', 'postgres', 'redis'];

/** The share of its small-backlog rate Jobsmith must keep with the large backlog queued: its cost must stay flat as the backlog grows. */
export const scaleRequired = 0.8;

function ratioSpecs(scale: ScaleOptions): RatioSpec[] {
  const list: RatioSpec[] = [
    { target: 'PostgreSQL: processing at c50 ≥ 1.5× Graphile Worker batched', metric: 'process-c50', jobsmith: 'postgres', peers: ['graphile-best'], required: 1.5 },
    { target: 'PostgreSQL: single enqueue ≥ 3× Graphile Worker', metric: 'enqueue-single', jobsmith: 'postgres', peers: graphile, required: 3 },
    { target: 'PostgreSQL: bulk enqueue ≥ 1.5× Graphile Worker', metric: 'enqueue-bulk', jobsmith: 'postgres', peers: graphile, required: 1.5 },
    { target: 'PostgreSQL: p99 latency ≤ 5 ms (producer in worker process)', metric: 'latency-p99', jobsmith: 'postgres', limit: 5, required: 1 },
    { target: 'PostgreSQL: p99 latency ≤ 5 ms (producer in another process)', metric: 'latency-remote-p99', jobsmith: 'postgres', limit: 5, required: 1 },
  ];
  const redisPeers = ['bullmq', 'bee-queue'];
  list.push(
    { target: 'Redis: processing at c50 ≥ 2× the better of BullMQ and bee-queue', metric: 'process-c50', jobsmith: 'redis', peers: redisPeers, required: 2 },
    { target: 'Redis: single enqueue ≥ 1.5× BullMQ', metric: 'enqueue-single', jobsmith: 'redis', peers: ['bullmq'], required: 1.5 },
    { target: 'Redis: single enqueue ≥ bee-queue', metric: 'enqueue-single', jobsmith: 'redis', peers: ['bee-queue'], required: 1 },
    { target: 'Redis: bulk enqueue ≥ 3× BullMQ', metric: 'enqueue-bulk', jobsmith: 'redis', peers: ['bullmq'], required: 3 },
    { target: 'Redis: bulk enqueue ≥ bee-queue', metric: 'enqueue-bulk', jobsmith: 'redis', peers: ['bee-queue'], required: 1 },
  );
  // Every store: p99 at most 5 ms, and p50 no worse than the best peer on that store.
  const latencyPeers: ReadonlyArray<readonly [string, string, readonly string[]]> = [
    ['sqlite-full', 'SQLite full', sqlitePeers.full],
    ['sqlite-normal', 'SQLite normal', sqlitePeers.normal],
    ['redis', 'Redis', redisPeers],
  ];
  for (const [jobsmith, title, peers] of latencyPeers) {
    list.push(
      { target: `${title}: p99 latency ≤ 5 ms (producer in worker process)`, metric: 'latency-p99', jobsmith, limit: 5, required: 1 },
      { target: `${title}: p99 latency ≤ 5 ms (producer in another process)`, metric: 'latency-remote-p99', jobsmith, limit: 5, required: 1 },
    );
    list.push({ target: `${title}: p50 latency ≤ the best peer's (producer in worker process)`, metric: 'latency-p50', jobsmith, peers, required: 1 });
  }
  list.push({
    target: "PostgreSQL: p50 latency ≤ the best peer's (producer in worker process)",
    metric: 'latency-p50',
    jobsmith: 'postgres',
    peers: ['graphile-default', 'graphile-best', 'pg-boss', 'sidequest-postgres'],
    required: 1,
  });
  for (const mode of ['full', 'normal'] as const) {
    const jobsmith = `sqlite-${mode}`;
    list.push(
      { target: `SQLite ${mode}: processing at c50 ≥ 3× BullMQ (Redis)`, metric: 'process-c50', jobsmith, peers: ['bullmq'], required: 3 },
      { target: `SQLite ${mode}: processing at c50 ≥ 5× the best SQLite peer (${mode})`, metric: 'process-c50', jobsmith, peers: sqlitePeers[mode], required: 5 },
      { target: `SQLite ${mode}: single enqueue ≥ the best SQLite peer (${mode})`, metric: 'enqueue-single', jobsmith, peers: sqlitePeers[mode], required: 1 },
      { target: `SQLite ${mode}: bulk enqueue ≥ the best SQLite peer (${mode})`, metric: 'enqueue-bulk', jobsmith, peers: sqlitePeers[mode], required: 1 },
    );
  }
  for (const jobsmith of ['memory', 'sqlite-full', 'sqlite-normal', 'postgres', 'redis']) {
    for (const concurrency of [1, 10, 50]) {
      list.push({ target: `Worker RSS ≤ BullMQ's (${jobsmith}, c${concurrency})`, metric: `rss-c${concurrency}`, jobsmith, peers: ['bullmq'], required: 1 });
    }
  }
  const count = (value: number) => value.toLocaleString('en-US');
  for (const jobsmith of jobsmithSystems) {
    list.push({
      target: `Scale (${jobsmith}): processing with ${count(scale.largeBacklog)} queued ≥ ${scaleRequired}× the rate with ${count(scale.smallBacklog)} queued`,
      metric: 'scale-large',
      jobsmith,
      baseline: { metric: 'scale-small', label: `with ${count(scale.smallBacklog)} queued`, ratioMetric: 'scale-ratio' },
      required: scaleRequired,
    });
  }
  return list;
}

function neverSpecs(): NeverSpec[] {
  return sharedStoreSystems.map((jobsmith) => ({
    target: `Several workers (${jobsmith}): no job runs twice, none is lost`,
    jobsmith,
    counts: [
      { metric: 'multi-worker-duplicates', what: 'duplicate runs' },
      { metric: 'multi-worker-lost', what: 'jobs never run' },
    ],
  }));
}

/** `scale`: the backlog sizes the results were measured with, for the scale targets' wording. */
export function checkTargets(summary: readonly SummaryRow[], scale: ScaleOptions = defaultBenchOptions.scale): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const rowOf = (metric: string) => summary.find((candidate) => candidate.metric === metric);
  for (const spec of ratioSpecs(scale)) {
    const row = rowOf(spec.metric);
    if (!row || !(spec.jobsmith in row.figures)) continue;
    const value = (system: string, of: SummaryRow = row) => of.figures[system]?.median ?? null;
    const jobsmithValue = value(spec.jobsmith);
    let reference = `${spec.limit} ${row.unit}`;
    let referenceKind: RatioCheck['referenceKind'] = 'limit';
    let referenceValue: number | null = spec.limit ?? null;
    let ratio: number | null = null;
    if (spec.peers) {
      const measured = spec.peers.filter((peer) => value(peer) !== null);
      if (spec.peers.every((peer) => !(peer in row.figures))) continue;
      const best = measured.sort((a, b) => (row.better === 'higher' ? value(b)! - value(a)! : value(a)! - value(b)!))[0];
      reference = best ?? spec.peers.join(' / ');
      referenceKind = 'peer';
      referenceValue = best === undefined ? null : value(best);
    }
    if (spec.baseline) {
      const baselineRow = rowOf(spec.baseline.metric);
      const ratioRow = rowOf(spec.baseline.ratioMetric);
      reference = spec.baseline.label;
      referenceKind = 'baseline';
      referenceValue = baselineRow ? value(spec.jobsmith, baselineRow) : null;
      ratio = ratioRow ? value(spec.jobsmith, ratioRow) : null;
    } else {
      ratio = jobsmithValue === null || referenceValue === null || referenceValue === 0 ? null : jobsmithValue / referenceValue;
    }
    const met = ratio !== null && (row.better === 'higher' ? ratio >= spec.required : ratio <= spec.required);
    checks.push({
      kind: 'ratio',
      target: spec.target,
      unit: row.unit,
      jobsmith: spec.jobsmith,
      jobsmithValue,
      reference,
      referenceKind,
      referenceValue,
      ratio,
      required: spec.required,
      better: row.better,
      status: ratio === null ? 'not measured' : met ? 'met' : 'missed',
    });
  }
  for (const spec of neverSpecs()) {
    const rows = spec.counts.map((count) => rowOf(count.metric));
    if (rows.some((row) => !row || !(spec.jobsmith in row.figures))) continue;
    const counts = spec.counts.map((count, position) => ({ what: count.what, worst: rows[position]?.figures[spec.jobsmith]?.max ?? null }));
    const measured = counts.every((count) => count.worst !== null);
    checks.push({
      kind: 'never',
      target: spec.target,
      jobsmith: spec.jobsmith,
      counts,
      status: !measured ? 'not measured' : counts.every((count) => count.worst === 0) ? 'met' : 'missed',
    });
  }
  return checks;
}
