import type { SystemAdapter } from '../systems/system-adapter.ts';
import { cappedMark, failedMark, formatFigure, formatRatio } from './format-figures.ts';
import type { SummaryRow } from './summarize.ts';

/** The summary as cells, ready to render as text or Markdown. */
export interface ResultsTable {
  readonly header: readonly string[];
  readonly rows: ReadonlyArray<readonly string[]>;
  readonly notes: readonly string[];
}

export const ratioColumnTitle = 'Jobsmith ÷ best peer';

export function buildResultsTable(
  systems: ReadonlyArray<Pick<SystemAdapter, 'id' | 'label'>>,
  rows: readonly SummaryRow[],
  runsPerFigure: number,
  capSeconds: number,
): ResultsTable {
  const header = ['Workload', 'Unit', ...systems.map((system) => system.label), ratioColumnTitle];
  const cells = rows.map((row) => [
    row.label,
    row.unit,
    ...systems.map((system) => formatFigure(row.figures[system.id] ?? null, row.unit)),
    formatRatio(row.jobsmithVsBestPeer),
  ]);
  const anyFigure = (test: (row: SummaryRow, system: string) => boolean) => rows.some((row) => systems.some((system) => test(row, system.id)));
  const notes = [
    runsPerFigure > 1 ? `Median of ${runsPerFigure} runs, (min–max) after it.` : 'One run per figure.',
    `${ratioColumnTitle}: the best Jobsmith median over the best peer median. Above 1 is better for jobs/s; below 1 is better for ms and MB. "—" until a peer is measured.`,
  ];
  if (anyFigure((row, system) => (row.figures[system]?.cappedRuns ?? 0) > 0)) {
    notes.push(`${cappedMark} A run hit its ${capSeconds} s cap; its figure counts only the jobs done before the cap.`);
  }
  if (anyFigure((row, system) => (row.figures[system]?.failedRuns ?? 0) > 0)) {
    notes.push(`${failedMark} Some runs failed; the figure is over the others (see the results JSON for the errors).`);
  }
  if (anyFigure((row, system) => row.figures[system] === null)) {
    notes.push('n/a: not measured for this system (a store that lives in one process cannot take jobs from another).');
  }
  return { header, rows: cells, notes };
}

/** Aligned columns for a terminal: text left, figures right. */
export function renderText(table: ResultsTable): string {
  const all = [table.header, ...table.rows];
  const widths = table.header.map((_, column) => Math.max(...all.map((row) => (row[column] ?? '').length)));
  const line = (row: readonly string[]) =>
    row.map((cell, column) => (column < 2 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ').trimEnd();
  const rule = widths.map((width) => '─'.repeat(width)).join('  ');
  return [line(table.header), rule, ...table.rows.map(line), '', ...table.notes].join('\n');
}

export function renderMarkdown(table: ResultsTable): string {
  const line = (row: readonly string[]) => `| ${row.map((cell) => cell.replaceAll('|', '\\|')).join(' | ')} |`;
  const align = table.header.map((_, column) => (column < 2 ? ':--' : '--:'));
  return [line(table.header), line(align), ...table.rows.map(line), '', ...table.notes.map((note) => `${note}  `)].join('\n').trimEnd();
}
