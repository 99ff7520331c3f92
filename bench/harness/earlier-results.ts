import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { BenchmarkResults } from './run-benchmark.ts';

/** A saved run, with the file it came from. */
export interface SavedResults {
  readonly file: string;
  readonly results: BenchmarkResults;
}

/** Reads a results file written by `npm run bench`. */
export async function readResultsFile(file: string): Promise<SavedResults> {
  const path = resolve(file);
  const results = JSON.parse(await readFile(path, 'utf8')) as BenchmarkResults;
  if (typeof results.startedAt !== 'string' || !Array.isArray(results.summary)) {
    throw new Error(`${path} is not a benchmark results file (no startedAt or summary)`);
  }
  return { file: path, results };
}

/**
 * The newest results in `directory` whose run started before `startedAt`: the run the
 * floors are shown beside by default. Read before a new run writes its own file, since a
 * later run on the same day replaces that day's file. Files that are not results (or do
 * not parse) are passed over; null when there is no earlier run.
 */
export async function findEarlierResults(directory: string, startedAt: string): Promise<SavedResults | null> {
  const names = await readdir(directory).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  let newest: SavedResults | null = null;
  for (const name of names.filter((candidate) => candidate.endsWith('.json')).sort()) {
    const saved = await readResultsFile(join(directory, name)).catch(() => null);
    if (saved === null || !(saved.results.startedAt < startedAt)) continue;
    if (newest === null || saved.results.startedAt > newest.results.startedAt) newest = saved;
  }
  return newest;
}
