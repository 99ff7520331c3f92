/**
 * The performance targets Jobsmith is held to, checked against a benchmark's medians.
 * Floors (issue #21) must hold in every full run on stock servers; aims are where the
 * compass points, met or not. Most compare one Jobsmith system with a reference (a peer's figure, a fixed number, or
 * the same system's figure under easier conditions) on one metric; the rest demand that
 * something never happens (a job run twice). A target whose figures were not all
 * measured is "not measured".
 */
import { type ScaleOptions, defaultBenchOptions } from './bench-options.ts';
import { benchMetrics, type Metric, type MetricUnit } from './metrics.ts';
import type { SummaryRow } from './summarize.ts';
import { multiWorkerProcesses } from './workloads.ts';

export type TargetCheck = RatioCheck | NeverCheck;

export type TargetStatus = 'met' | 'missed' | 'not measured';

/** `floor`: must hold in every full run; `aim`: where Jobsmith is headed. */
export type TargetLevel = 'floor' | 'aim';

/** A Jobsmith figure over a reference figure, against a required ratio. */
export interface RatioCheck {
  readonly kind: 'ratio';
  /** Stable across runs and backlog sizes, so a floor can be found in an earlier run's results. */
  readonly id: string;
  readonly level: TargetLevel;
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
  readonly id: string;
  readonly level: TargetLevel;
  readonly target: string;
  readonly jobsmith: string;
  /** Each count's worst run (its maximum), so one faulty run among several still misses the target. */
  readonly counts: ReadonlyArray<{ readonly what: string; readonly worst: number | null }>;
  readonly status: TargetStatus;
}

interface RatioSpec {
  /** Defaults to `target`; floors name theirs, as their wording carries the run's sizes. */
  readonly id?: string;
  readonly target: string;
  readonly metric: string;
  readonly jobsmith: string;
  /** The best of these peers is the reference… */
  readonly peers?: readonly string[];
  /** …or this fixed limit, in the metric's unit… */
  readonly limit?: number;
  /**
   * …or the same system's figure on this metric, described by `label`; the ratio is then
   * read from `ratioMetric` when given (the median of each run's own ratio), else computed
   * from the two medians.
   */
  readonly baseline?: { readonly metric: string; readonly label: string; readonly ratioMetric?: string };
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

function aimSpecs(): RatioSpec[] {
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
  return list;
}

/** plainjob in each durability mode: the SQLite floors compare with it alone. */
const plainjobIn = { full: 'plainjob-full', normal: 'plainjob-normal' } as const;
/** Every PostgreSQL peer, for "the best peer". */
const postgresPeers = ['graphile-default', 'graphile-best', 'pg-boss', 'sidequest-postgres'];

/**
 * The floors of issue #21: what must hold in one full `npm run bench` on stock servers.
 * Some repeat an aim's comparison at a lower bar (the aim stays, as where Jobsmith is
 * headed); the scale floor is the scale aim it replaced, at the same bar.
 */
function floorSpecs(scale: ScaleOptions): RatioSpec[] {
  const list: RatioSpec[] = [];
  for (const mode of ['full', 'normal'] as const) {
    const jobsmith = `sqlite-${mode}`;
    const plainjob = plainjobIn[mode];
    const title = `SQLite ${mode}`;
    for (const concurrency of [1, 10, 50]) {
      const metric = `process-c${concurrency}`;
      list.push({ id: `${jobsmith}:${metric}:plainjob`, target: `${title}: processing at c${concurrency} ≥ 1.5× plainjob ${mode}`, metric, jobsmith, peers: [plainjob], required: 1.5 });
    }
    list.push(
      {
        id: `${jobsmith}:process-c50:c10`,
        target: `${title}: processing at c50 ≥ its own at c10`,
        metric: 'process-c50',
        jobsmith,
        baseline: { metric: 'process-c10', label: 'at c10' },
        required: 1,
      },
      { id: `${jobsmith}:enqueue-single:plainjob`, target: `${title}: single enqueue ≥ plainjob ${mode}`, metric: 'enqueue-single', jobsmith, peers: [plainjob], required: 1 },
      { id: `${jobsmith}:enqueue-bulk:plainjob`, target: `${title}: bulk enqueue ≥ plainjob ${mode}`, metric: 'enqueue-bulk', jobsmith, peers: [plainjob], required: 1 },
      {
        id: `${jobsmith}:disk-per-job:plainjob`,
        target: `${title}: bytes on disk per completed job ≤ 2× plainjob ${mode}'s`,
        metric: 'disk-per-job',
        jobsmith,
        peers: [plainjob],
        required: 2,
      },
    );
  }
  list.push(
    { id: 'postgres:process-c50:pg-boss', target: 'PostgreSQL: processing at c50 ≥ pg-boss', metric: 'process-c50', jobsmith: 'postgres', peers: ['pg-boss'], required: 1 },
    {
      id: 'postgres:multi-worker:pg-boss',
      target: `PostgreSQL: processing with ${multiWorkerProcesses} worker processes ≥ pg-boss`,
      metric: 'multi-worker',
      jobsmith: 'postgres',
      peers: ['pg-boss'],
      required: 1,
    },
    { id: 'postgres:enqueue-bulk:best-peer', target: 'PostgreSQL: bulk enqueue ≥ the best peer', metric: 'enqueue-bulk', jobsmith: 'postgres', peers: postgresPeers, required: 1 },
  );
  const count = (value: number) => value.toLocaleString('en-US');
  for (const jobsmith of jobsmithSystems) {
    list.push({
      id: `${jobsmith}:scale`,
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

/**
 * Every target the summary has figures for: the floors first, then the aims. `scale`:
 * the backlog sizes the results were measured with, for the scale floors' wording.
 */
export function checkTargets(summary: readonly SummaryRow[], scale: ScaleOptions = defaultBenchOptions.scale): TargetCheck[] {
  const rowOf = (metric: string) => summary.find((candidate) => candidate.metric === metric);
  // A floor must hold in every full run, so one whose figures are missing is shown as not
  // measured, as long as its Jobsmith system ran at all; an aim is left out.
  const systemsRun = new Set(summary.flatMap((row) => Object.keys(row.figures)));
  const metrics = benchMetrics({ scale });
  const ratioChecks = (specs: readonly RatioSpec[], level: TargetLevel) =>
    specs.flatMap((spec) => {
      const check = checkRatio(spec, level, rowOf);
      if (check !== null) return [check];
      const metric = metrics.find((candidate) => candidate.id === spec.metric);
      if (level === 'aim' || metric === undefined || !systemsRun.has(spec.jobsmith)) return [];
      return [notMeasured(spec, level, metric)];
    });
  const checks: TargetCheck[] = [...ratioChecks(floorSpecs(scale), 'floor'), ...ratioChecks(aimSpecs(), 'aim')];
  for (const spec of neverSpecs()) {
    const rows = spec.counts.map((count) => rowOf(count.metric));
    if (rows.some((row) => !row || !(spec.jobsmith in row.figures))) continue;
    const counts = spec.counts.map((count, position) => ({ what: count.what, worst: rows[position]?.figures[spec.jobsmith]?.max ?? null }));
    const measured = counts.every((count) => count.worst !== null);
    checks.push({
      kind: 'never',
      id: spec.target,
      level: 'aim',
      target: spec.target,
      jobsmith: spec.jobsmith,
      counts,
      status: !measured ? 'not measured' : counts.every((count) => count.worst === 0) ? 'met' : 'missed',
    });
  }
  return checks;
}

function notMeasured(spec: RatioSpec, level: TargetLevel, metric: Metric): RatioCheck {
  const referenceKind: RatioCheck['referenceKind'] = spec.baseline ? 'baseline' : spec.peers ? 'peer' : 'limit';
  const reference = spec.baseline ? spec.baseline.label : spec.peers ? spec.peers.join(' / ') : `${spec.limit} ${metric.unit}`;
  return {
    kind: 'ratio',
    id: spec.id ?? spec.target,
    level,
    target: spec.target,
    unit: metric.unit,
    jobsmith: spec.jobsmith,
    jobsmithValue: null,
    reference,
    referenceKind,
    referenceValue: spec.limit ?? null,
    ratio: null,
    required: spec.required,
    better: metric.better,
    status: 'not measured',
  };
}

/** One ratio target against the summary; null when its metric was not run on its Jobsmith system or on any of its peers. */
function checkRatio(spec: RatioSpec, level: TargetLevel, rowOf: (metric: string) => SummaryRow | undefined): RatioCheck | null {
  const row = rowOf(spec.metric);
  if (!row || !(spec.jobsmith in row.figures)) return null;
  const value = (system: string, of: SummaryRow = row) => of.figures[system]?.median ?? null;
  const jobsmithValue = value(spec.jobsmith);
  let reference = `${spec.limit} ${row.unit}`;
  let referenceKind: RatioCheck['referenceKind'] = 'limit';
  let referenceValue: number | null = spec.limit ?? null;
  const ratioOf = (over: number | null) => (jobsmithValue === null || over === null || over === 0 ? null : jobsmithValue / over);
  if (spec.peers) {
    if (spec.peers.every((peer) => !(peer in row.figures))) return null;
    const measured = spec.peers.filter((peer) => value(peer) !== null);
    const best = measured.sort((a, b) => (row.better === 'higher' ? value(b)! - value(a)! : value(a)! - value(b)!))[0];
    reference = best ?? spec.peers.join(' / ');
    referenceKind = 'peer';
    referenceValue = best === undefined ? null : value(best);
  }
  let ratio: number | null;
  if (spec.baseline) {
    const baselineRow = rowOf(spec.baseline.metric);
    reference = spec.baseline.label;
    referenceKind = 'baseline';
    referenceValue = baselineRow ? value(spec.jobsmith, baselineRow) : null;
    if (spec.baseline.ratioMetric === undefined) ratio = ratioOf(referenceValue);
    else {
      const ratioRow = rowOf(spec.baseline.ratioMetric);
      ratio = ratioRow ? value(spec.jobsmith, ratioRow) : null;
    }
  } else {
    ratio = ratioOf(referenceValue);
  }
  const met = ratio !== null && (row.better === 'higher' ? ratio >= spec.required : ratio <= spec.required);
  return {
    kind: 'ratio',
    id: spec.id ?? spec.target,
    level,
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
  };
}
