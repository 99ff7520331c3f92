import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultBenchOptions, jobsFor, runsFor } from '../bench/harness/bench-options.ts';
import { metrics } from '../bench/harness/metrics.ts';
import type { RunRecord } from '../bench/harness/measure-run.ts';
import { parseCli } from '../bench/harness/parse-cli.ts';
import { buildResultsTables, renderMarkdown, renderText, type TableSystem } from '../bench/harness/results-table.ts';
import { type BenchmarkResults, runBenchmark } from '../bench/harness/run-benchmark.ts';
import { summarize } from '../bench/harness/summarize.ts';
import { defaultOutputPaths, writeOutputs } from '../bench/harness/write-outputs.ts';
import { knownSystemIds, loadSystem, needsPeerPackages } from '../bench/systems/registry.ts';
import { requireServers } from './support/index.ts';

// Checks that the benchmark harness works end to end at a tiny size. It asserts what
// was measured (every job ran, figures exist and are positive), never how fast. It never
// installs or runs the peer libraries (bench/package.json): only Jobsmith's own systems.

const jobs = 200;
const latencyJobs = 50;
const servers = requireServers('postgres');

/** Modification time of a file the smoke run must leave alone, or null when absent. */
async function modifiedAt(path: string): Promise<number | null> {
  return stat(path).then(
    (info) => info.mtimeMs,
    () => null,
  );
}

/** Every run finished without error, cap or duplicate, and did all its jobs. */
function expectCompleteRuns(results: BenchmarkResults): void {
  for (const run of results.runs) {
    expect(run.error, `${run.workload} on ${run.system}`).toBeNull();
    const outcome = run.outcome!;
    expect(outcome.capped).toBe(false);
    if (outcome.kind === 'throughput') {
      expect(outcome).toMatchObject({ target: jobs, completed: jobs, duplicateRuns: 0 });
      expect(outcome.jobsPerSecond).toBeGreaterThan(0);
      expect(Number.isFinite(outcome.jobsPerSecond)).toBe(true);
      if (run.workload.startsWith('process-')) expect(outcome.workerMemory?.peakRssBytes).toBeGreaterThan(0);
      else expect(outcome.workerMemory).toBeNull();
    } else {
      expect(outcome).toMatchObject({ target: latencyJobs, sent: latencyJobs, received: latencyJobs });
      expect(outcome.p50Ms).toBeGreaterThan(0);
      expect(outcome.p50Ms).toBeLessThanOrEqual(outcome.p95Ms);
      expect(outcome.p95Ms).toBeLessThanOrEqual(outcome.p99Ms);
    }
  }
}

const tinyOptions = {
  jobs,
  runs: 1,
  capSeconds: 30,
  latency: { ratePerSecond: 100, seconds: latencyJobs / 100 },
  overrides: {},
} as const;

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

    // Slow peers run smaller by default; the command line adds to or changes that, never above --jobs/--runs.
    const sized = parseCli(['--jobs', '1000', '--runs-for', 'bullmq=1', '--jobs-for', 'sidequest-sqlite=5000']);
    if (sized.kind !== 'run') throw new Error('expected a run');
    expect(runsFor(sized.options, 'bullmq')).toBe(1);
    expect(runsFor(sized.options, 'postgres')).toBe(3);
    expect(jobsFor(sized.options, 'sidequest-sqlite')).toBe(1000);
    expect(jobsFor(sized.options, 'sidequest-postgres')).toBe(Math.min(1000, defaultBenchOptions.overrides['sidequest-postgres']?.jobs ?? 1000));
    expect(() => parseCli(['--runs-for', 'nope=1'])).toThrow(/unknown system/);
    expect(() => parseCli(['--runs-for', 'bullmq'])).toThrow(/id=n/);
  });

  it('lists the peers without needing their packages until they connect', async () => {
    expect(knownSystemIds).toEqual(expect.arrayContaining(['postgres', 'graphile-default', 'graphile-best', 'pg-boss', 'plainjob-full', 'bullmq', 'bee-queue']));
    expect(needsPeerPackages(['memory', 'sqlite-full', 'postgres'])).toBe(false);
    expect(needsPeerPackages(['sqlite-full', 'plainjob-full'])).toBe(true);
    for (const id of knownSystemIds) {
      // Loading an adapter imports no peer library, so this works on a fresh clone without bench/node_modules.
      const system = await loadSystem(id);
      expect(system.id).toBe(id);
      expect(system.settings.length).toBeGreaterThan(0);
      if (system.store === 'sqlite') expect(system.durability).toMatch(/^(full|normal)$/);
    }
  });

  it('compares Jobsmith with peers on the same store only', () => {
    const systems: TableSystem[] = [
      { id: 'memory', label: 'Jobsmith memory', family: 'jobsmith', store: 'memory', bulkEnqueue: true },
      { id: 'sqlite-full', label: 'Jobsmith SQLite full', family: 'jobsmith', store: 'sqlite', durability: 'full', bulkEnqueue: true },
      { id: 'peer-full', label: 'Peer full', family: 'peer', store: 'sqlite', durability: 'full', bulkEnqueue: false },
      { id: 'postgres', label: 'Jobsmith PostgreSQL', family: 'jobsmith', store: 'postgres', bulkEnqueue: true },
      { id: 'peer-pg', label: 'Peer PG', family: 'peer', store: 'postgres', bulkEnqueue: true },
      { id: 'bullmq', label: 'BullMQ', family: 'peer', store: 'redis', bulkEnqueue: true },
    ];
    const rates: Record<string, number> = { memory: 100_000, 'sqlite-full': 6000, 'peer-full': 2000, postgres: 3000, 'peer-pg': 1000, bullmq: 1500 };
    const run = (system: string, workload: RunRecord['workload'], jobsPerSecond: number): RunRecord => ({
      system,
      workload,
      run: 1,
      startedAt: '',
      error: null,
      outcome: { kind: 'throughput', target: 1, completed: 1, elapsedMs: 1, jobsPerSecond, capped: false, workerMemory: null, duplicateRuns: 0 },
    });
    const runs = [
      ...systems.map((system) => run(system.id, 'process-c50', rates[system.id]!)),
      ...systems.filter((system) => system.bulkEnqueue).map((system) => run(system.id, 'enqueue-bulk', rates[system.id]!)),
    ];
    const summary = summarize(systems, metrics, runs);
    const c50 = summary.find((row) => row.metric === 'process-c50')!;
    // Memory's 100,000 jobs/s is in no ratio: each store is compared with itself.
    expect(c50.ratios['sqlite-full']).toMatchObject({ ratio: 3, jobsmith: 'sqlite-full', peer: 'peer-full' });
    expect(c50.ratios['sqlite-vs-bullmq']).toMatchObject({ ratio: 4, peer: 'bullmq' });
    expect(c50.ratios.postgres).toMatchObject({ ratio: 3, peer: 'peer-pg' });
    expect(c50.ratios['sqlite-normal']).toBeNull();
    const bulk = summary.find((row) => row.metric === 'enqueue-bulk')!;
    expect(bulk.ratios['sqlite-full']).toBeNull();
    expect(bulk.ratios).not.toHaveProperty('sqlite-vs-bullmq');

    const tables = buildResultsTables(systems, summary, { jobs: 1000, runs: 1, capSeconds: 30 });
    expect(tables.tables.map((table) => table.title)).toEqual(['SQLite', 'PostgreSQL', 'Redis', 'In memory (not compared)']);
    const sqlite = tables.tables[0]!;
    expect(sqlite.header).toEqual([
      'Workload',
      'Unit',
      'Jobsmith SQLite full',
      'Peer full',
      'full: Jobsmith ÷ best peer',
      'Jobsmith SQLite ÷ BullMQ (Redis)',
    ]);
    expect(sqlite.rows).toContainEqual(['Enqueue, 1,000 per call', 'jobs/s', '6,000', 'none', '—', '']);
    expect(sqlite.rows).toContainEqual(['Process backlog, concurrency 50', 'jobs/s', '6,000', '2,000', '3.00×', '4.00×']);
    expect(renderMarkdown(tables)).toContain('### PostgreSQL');
    expect(tables.notes.join('\n')).toContain('none: the library has no bulk enqueue call.');
  });

  it('measures enqueue, processing and latency on memory and SQLite', async () => {
    const readmeBefore = await modifiedAt(defaultOutputPaths.readmePath!);
    const results: BenchmarkResults = await runBenchmark(
      { ...tinyOptions, systems: ['memory', 'sqlite-full'], workloads: ['enqueue-single', 'enqueue-bulk', 'process-c10', 'latency'] },
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
    expectCompleteRuns(results);

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
      // No peers, so nothing to compare with.
      for (const ratio of Object.values(row.ratios)) expect(ratio).toBeNull();
    }
    expect(results.machine.cores).toBeGreaterThan(0);
    expect(results.systems.map((system) => [system.family, system.store])).toEqual([
      ['jobsmith', 'memory'],
      ['jobsmith', 'sqlite'],
    ]);
    // Neither needs a server.
    expect(results.services).toEqual([]);

    const text = renderText(buildResultsTables(results.systems, results.summary, results.options));
    expect(text).toContain('Jobsmith SQLite full');
    expect(text).toContain('In memory (not compared)');

    // Outputs go where they are told: a temporary directory, never bench/.
    const directory = await mkdtemp(join(tmpdir(), 'jobsmith-bench-smoke-'));
    try {
      const written = await writeOutputs(results, { resultsDirectory: join(directory, 'results'), readmePath: join(directory, 'README.md') });
      expect(written).toHaveLength(2);
      const saved = JSON.parse(await readFile(written[0]!, 'utf8')) as BenchmarkResults;
      expect(saved.runs).toHaveLength(results.runs.length);
      const readme = await readFile(join(directory, 'README.md'), 'utf8');
      expect(readme).toContain('| Workload | Unit | Jobsmith SQLite full |');
      expect(readme).toContain('| Workload | Unit | Jobsmith memory |');
      expect(readme).toContain('bench smoke test');
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
    expect(await modifiedAt(defaultOutputPaths.readmePath!)).toBe(readmeBefore);
  }, 60_000);

  describe.skipIf(servers.skip)('on PostgreSQL', () => {
    it('starts a throwaway server and measures Jobsmith PostgreSQL on a fresh database per run', async () => {
      const results = await runBenchmark(
        { ...tinyOptions, systems: ['postgres'], workloads: ['enqueue-bulk', 'process-c10', 'latency-remote'] },
        { command: 'bench smoke test' },
      );
      expect(results.runs.map((run) => `${run.workload}/${run.system}`)).toEqual(['enqueue-bulk/postgres', 'process-c10/postgres', 'latency-remote/postgres']);
      expectCompleteRuns(results);
      expect(results.services.map((service) => service.kind)).toEqual(['postgres']);
      expect(results.systems[0]).toMatchObject({ id: 'postgres', family: 'jobsmith', store: 'postgres' });
    }, 60_000);
  });
});
