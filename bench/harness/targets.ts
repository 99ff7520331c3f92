/**
 * The performance targets Jobsmith is held to, checked against a benchmark's medians.
 * Each compares one Jobsmith system with a reference (a peer's figure, or a fixed
 * number) on one metric; a target whose figures were not all measured is "not measured".
 */
import type { MetricUnit } from './metrics.ts';
import type { SummaryRow } from './summarize.ts';

export interface TargetCheck {
  readonly target: string;
  readonly unit: MetricUnit;
  /** The Jobsmith system and its median. */
  readonly jobsmith: string;
  readonly jobsmithValue: number | null;
  /** What it is compared with: a system id, or a fixed limit. */
  readonly reference: string;
  readonly referenceValue: number | null;
  /** Jobsmith over the reference (for a fixed limit, over the limit). */
  readonly ratio: number | null;
  /** The ratio the target asks for: at least it (jobs/s) or at most it (ms, MB). */
  readonly required: number;
  readonly better: 'higher' | 'lower';
  readonly status: 'met' | 'missed' | 'not measured';
}

interface TargetSpec {
  readonly target: string;
  readonly metric: string;
  readonly jobsmith: string;
  /** The best of these peers is the reference… */
  readonly peers?: readonly string[];
  /** …or this fixed limit, in the metric's unit. */
  readonly limit?: number;
  readonly required: number;
}

const graphile = ['graphile-default', 'graphile-best'];
const sqlitePeers = { full: ['plainjob-full', 'sidequest-sqlite'], normal: ['plainjob-normal'] } as const;

function specs(): TargetSpec[] {
  const list: TargetSpec[] = [
    { target: 'PostgreSQL: processing at c50 ≥ 1.5× Graphile Worker batched', metric: 'process-c50', jobsmith: 'postgres', peers: ['graphile-best'], required: 1.5 },
    { target: 'PostgreSQL: single enqueue ≥ 3× Graphile Worker', metric: 'enqueue-single', jobsmith: 'postgres', peers: graphile, required: 3 },
    { target: 'PostgreSQL: bulk enqueue ≥ 1.5× Graphile Worker', metric: 'enqueue-bulk', jobsmith: 'postgres', peers: graphile, required: 1.5 },
    { target: 'PostgreSQL: p99 latency ≤ 5 ms (producer in worker process)', metric: 'latency-p99', jobsmith: 'postgres', limit: 5, required: 1 },
    { target: 'PostgreSQL: p99 latency ≤ 5 ms (producer in another process)', metric: 'latency-remote-p99', jobsmith: 'postgres', limit: 5, required: 1 },
  ];
  for (const mode of ['full', 'normal'] as const) {
    const jobsmith = `sqlite-${mode}`;
    list.push(
      { target: `SQLite ${mode}: processing at c50 ≥ 3× BullMQ (Redis)`, metric: 'process-c50', jobsmith, peers: ['bullmq'], required: 3 },
      { target: `SQLite ${mode}: processing at c50 ≥ 5× the best SQLite peer (${mode})`, metric: 'process-c50', jobsmith, peers: sqlitePeers[mode], required: 5 },
      { target: `SQLite ${mode}: single enqueue ≥ the best SQLite peer (${mode})`, metric: 'enqueue-single', jobsmith, peers: sqlitePeers[mode], required: 1 },
      { target: `SQLite ${mode}: bulk enqueue ≥ the best SQLite peer (${mode})`, metric: 'enqueue-bulk', jobsmith, peers: sqlitePeers[mode], required: 1 },
    );
  }
  for (const jobsmith of ['memory', 'sqlite-full', 'sqlite-normal', 'postgres']) {
    for (const concurrency of [1, 10, 50]) {
      list.push({ target: `Worker RSS ≤ BullMQ's (${jobsmith}, c${concurrency})`, metric: `rss-c${concurrency}`, jobsmith, peers: ['bullmq'], required: 1 });
    }
  }
  return list;
}

export function checkTargets(summary: readonly SummaryRow[]): TargetCheck[] {
  const checks: TargetCheck[] = [];
  for (const spec of specs()) {
    const row = summary.find((candidate) => candidate.metric === spec.metric);
    if (!row || !(spec.jobsmith in row.figures)) continue;
    const value = (system: string) => row.figures[system]?.median ?? null;
    const jobsmithValue = value(spec.jobsmith);
    let reference = `${spec.limit} ${row.unit}`;
    let referenceValue: number | null = spec.limit ?? null;
    if (spec.peers) {
      const measured = spec.peers.filter((peer) => value(peer) !== null);
      if (spec.peers.every((peer) => !(peer in row.figures))) continue;
      const best = measured.sort((a, b) => (row.better === 'higher' ? value(b)! - value(a)! : value(a)! - value(b)!))[0];
      reference = best ?? spec.peers.join(' / ');
      referenceValue = best === undefined ? null : value(best);
    }
    const ratio = jobsmithValue === null || referenceValue === null || referenceValue === 0 ? null : jobsmithValue / referenceValue;
    const met = ratio !== null && (row.better === 'higher' ? ratio >= spec.required : ratio <= spec.required);
    checks.push({
      target: spec.target,
      unit: row.unit,
      jobsmith: spec.jobsmith,
      jobsmithValue,
      reference,
      referenceValue,
      ratio,
      required: spec.required,
      better: row.better,
      status: ratio === null ? 'not measured' : met ? 'met' : 'missed',
    });
  }
  return checks;
}
