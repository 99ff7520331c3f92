import type { MetricUnit } from './metrics.ts';
import type { Figure, PeerRatio } from './summarize.ts';

/** Marks a figure from a run that hit its time cap. */
export const cappedMark = '†';
/** Marks a figure from which some runs are missing because they failed. */
export const failedMark = '‡';
/** Marks a figure from a run that ran a job twice or never ran one: wrong, not just slow. */
export const wrongMark = '✗';

const grouped = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** A number at the precision its unit deserves: whole jobs/s, MB and counts, ratios to two decimals, ms to about three significant digits. */
export function formatValue(value: number, unit: MetricUnit): string {
  if (unit === 'jobs/s' || unit === 'runs' || unit === 'jobs' || unit === 'bytes/job') return grouped.format(value);
  if (unit === 'MB') return value.toFixed(0);
  if (unit === '×') return value.toFixed(2);
  const digits = value < 10 ? 2 : value < 100 ? 1 : 0;
  return value.toFixed(digits);
}

/** `median (min–max)`, with marks for capped, wrong or failed runs; `n/a` where the workload does not apply. */
export function formatFigure(figure: Figure | null, unit: MetricUnit): string {
  if (figure === null) return 'n/a';
  const marks =
    (figure.cappedRuns > 0 ? ` ${cappedMark}` : '') + ((figure.wrongRuns ?? 0) > 0 ? ` ${wrongMark} error` : '') + (figure.failedRuns > 0 ? ` ${failedMark}` : '');
  if (figure.median === null || figure.min === null || figure.max === null) return `failed${marks}`;
  const range = figure.runs > 1 ? ` (${formatValue(figure.min, unit)}–${formatValue(figure.max, unit)})` : '';
  return `${formatValue(figure.median, unit)}${range}${marks}`;
}

/** The ratio, naming the peer when given, or a dash while there is no peer to compare with. */
export function formatRatio(ratio: PeerRatio | null, peerLabel: string | null = null): string {
  if (ratio === null) return '—';
  return `${ratio.ratio.toFixed(2)}×${peerLabel === null ? '' : ` (${peerLabel})`}`;
}
