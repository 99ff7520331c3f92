import { formatValue } from './format-figures.ts';
import type { RatioCheck, TargetCheck } from './targets.ts';

/** An earlier run's checks, to show each floor's figures from it beside this run's. */
export interface EarlierChecks {
  /** The earlier run's start date (YYYY-MM-DD), for the column's title. */
  readonly date: string;
  readonly checks: readonly TargetCheck[];
}

/** Shown where a figure is missing: the earlier run did not measure it, or there is no earlier run. */
const noFigure = '—';

/**
 * The targets as a Markdown table, floors first (as `checkTargets` orders them), each row
 * marked `floor` or `aim`. Floor rows end with the same target's Jobsmith figure and ratio
 * in `earlier`, found by the target's id; aim rows leave that column blank.
 */
export function renderTargetsTable(targets: readonly TargetCheck[], label: (id: string) => string, earlier: EarlierChecks | null): string {
  const statusText = (status: TargetCheck['status']) => (status === 'met' ? 'met' : status === 'missed' ? '**missed**' : 'not measured');
  const earlierById = new Map((earlier?.checks ?? []).map((check) => [check.id, check]));
  const lines = targets.map((check) => {
    const kind = check.level;
    const before = check.level === 'floor' ? earlierFigure(earlierById.get(check.id)) : '';
    if (check.kind === 'never') {
      const counts = check.counts.map((count) => `${count.worst === null ? 'not measured' : count.worst.toLocaleString('en-US')} ${count.what}`).join(', ');
      return row([kind, check.target, `${label(check.jobsmith)}: ${counts} (its worst run)`, '', '', 'none', statusText(check.status), before]);
    }
    const figure = (value: number | null) => figureText(value, check);
    const reference =
      check.referenceKind === 'limit'
        ? check.reference
        : check.referenceKind === 'baseline'
          ? `${label(check.jobsmith)} ${check.reference} ${figure(check.referenceValue)}`
          : `${label(check.reference)} ${figure(check.referenceValue)}`;
    const ratio = check.ratio === null ? noFigure : `${check.ratio.toFixed(2)}×`;
    const required = `${check.better === 'higher' ? '≥' : '≤'} ${check.required}×`;
    return row([kind, check.target, `${label(check.jobsmith)} ${figure(check.jobsmithValue)}`, reference, ratio, required, statusText(check.status), before]);
  });
  const beforeTitle = earlier === null ? 'Run before' : `Run before (${earlier.date})`;
  return [row(['Kind', 'Target', 'Jobsmith', 'Compared with', 'Ratio', 'Needed', '', beforeTitle]), '| :-- | :-- | --: | --: | --: | --: | :-- | --: |', ...lines].join('\n');
}

/** The earlier run's Jobsmith figure and ratio for a floor, or a dash where it has neither. */
export function earlierFigure(check: TargetCheck | undefined): string {
  if (check === undefined || check.kind !== 'ratio' || check.jobsmithValue === null) return noFigure;
  const ratio = check.ratio === null ? '' : `, ${check.ratio.toFixed(2)}×`;
  return `${figureText(check.jobsmithValue, check)}${ratio}`;
}

function figureText(value: number | null, check: Pick<RatioCheck, 'unit'>): string {
  return value === null ? 'not measured' : `${formatValue(value, check.unit)} ${check.unit}`;
}

function row(cells: readonly string[]): string {
  return `| ${cells.join(' | ')} |`;
}

/** The floors for a terminal, one line each, so a dry run shows them too; empty when none was measured. */
export function renderFloorsText(targets: readonly TargetCheck[]): string {
  const floors = targets.filter((check) => check.level === 'floor');
  if (floors.length === 0) return '';
  const status = (check: TargetCheck) => (check.status === 'missed' ? 'MISSED' : check.status);
  const width = Math.max(...floors.map((check) => status(check).length));
  const lines = floors.map((check) => {
    const ratio = check.kind === 'ratio' && check.ratio !== null ? ` (${check.ratio.toFixed(2)}×)` : '';
    return `  ${status(check).padEnd(width)}  ${check.target}${ratio}`;
  });
  return ['Floors', ...lines].join('\n');
}
