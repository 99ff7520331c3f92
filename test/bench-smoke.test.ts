import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { defaultBenchOptions, jobsFor, runsFor } from '../bench/harness/bench-options.ts';
import { benchMetrics } from '../bench/harness/metrics.ts';
import type { RunRecord } from '../bench/harness/measure-run.ts';
import type { RunOutcome } from '../bench/harness/run-outcome.ts';
import { parseCli } from '../bench/harness/parse-cli.ts';
import { buildResultsTables, renderMarkdown, renderText, type TableSystem } from '../bench/harness/results-table.ts';
import { type BenchmarkResults, runBenchmark } from '../bench/harness/run-benchmark.ts';
import { startServices } from '../bench/harness/services.ts';
import { summarize } from '../bench/harness/summarize.ts';
import { checkTargets } from '../bench/harness/targets.ts';
import { multiWorkerProcesses } from '../bench/harness/workloads.ts';
import { defaultOutputPaths, writeOutputs } from '../bench/harness/write-outputs.ts';
import { knownSystemIds, loadSystem, needsPeerPackages } from '../bench/systems/registry.ts';
import { requireServers } from './support/index.ts';

// Checks that the benchmark harness works end to end at a tiny size. It asserts what
// was measured (every job ran, figures exist and are positive), never how fast. It never
// installs or runs the peer libraries (bench/package.json): only Jobsmith's own systems.

const jobs = 200;
const latencyJobs = 50;
/** The scale workload's two backlogs; it times as many jobs as the small one holds. */
const scale = { largeBacklog: 2000, smallBacklog: 200 } as const;
const servers = requireServers('postgres');

/** Modification time of a file the smoke run must leave alone, or null when absent. */
async function modifiedAt(path: string): Promise<number | null> {
  return stat(path).then(
    (info) => info.mtimeMs,
    () => null,
  );
}

/** Every run finished without error, cap or duplicate, and did all its jobs, each exactly once. */
function expectCompleteRuns(results: BenchmarkResults): void {
  for (const run of results.runs) {
    expect(run.error, `${run.workload} on ${run.system}`).toBeNull();
    const outcome = run.outcome!;
    expect(outcome.capped).toBe(false);
    if (outcome.kind === 'scale') {
      expect(outcome).toMatchObject({ timedJobs: scale.smallBacklog, duplicateRuns: 0 });
      expect([outcome.small.backlog, outcome.large.backlog]).toEqual([scale.smallBacklog, scale.largeBacklog]);
      for (const side of [outcome.small, outcome.large]) {
        expect(side.processing).toMatchObject({ target: scale.smallBacklog, completed: scale.smallBacklog, duplicateRuns: 0, capped: false });
        expect(side.processing.jobsPerSecond).toBeGreaterThan(0);
        // A store other processes can reach is filled by the parent, which times it; an in-process one by the worker's process.
        if (run.system === 'memory') expect(side.fillMs).toBeNull();
        else expect(side.fillMs).toBeGreaterThan(0);
      }
      expect(outcome.largeOverSmall).toBeGreaterThan(0);
      expect(Number.isFinite(outcome.largeOverSmall)).toBe(true);
    } else if (outcome.kind === 'multi-worker') {
      // Every job ran exactly once across the worker processes, and the work was shared out among all of them.
      expect(outcome).toMatchObject({ processes: multiWorkerProcesses, target: jobs, completed: jobs, duplicateRuns: 0, lostJobs: 0 });
      expect(outcome.runsPerWorker).toHaveLength(multiWorkerProcesses);
      expect(outcome.runsPerWorker.reduce((sum, runs) => sum + runs, 0)).toBe(jobs);
      expect(outcome.jobsPerSecond).toBeGreaterThan(0);
      expect(Number.isFinite(outcome.jobsPerSecond)).toBe(true);
    } else if (outcome.kind === 'flow') {
      // One flow of every job of the run and its parent: each ran once, and the parent read every child's result.
      expect(outcome).toMatchObject({ flows: 1, childrenPerFlow: jobs, target: jobs + 1, completed: jobs + 1, duplicateRuns: 0, parentsShortOfResults: 0 });
      expect(outcome.createJobsPerSecond).toBeGreaterThan(0);
      expect(outcome.jobsPerSecond).toBeGreaterThan(0);
      expect(Number.isFinite(outcome.jobsPerSecond)).toBe(true);
    } else if (outcome.kind === 'throughput') {
      expect(outcome).toMatchObject({ target: jobs, completed: jobs, duplicateRuns: 0 });
      expect(outcome.jobsPerSecond).toBeGreaterThan(0);
      expect(Number.isFinite(outcome.jobsPerSecond)).toBe(true);
      if (run.workload.startsWith('process-')) expect(outcome.workerMemory?.peakRssBytes).toBeGreaterThan(0);
      else expect(outcome.workerMemory).toBeNull();
    } else if (outcome.kind === 'disk') {
      // Every job completed before the files were measured, and the figure is over all of them.
      expect(outcome).toMatchObject({ target: jobs, duplicateRuns: 0, processing: { target: jobs, completed: jobs } });
      expect(outcome.files.database).toBeGreaterThan(0);
      expect(outcome.bytesPerJob).toBe((outcome.files.database + outcome.files.wal + outcome.files.shm + outcome.files.journal) / jobs);
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
  scale,
  fillCapSeconds: 30,
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

    // The scale workload's backlogs and the fill cap, and the group that names both new workloads.
    expect(parseCli(['--workloads', 'scaling'])).toMatchObject({ options: { workloads: ['multi-worker', 'scale'], scale: defaultBenchOptions.scale } });
    expect(defaultBenchOptions.scale).toEqual({ largeBacklog: 1_000_000, smallBacklog: 10_000 });
    expect(parseCli(['--scale-backlog', '50000', '--scale-small-backlog', '500', '--fill-cap', '60'])).toMatchObject({
      options: { scale: { largeBacklog: 50_000, smallBacklog: 500 }, fillCapSeconds: 60 },
    });
    expect(() => parseCli(['--scale-backlog', '1.5'])).toThrow(/whole number/);
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
    const summary = summarize(systems, benchMetrics(defaultBenchOptions), runs);
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

  it('flags runs that ran a job twice or lost one, and checks the scale and several-worker targets', () => {
    const systems: TableSystem[] = [
      { id: 'sqlite-full', label: 'Jobsmith SQLite full', family: 'jobsmith', store: 'sqlite', durability: 'full', bulkEnqueue: true },
      { id: 'peer-full', label: 'Peer full', family: 'peer', store: 'sqlite', durability: 'full', bulkEnqueue: true },
      { id: 'postgres', label: 'Jobsmith PostgreSQL', family: 'jobsmith', store: 'postgres', bulkEnqueue: true },
      { id: 'bullmq', label: 'BullMQ', family: 'peer', store: 'redis', bulkEnqueue: true },
    ];
    const record = (system: string, outcome: RunOutcome): RunRecord => ({ system, workload: outcome.kind === 'scale' ? 'scale' : 'multi-worker', run: 1, startedAt: '', error: null, outcome });
    const severalWorkers = (system: string, jobsPerSecond: number, duplicateRuns = 0): RunRecord =>
      record(system, {
        kind: 'multi-worker',
        processes: 4,
        concurrencyPerWorker: 10,
        target: 100,
        completed: 100,
        elapsedMs: 1,
        jobsPerSecond,
        capped: false,
        duplicateRuns,
        lostJobs: 0,
        runsPerWorker: [25, 25, 25, 25 + duplicateRuns],
      });
    const processing = (jobsPerSecond: number) => ({
      kind: 'throughput' as const,
      target: 10,
      completed: 10,
      elapsedMs: 1,
      jobsPerSecond,
      capped: false,
      workerMemory: null,
      duplicateRuns: 0,
    });
    const scaled = (system: string, small: number, large: number): RunRecord =>
      record(system, {
        kind: 'scale',
        timedJobs: 10,
        small: { backlog: 10, fillMs: 1, processing: processing(small) },
        large: { backlog: 1000, fillMs: 1, processing: processing(large) },
        largeOverSmall: large / small,
        capped: false,
        duplicateRuns: 0,
      });
    const runs = [
      severalWorkers('sqlite-full', 5000, 2),
      severalWorkers('peer-full', 2500),
      severalWorkers('postgres', 3000),
      severalWorkers('bullmq', 2000),
      scaled('sqlite-full', 10_000, 7000),
      scaled('postgres', 6000, 5400),
    ];
    const sizes = { scale: { largeBacklog: 1000, smallBacklog: 10 } };
    const summary = summarize(systems, benchMetrics(sizes), runs);
    const tables = buildResultsTables(systems, summary, { jobs: 100, runs: 1, capSeconds: 30 });
    const sqlite = tables.tables[0]!;
    expect(sqlite.header).toEqual(['Workload', 'Unit', 'Jobsmith SQLite full', 'Peer full', 'full: Jobsmith ÷ best peer', 'Jobsmith SQLite ÷ BullMQ (Redis)']);
    // The wrong run keeps its figure, flagged; the counts that must be zero are not compared with peers.
    expect(sqlite.rows).toContainEqual(['Process backlog, 4 worker processes × concurrency 10', 'jobs/s', '5,000 ✗ error', '2,500', '2.00×', '2.50×']);
    expect(sqlite.rows).toContainEqual(['Duplicate runs, 4 worker processes (must be 0)', 'runs', '2 ✗ error', '0', '', '']);
    expect(sqlite.rows).toContainEqual(['Jobs never run, 4 worker processes (must be 0)', 'jobs', '0 ✗ error', '0', '', '']);
    // No peer runs the scale workload, so its rows compare with nothing.
    expect(sqlite.rows).toContainEqual(['Process 10 of 1,000 queued, concurrency 50', 'jobs/s', '7,000', 'n/a', '', '']);
    expect(sqlite.rows).toContainEqual(['Rate with 1,000 queued ÷ with 10', '×', '0.70', 'n/a', '', '']);
    const notes = tables.notes.join('\n');
    expect(notes).toContain('✗ error: a run ran a job twice or never ran one');
    expect(notes).toContain("the scale workload runs on Jobsmith's own systems only");

    const targets = checkTargets(summary, sizes.scale);
    const statusOf = (target: string) => targets.find((check) => check.target === target)?.status;
    expect(statusOf('Scale (sqlite-full): processing with 1,000 queued ≥ 0.8× the rate with 10 queued')).toBe('missed');
    expect(statusOf('Scale (postgres): processing with 1,000 queued ≥ 0.8× the rate with 10 queued')).toBe('met');
    expect(statusOf('Several workers (sqlite-full): no job runs twice, none is lost')).toBe('missed');
    expect(statusOf('Several workers (postgres): no job runs twice, none is lost')).toBe('met');
    // Systems that were not measured have no target line.
    expect(targets.some((check) => check.jobsmith === 'sqlite-normal')).toBe(false);
  });

  it('measures several worker processes and the scale workload on memory and SQLite', async () => {
    const results = await runBenchmark({ ...tinyOptions, systems: ['memory', 'sqlite-full'], workloads: ['multi-worker', 'scale'] }, { command: 'bench smoke test' });
    // An in-process store cannot be shared by several processes; the scale workload runs on both.
    expect(results.runs.map((run) => `${run.workload}/${run.system}`)).toEqual(['multi-worker/sqlite-full', 'scale/memory', 'scale/sqlite-full']);
    expectCompleteRuns(results);
    expect(results.summary.map((row) => row.metric)).toEqual(['multi-worker', 'multi-worker-duplicates', 'multi-worker-lost', 'scale-small', 'scale-large', 'scale-ratio']);
    expect(results.summary.find((row) => row.metric === 'multi-worker')?.figures.memory).toBeNull();
    for (const row of results.summary.filter((candidate) => candidate.unit === 'jobs/s' || candidate.unit === '×')) {
      expect(row.figures['sqlite-full']?.median).toBeGreaterThan(0);
    }
    expect(results.options).toMatchObject({ scale, scaleTimedJobs: scale.smallBacklog, multiWorkerProcesses });
  }, 60_000);

  it('measures bytes on disk per completed job on SQLite only', async () => {
    const results = await runBenchmark({ ...tinyOptions, systems: ['memory', 'sqlite-full'], workloads: ['disk-per-job'] }, { command: 'bench smoke test' });
    // A store that lives in one process has no file to measure.
    expect(results.runs.map((run) => `${run.workload}/${run.system}`)).toEqual(['disk-per-job/sqlite-full']);
    expectCompleteRuns(results);
    expect(results.summary.map((row) => row.metric)).toEqual(['disk-per-job']);
    const [disk] = results.summary;
    expect(disk).toMatchObject({ unit: 'bytes/job', better: 'lower' });
    expect(disk?.figures.memory).toBeNull();
    expect(disk?.figures['sqlite-full']?.median).toBeGreaterThan(0);
    expect(parseCli(['--workloads', 'disk'])).toMatchObject({ options: { workloads: ['disk-per-job'] } });
  }, 60_000);

  it('measures flows of children and a parent on memory and SQLite', async () => {
    const results = await runBenchmark({ ...tinyOptions, systems: ['memory', 'sqlite-full'], workloads: ['flow-children'] }, { command: 'bench smoke test' });
    expect(results.runs.map((run) => `${run.workload}/${run.system}`)).toEqual(['flow-children/memory', 'flow-children/sqlite-full']);
    expectCompleteRuns(results);
    expect(results.summary.map((row) => row.metric)).toEqual(['flow-children-create', 'flow-children']);
    for (const row of results.summary) for (const system of ['memory', 'sqlite-full']) expect(row.figures[system]?.median).toBeGreaterThan(0);
    expect(parseCli(['--workloads', 'flows'])).toMatchObject({ options: { workloads: ['flow-children'] } });
  }, 60_000);

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
    it('lets earlier runs\' writes settle before a run: a CHECKPOINT on its server', async () => {
      const services = await startServices(new Set(['postgres']));
      const client = new pg.Client({ connectionString: services.urls.postgres });
      await client.connect();
      try {
        const version = Number((await client.query<{ v: string }>('SHOW server_version_num')).rows[0]!.v);
        const requested = async () =>
          Number(
            (await client.query<{ n: string }>(version >= 170000 ? 'SELECT num_requested AS n FROM pg_stat_checkpointer' : 'SELECT checkpoints_req AS n FROM pg_stat_bgwriter'))
              .rows[0]!.n,
          );
        const before = await requested();
        await services.quiesce();
        expect(await requested()).toBeGreaterThan(before);
      } finally {
        await client.end();
        await services.stop();
      }
    }, 60_000);

    it('starts a throwaway server and measures Jobsmith PostgreSQL on a fresh database per run', async () => {
      const results = await runBenchmark(
        { ...tinyOptions, systems: ['postgres'], workloads: ['enqueue-bulk', 'process-c10', 'multi-worker', 'latency-remote'] },
        { command: 'bench smoke test' },
      );
      expect(results.runs.map((run) => `${run.workload}/${run.system}`)).toEqual([
        'enqueue-bulk/postgres',
        'process-c10/postgres',
        'multi-worker/postgres',
        'latency-remote/postgres',
      ]);
      expectCompleteRuns(results);
      expect(results.services.map((service) => service.kind)).toEqual(['postgres']);
      expect(results.systems[0]).toMatchObject({ id: 'postgres', family: 'jobsmith', store: 'postgres' });
    }, 60_000);
  });
});
