import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SavedResults } from './earlier-results.ts';
import { renderReadme } from './render-readme.ts';
import type { BenchmarkResults } from './run-benchmark.ts';

/** Where a benchmark's files go; null skips that file. Injectable so tests write nothing into the repository. */
export interface OutputPaths {
  readonly resultsDirectory: string | null;
  readonly readmePath: string | null;
}

export const defaultOutputPaths: OutputPaths = {
  resultsDirectory: fileURLToPath(new URL('../results/', import.meta.url)),
  readmePath: fileURLToPath(new URL('../README.md', import.meta.url)),
};

/**
 * Writes the raw results and rewrites the README, its floors beside those of `earlier`
 * (read before this, as the results file may replace it). Returns the paths written.
 */
export async function writeOutputs(results: BenchmarkResults, paths: OutputPaths, earlier: SavedResults | null = null): Promise<string[]> {
  const written: string[] = [];
  const resultsFile = paths.resultsDirectory === null ? null : await writeResultsFile(results, paths.resultsDirectory);
  if (resultsFile !== null) written.push(resultsFile);
  if (paths.readmePath !== null) {
    await writeReadme(results, paths.readmePath, resultsFile, earlier);
    written.push(paths.readmePath);
  }
  return written;
}

/** `<directory>/<YYYY-MM-DD>.json`, the UTC date the benchmark started; a later run that day replaces it. */
export async function writeResultsFile(results: BenchmarkResults, directory: string): Promise<string> {
  await mkdir(directory, { recursive: true });
  const file = join(directory, `${results.startedAt.slice(0, 10)}.json`);
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
  return file;
}

/** Rewrites the README from `results`, linking to `resultsFile` when there is one, its floors beside `earlier`'s. */
export async function writeReadme(results: BenchmarkResults, readmePath: string, resultsFile: string | null, earlier: SavedResults | null = null): Promise<void> {
  const linkTo = (file: string) => relative(dirname(readmePath), file).split('\\').join('/');
  const link = resultsFile === null ? null : linkTo(resultsFile);
  await writeFile(readmePath, renderReadme(results, link, earlier === null ? null : { results: earlier.results, link: linkTo(earlier.file) }));
}
