import { UnknownOptionError } from './errors.ts';

/**
 * Refuses a key of `options` that is not in `known`, suggesting the nearest known one. A
 * misspelled option (`timout`, `maxAttempt`) would otherwise be ignored and its default
 * used, which no test of the happy path notices. `where` names the options object in the
 * error ("the enqueue options", "createWorker options"), or a function that writes it, called
 * only for the error (a check run per job need not build the text per job). A value that is
 * not an object is left to the caller's own check.
 */
export function assertKnownOptions(options: unknown, known: readonly string[], where: string | (() => string)): void {
  if (options === undefined || options === null || typeof options !== 'object') return;
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw new UnknownOptionError(key, typeof where === 'string' ? where : where(), nearest(key, known), known);
  }
}

/** The known option closest to `key`: same letters in another case, or at most a third of them wrong (at least 2). */
function nearest(key: string, known: readonly string[]): string | null {
  const lower = key.toLowerCase();
  let best: string | null = null;
  let bestDistance = Math.max(2, Math.floor(key.length / 3)) + 1;
  for (const option of known) {
    const distance = editDistance(lower, option.toLowerCase());
    if (distance < bestDistance) {
      best = option;
      bestDistance = distance;
    }
  }
  return best;
}

/** Levenshtein distance, with one row of memory. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
