import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCli } from '../bench/harness/parse-cli.ts';
import { buildResultsTable, renderText } from '../bench/harness/results-table.ts';
import { type BenchmarkResults, runBenchmark } from '../bench/harness/run-benchmark.ts';
import { defaultOutputPaths, writeOutputs } from '../bench/harness/write-outputs.ts';

// Checks that the benchmark harness works end to end at a tiny size. It asserts what
// was measured (every job ran, figures exist and are positive), never how fast.

const jobs = 200;
const latencyJobs = 50;

/** Modification time of a file the smoke run must leave alone, or null when absent. */
async function modifiedAt(path: string): Promise<number | null> {
  return stat(path).then(
    (info) => info.mtimeMs,
    () => null,
  );
}

describe('benchmark harness', () => {
  it('reads the command line', () => {
    const quick = parseCli(['--quick']);
    expect(quick).toMatchObject({ kind: 'run', writeFiles: false, options: { runs: 1 } });
    const chosen = parseCli(['--systems', 'sqlite-normal,memory', '--workloads', 'latency,enqueue-bulk', '--jobs', '300', '--runs', '5']);
    expect(chosen).toMatchObject({
      kind: 'run',
      writeFiles: true,
      options: { systems: ['sqlite-normal', 'memory'], workloads: ['enqueue-bulk', 'latency', 'latency-remote'], jobs: 300, runs: 5 },
    });
    expect(() => parseCli(['--systems', 'nope'])).toThrow(/unknown system/);
    expect(() => parseCli(['--jobs', '0'])).toThrow(/above 0/);
  });

  it('measures enqueue, processing and latency on memory and SQLite', async () => {
    const readmeBefore = await modifiedAt(defaultOutputPaths.readmePath!);
    const results: BenchmarkResults = await runBenchmark(
      {
        systems: ['memory', 'sqlite-full'],
        workloads: ['enqueue-single', 'enqueue-bulk', 'process-c10', 'latency'],
        jobs,
        runs: 1,
        capSeconds: 30,
        latency: { ratePerSecond: 100, seconds: latencyJobs / 100 },
      },
      { command: 'bench smoke test' },
    );

    // Four workloads × two systems × one run, each in the order planned.
    expect(results.runs.map((run) => `${run.workload}/${run.system}`)).toEqual([
      'enqueue-single/memory',
      'enqueue-single/sqlite-full',
      'enqueue-bulk/memory',
      'enqueue-bulk/sqlite-full',
      'process-c10/memory',
      'process-c10/sqlite-full',
      'latency/memory',
      'latency/sqlite-full',
    ]);
    for (const run of results.runs) {
      expect(run.error, `${run.workload} on ${run.system}`).toBeNull();
      const outcome = run.outcome!;
      expect(outcome.capped).toBe(false);
      if (outcome.kind === 'throughput') {
        expect(outcome).toMatchObject({ target: jobs, completed: jobs, duplicateRuns: 0 });
        expect(outcome.jobsPerSecond).toBeGreaterThan(0);
        expect(Number.isFinite(outcome.jobsPerSecond)).toBe(true);
        if (run.workload === 'process-c10') expect(outcome.workerMemory?.peakRssBytes).toBeGreaterThan(0);
        else expect(outcome.workerMemory).toBeNull();
      } else {
        expect(outcome).toMatchObject({ target: latencyJobs, sent: latencyJobs, received: latencyJobs });
        expect(outcome.p50Ms).toBeGreaterThan(0);
        expect(outcome.p50Ms).toBeLessThanOrEqual(outcome.p95Ms);
        expect(outcome.p95Ms).toBeLessThanOrEqual(outcome.p99Ms);
      }
    }

    expect(results.summary.map((row) => row.metric)).toEqual([
      'enqueue-single',
      'enqueue-bulk',
      'process-c10',
      'latency-p50',
      'latency-p95',
      'latency-p99',
      'rss-c10',
    ]);
    for (const row of results.summary) {
      for (const system of ['memory', 'sqlite-full']) {
        expect(row.figures[system]).toMatchObject({ runs: 1, cappedRuns: 0, failedRuns: 0 });
        expect(row.figures[system]?.median).toBeGreaterThan(0);
      }
      // No peers yet, so nothing to compare with.
      expect(row.jobsmithVsBestPeer).toBeNull();
    }
    expect(results.machine.cores).toBeGreaterThan(0);
    expect(results.systems.map((system) => system.family)).toEqual(['jobsmith', 'jobsmith']);

    const text = renderText(buildResultsTable(results.systems, results.summary, 1, 30));
    expect(text).toContain('Jobsmith SQLite full');
    expect(text).toContain('—');

    // Outputs go where they are told: a temporary directory, never bench/.
    const directory = await mkdtemp(join(tmpdir(), 'jobsmith-bench-smoke-'));
    try {
      const written = await writeOutputs(results, { resultsDirectory: join(directory, 'results'), readmePath: join(directory, 'README.md') });
      expect(written).toHaveLength(2);
      const saved = JSON.parse(await readFile(written[0]!, 'utf8')) as BenchmarkResults;
      expect(saved.runs).toHaveLength(results.runs.length);
      const readme = await readFile(join(directory, 'README.md'), 'utf8');
      expect(readme).toContain('| Workload | Unit | Jobsmith memory | Jobsmith SQLite full | Jobsmith ÷ best peer |');
      expect(readme).toContain('bench smoke test');
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
    expect(await modifiedAt(defaultOutputPaths.readmePath!)).toBe(readmeBefore);
  }, 60_000);
});
