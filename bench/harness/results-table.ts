import type { StoreKind } from '../systems/system-adapter.ts';
import { type BenchOptions, jobsFor, runsFor } from './bench-options.ts';
import { type ComparedSystem, type Comparison, comparisons as defaultComparisons } from './comparisons.ts';
import { cappedMark, failedMark, formatFigure, formatRatio, wrongMark } from './format-figures.ts';
import type { SummaryRow } from './summarize.ts';

/** A system as the tables need it. */
export type TableSystem = ComparedSystem & { readonly label: string; readonly bulkEnqueue?: boolean };

/** One store's systems side by side, with the ratio columns that compare them, as cells ready to render. */
export interface ResultsTable {
  readonly store: StoreKind;
  readonly title: string;
  readonly header: readonly string[];
  readonly rows: ReadonlyArray<readonly string[]>;
}

/** Every store's table, and the notes that apply to them. */
export interface ResultsTables {
  readonly tables: readonly ResultsTable[];
  readonly notes: readonly string[];
}

/** Table order: the embedded store first, where Jobsmith is at home; the in-process store last, as it compares with nothing. */
const storeOrder: readonly StoreKind[] = ['sqlite', 'postgres', 'redis', 'memory'];

export const storeTitles: Readonly<Record<StoreKind, string>> = {
  sqlite: 'SQLite',
  postgres: 'PostgreSQL',
  redis: 'Redis',
  memory: 'In memory (not compared)',
};

/** Marks a system measured at a smaller size than the rest. */
export const reducedMark = '§';

/** What the tables need to know about how the figures were made. */
export type TableSizes = Pick<BenchOptions, 'jobs' | 'runs' | 'capSeconds'> & { readonly overrides?: BenchOptions['overrides'] };

/** Marks a workload that does not apply to a system. */
const notApplicable = 'n/a';
/** Marks a bulk workload on a system with no bulk call. */
const noBulkCall = 'none';

export function buildResultsTables(
  systems: readonly TableSystem[],
  rows: readonly SummaryRow[],
  sizes: TableSizes,
  comparisons: readonly Comparison[] = defaultComparisons,
): ResultsTables {
  const { runs: runsPerFigure, capSeconds } = sizes;
  const options = { ...sizes, overrides: sizes.overrides ?? {} };
  const reduced = systems.filter((system) => jobsFor(options, system.id) < options.jobs || runsFor(options, system.id) < options.runs);
  const isReduced = (system: TableSystem) => reduced.includes(system);
  const tables: ResultsTable[] = [];
  for (const store of storeOrder) {
    const members = systems.filter((system) => system.store === store);
    if (members.length === 0) continue;
    // Jobsmith first, then its peers; each group in the order given.
    const ordered = [...members.filter((system) => system.family === 'jobsmith'), ...members.filter((system) => system.family === 'peer')];
    const columns = comparisons.filter((comparison) => comparison.store === store && systems.some(comparison.jobsmith) && systems.some(comparison.peers));
    const header = [
      'Workload',
      'Unit',
      ...ordered.map((system) => (isReduced(system) ? `${system.label} ${reducedMark}` : system.label)),
      ...columns.map((comparison) => comparison.title),
    ];
    const cells = rows
      .filter((row) => ordered.some((system) => row.figures[system.id] !== null && row.figures[system.id] !== undefined))
      .map((row) => [
        row.label,
        row.unit,
        ...ordered.map((system) => figureCell(row, system)),
        ...columns.map((comparison) => {
          if (!(comparison.id in row.ratios)) return '';
          const ratio = row.ratios[comparison.id] ?? null;
          return formatRatio(ratio, ratio !== null && ratio.peersCompared > 1 ? labelOf(systems, ratio.peer) : null);
        }),
      ]);
    tables.push({ store, title: storeTitles[store], header, rows: cells });
  }

  const shownComparisons = comparisons.filter((comparison) => tables.some((table) => table.header.includes(comparison.title) && table.store === comparison.store));
  const notes = [
    runsPerFigure > 1 ? `Median of ${runsPerFigure} runs, (min–max) after it.` : 'One run per figure.',
    'Ratios: a Jobsmith median over a peer median, within one store. Above 1 is better for Jobsmith in jobs/s; below 1 is better for Jobsmith in ms, MB and bytes/job. Where several peers are compared, the best one is named after the ratio. "—": no figure to compare yet; blank: not compared on that row.',
    ...shownComparisons.map((comparison) => `*${storeTitles[comparison.store]}, ${comparison.title}:* ${comparison.explanation}.`),
  ];
  for (const system of reduced) {
    const jobs = jobsFor(options, system.id);
    const runs = runsFor(options, system.id);
    notes.push(
      `${reducedMark} ${system.label}: ${jobs.toLocaleString('en-US')} jobs per enqueue and processing run and ${runs} run${runs === 1 ? '' : 's'} per workload, to keep the benchmark within its time budget.`,
    );
  }
  const anyFigure = (test: (row: SummaryRow, system: string) => boolean) => rows.some((row) => systems.some((system) => test(row, system.id)));
  if (anyFigure((row, system) => (row.figures[system]?.cappedRuns ?? 0) > 0)) {
    notes.push(`${cappedMark} A run hit its ${capSeconds} s cap; its figure counts only the jobs done before the cap.`);
  }
  if (anyFigure((row, system) => (row.figures[system]?.wrongRuns ?? 0) > 0)) {
    notes.push(
      `${wrongMark} error: a run ran a job twice or never ran one, so its figures are wrong, not just slow (duplicateRuns and lostJobs in the results JSON; the benchmark's output lists the run).`,
    );
  }
  if (anyFigure((row, system) => (row.figures[system]?.failedRuns ?? 0) > 0)) {
    notes.push(`${failedMark} Some runs failed; the figure is over the others (see the results JSON for the errors).`);
  }
  if (systems.some((system) => system.bulkEnqueue === false) && rows.some((row) => row.metric === 'enqueue-bulk')) {
    notes.push(`${noBulkCall}: the library has no bulk enqueue call.`);
  }
  if (rows.some((row) => row.metric === 'scale-ratio')) {
    notes.push(
      'Scale ratio: the median of each run\'s own ratio (its two backlogs ran back to back, on the same machine state), so it can differ a little from the ratio of the two medians above it.',
    );
  }
  const notMeasured = (test: (row: SummaryRow) => boolean) =>
    anyFigure((row, system) => test(row) && row.figures[system] === null && !(row.metric === 'enqueue-bulk' && bulkless(systems, system)));
  const isSeveralWorkersRow = (row: SummaryRow) => row.metric.startsWith('multi-worker');
  const reasons = [
    ...(notMeasured((row) => !isScaleRow(row) && !isSeveralWorkersRow(row)) ? ['a store that lives in one process cannot take jobs from another'] : []),
    ...(notMeasured(isSeveralWorkersRow) ? ['several worker processes cannot share a store that lives in one process'] : []),
    ...(notMeasured(isScaleRow) ? ["the scale workload runs on Jobsmith's own systems only"] : []),
  ];
  if (reasons.length > 0) notes.push(`${notApplicable}: not measured for this system (${reasons.join('; ')}).`);
  return { tables, notes };
}

function isScaleRow(row: SummaryRow): boolean {
  return row.metric.startsWith('scale-');
}

function bulkless(systems: readonly TableSystem[], id: string): boolean {
  return systems.find((system) => system.id === id)?.bulkEnqueue === false;
}

function figureCell(row: SummaryRow, system: TableSystem): string {
  const figure = row.figures[system.id] ?? null;
  if (figure === null && row.metric === 'enqueue-bulk' && system.bulkEnqueue === false) return noBulkCall;
  return formatFigure(figure, row.unit);
}

function labelOf(systems: readonly TableSystem[], id: string): string {
  return systems.find((system) => system.id === id)?.label ?? id;
}

/** Aligned columns for a terminal: text left, figures right; one block per store. */
export function renderText(tables: ResultsTables): string {
  const blocks = tables.tables.map((table) => {
    const all = [table.header, ...table.rows];
    const widths = table.header.map((_, column) => Math.max(...all.map((row) => (row[column] ?? '').length)));
    const line = (row: readonly string[]) =>
      row.map((cell, column) => (column < 2 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ').trimEnd();
    const rule = widths.map((width) => '─'.repeat(width)).join('  ');
    return [`${table.title}`, line(table.header), rule, ...table.rows.map(line)].join('\n');
  });
  return [...blocks, tables.notes.join('\n')].join('\n\n');
}

/** One Markdown table per store under a heading of `headingLevel`, then the notes. */
export function renderMarkdown(tables: ResultsTables, headingLevel = 3): string {
  const line = (row: readonly string[]) => `| ${row.map((cell) => cell.replaceAll('|', '\\|')).join(' | ')} |`;
  const blocks = tables.tables.map((table) => {
    const align = table.header.map((_, column) => (column < 2 ? ':--' : '--:'));
    return [`${'#'.repeat(headingLevel)} ${table.title}`, '', line(table.header), line(align), ...table.rows.map(line)].join('\n');
  });
  return [...blocks, tables.notes.map((note) => `${note}  `).join('\n')].join('\n\n').trimEnd();
}
