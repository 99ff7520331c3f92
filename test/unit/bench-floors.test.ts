import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findEarlierResults } from '../../bench/harness/earlier-results.ts';
import { parseCli } from '../../bench/harness/parse-cli.ts';
import { renderReadme } from '../../bench/harness/render-readme.ts';
import type { BenchmarkResults } from '../../bench/harness/run-benchmark.ts';
import type { Figure, SummaryRow } from '../../bench/harness/summarize.ts';
import { checkTargets, type RatioCheck, type TargetCheck } from '../../bench/harness/targets.ts';
import { earlierFigure, renderFloorsText, renderTargetsTable } from '../../bench/harness/targets-table.ts';

// The floors of issue #21: evaluated from a results summary, rendered as rows of the
// targets table beside an earlier run's figures. Fed small fake summaries, so every
// ratio and verdict below is known in advance.

const scale = { largeBacklog: 1_000_000, smallBacklog: 10_000 };

function figure(median: number | null): Figure {
  return { median, min: median, max: median, runs: median === null ? 0 : 1, cappedRuns: 0, failedRuns: median === null ? 1 : 0 };
}

function row(metric: string, unit: SummaryRow['unit'], better: SummaryRow['better'], medians: Record<string, number | null>): SummaryRow {
  return { metric, label: metric, unit, better, figures: Object.fromEntries(Object.entries(medians).map(([system, median]) => [system, figure(median)])), ratios: {} };
}

/** SQLite full beside plainjob full, and PostgreSQL beside its peers, at figures picked to land on each side of a floor. */
const summary: SummaryRow[] = [
  row('enqueue-single', 'jobs/s', 'higher', { 'sqlite-full': 6000, 'plainjob-full': 5000 }),
  row('enqueue-bulk', 'jobs/s', 'higher', { 'sqlite-full': 70_000, 'plainjob-full': 300_000, postgres: 40_000, 'graphile-default': 45_000, 'pg-boss': 30_000, 'sidequest-postgres': null }),
  row('process-c1', 'jobs/s', 'higher', { 'sqlite-full': 3000, 'plainjob-full': 2000 }),
  row('process-c10', 'jobs/s', 'higher', { 'sqlite-full': 10_000, 'plainjob-full': 2000 }),
  row('process-c50', 'jobs/s', 'higher', { 'sqlite-full': 8000, 'plainjob-full': 2000, postgres: 12_000, 'pg-boss': 10_000 }),
  row('disk-per-job', 'bytes/job', 'lower', { 'sqlite-full': 300, 'plainjob-full': 160 }),
];

function ratioCheck(checks: readonly TargetCheck[], id: string): RatioCheck {
  const check = checks.find((candidate) => candidate.id === id);
  if (check?.kind !== 'ratio') throw new Error(`no ratio check ${id}`);
  return check;
}

describe('benchmark floors', () => {
  it('checks each floor against its reference, floors listed before aims', () => {
    const checks = checkTargets(summary, scale);
    const levels = checks.map((check) => check.level);
    expect(levels.indexOf('aim')).toBeGreaterThan(levels.lastIndexOf('floor'));

    // 3,000 / 2,000 = 1.5: exactly the floor, which is met; 10,000 / 2,000 = 5.
    expect(ratioCheck(checks, 'sqlite-full:process-c1:plainjob')).toMatchObject({ level: 'floor', ratio: 1.5, required: 1.5, reference: 'plainjob-full', status: 'met' });
    expect(ratioCheck(checks, 'sqlite-full:process-c10:plainjob')).toMatchObject({ ratio: 5, status: 'met' });
    // Its own c10 is the reference: 8,000 / 10,000.
    expect(ratioCheck(checks, 'sqlite-full:process-c50:c10')).toMatchObject({ referenceKind: 'baseline', referenceValue: 10_000, ratio: 0.8, status: 'missed' });
    expect(ratioCheck(checks, 'sqlite-full:enqueue-single:plainjob')).toMatchObject({ ratio: 1.2, status: 'met' });
    expect(ratioCheck(checks, 'sqlite-full:enqueue-bulk:plainjob').status).toBe('missed');
    // Lower is better on disk: 300 / 160 = 1.875, within 2×.
    expect(ratioCheck(checks, 'sqlite-full:disk-per-job:plainjob')).toMatchObject({ unit: 'bytes/job', better: 'lower', ratio: 1.875, required: 2, status: 'met' });
    // The best PostgreSQL peer at bulk enqueue, passing over one without a figure.
    expect(ratioCheck(checks, 'postgres:enqueue-bulk:best-peer')).toMatchObject({ reference: 'graphile-default', referenceValue: 45_000, status: 'missed' });
    expect(ratioCheck(checks, 'postgres:process-c50:pg-boss')).toMatchObject({ ratio: 1.2, status: 'met' });
  });

  it('shows a floor of a system that ran as not measured when its figures are missing, and leaves out systems that did not run', () => {
    const checks = checkTargets(summary, scale);
    // PostgreSQL ran, but neither the several-worker workload nor the scale one did.
    expect(ratioCheck(checks, 'postgres:multi-worker:pg-boss')).toMatchObject({ level: 'floor', status: 'not measured', jobsmithValue: null, ratio: null, reference: 'pg-boss' });
    expect(ratioCheck(checks, 'postgres:scale')).toMatchObject({ status: 'not measured', referenceKind: 'baseline' });
    // SQLite normal ran nothing: none of its targets is listed.
    expect(checks.some((check) => check.jobsmith === 'sqlite-normal')).toBe(false);
    // An aim whose figures are missing is left out rather than shown.
    expect(checks.some((check) => check.level === 'aim' && check.status === 'not measured')).toBe(false);
  });

  it('renders floor rows with the earlier run beside them, and aim rows without', () => {
    const checks = checkTargets(summary, scale);
    const earlierSummary = summary.map((candidate) =>
      candidate.metric === 'process-c1' ? row('process-c1', 'jobs/s', 'higher', { 'sqlite-full': 2500, 'plainjob-full': 2000 }) : candidate,
    );
    // The earlier run had no disk workload.
    const earlier = { date: '2026-11-23', checks: checkTargets(earlierSummary.filter((candidate) => candidate.metric !== 'disk-per-job'), scale) };
    const label = (id: string) => ({ 'sqlite-full': 'Jobsmith SQLite full', 'plainjob-full': 'plainjob full' })[id] ?? id;
    const table = renderTargetsTable(checks, label, earlier).split('\n');

    expect(table[0]).toBe('| Kind | Target | Jobsmith | Compared with | Ratio | Needed |  | Run before (2026-11-23) |');
    expect(table).toContain(
      '| floor | SQLite full: processing at c1 ≥ 1.5× plainjob full | Jobsmith SQLite full 3,000 jobs/s | plainjob full 2,000 jobs/s | 1.50× | ≥ 1.5× | met | 2,500 jobs/s, 1.25× |',
    );
    expect(table).toContain(
      "| floor | SQLite full: bytes on disk per completed job ≤ 2× plainjob full's | Jobsmith SQLite full 300 bytes/job | plainjob full 160 bytes/job | 1.88× | ≤ 2× | met | — |",
    );
    const aimRow = table.find((line) => line.startsWith('| aim | SQLite full: bulk enqueue'));
    expect(aimRow).toMatch(/\| \*\*missed\*\* \|  \|$/);

    // Without an earlier run, the column stays, all dashes.
    const alone = renderTargetsTable(checks, label, null).split('\n');
    expect(alone[0]).toMatch(/\| Run before \|$/);
    expect(alone.filter((line) => line.startsWith('| floor')).every((line) => line.endsWith('| — |'))).toBe(true);

    expect(earlierFigure(undefined)).toBe('—');
    expect(renderFloorsText(checks)).toMatch(/MISSED +SQLite full: processing at c50 ≥ its own at c10 \(0\.80×\)/);
  });

  it('finds the newest results of a run that started before this one, and reads --compare-with', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'jobsmith-bench-floors-'));
    try {
      const saved = (startedAt: string) => JSON.stringify({ startedAt, summary: [] });
      await writeFile(join(directory, '2026-11-01.json'), saved('2026-11-01T10:00:00.000Z'));
      await writeFile(join(directory, '2026-11-23.json'), saved('2026-11-23T20:43:38.627Z'));
      await writeFile(join(directory, '2026-12-05.json'), saved('2026-12-05T09:00:00.000Z'));
      await writeFile(join(directory, 'notes.json'), '{ not json');
      const found = await findEarlierResults(directory, '2026-12-05T09:00:00.000Z');
      expect(found?.file).toBe(join(directory, '2026-11-23.json'));
      expect(await findEarlierResults(directory, '2026-11-01T10:00:00.000Z')).toBeNull();
      expect(await findEarlierResults(join(directory, 'missing'), '2026-12-05T09:00:00.000Z')).toBeNull();
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
    expect(parseCli(['--quick', '--compare-with', 'bench/results/2026-11-23.json'])).toMatchObject({ kind: 'run', compareWith: 'bench/results/2026-11-23.json' });
    expect(parseCli(['--readme-from', 'a.json'])).toMatchObject({ kind: 'readme-from', resultsFile: 'a.json', compareWith: null });
  });

  it('writes the floors, the explanation and the earlier run into the README', async () => {
    const results = JSON.parse(await readFile(new URL('../../bench/results/2026-11-23.json', import.meta.url), 'utf8')) as BenchmarkResults;
    const readme = renderReadme(results, 'results/2026-11-23.json', { results, link: 'results/2026-11-23.json' });
    expect(readme).toContain('| Kind | Target | Jobsmith | Compared with | Ratio | Needed |  | Run before (2026-11-23) |');
    expect(readme).toContain('Here that is [the run of 2026-11-23](results/2026-11-23.json); "—": it did not measure that floor');
    // Those results predate the disk workload: its floor is not measured, in both runs.
    expect(readme).toMatch(/\| floor \| SQLite full: bytes on disk per completed job ≤ 2× plainjob full's \|.*\| not measured \| — \|/);
    expect(readme).toContain('**Bytes on disk per completed job** (SQLite only; `disk-per-job`)');
    expect(readme).toContain('`--compare-with <file>`');
    expect(renderReadme(results, null)).toContain('There was no earlier results file to compare with');
  });
});
