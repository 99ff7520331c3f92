/**
 * sidequest on SQLite and on the benchmark's PostgreSQL, with jobs run inline in the
 * worker's process (no worker threads, no forked engine process) and a 10 ms poll: its
 * fastest documented setup for no-op jobs. It has no bulk enqueue call.
 *
 * sidequest keeps its engine in module-level state, so a process holds one engine: the
 * producer's connection configures it, and a worker started on that connection starts
 * the same engine with the worker's queue settings.
 */
import { importPeer, peerVersion } from './peer-module.ts';
import type { BenchNoopJob } from './sidequest-job.ts';
import { createPostgresStore, createSqliteStore, destroyPostgresStore, destroySqliteStore, storeField } from './stores.ts';
import type { BenchJob, StoreRef, SystemAdapter, SystemConnection } from './system-adapter.ts';

/** The parts of sidequest this adapter uses. */
interface SidequestModule {
  Engine: new () => SidequestEngine;
}

interface SidequestEngine {
  configure(config: Record<string, unknown>): Promise<SidequestConfig>;
  start(config: Record<string, unknown>): Promise<void>;
  getConfig(): SidequestConfig | undefined;
  getBackend(): SidequestBackend | undefined;
  build(jobClass: typeof BenchNoopJob): { queue(name: string): { enqueue(job: BenchJob): Promise<unknown> } };
  close(): Promise<void>;
}

/** The parts of the engine's backend the adapter uses: queue rows. */
interface SidequestBackend {
  getQueue(name: string): Promise<unknown>;
  createNewQueue(queue: { name: string; concurrency: number }): Promise<unknown>;
}

/** The engine's resolved configuration; the worker's settings are written into it before `start`. */
interface SidequestConfig {
  queues: Array<{ name: string; concurrency: number }>;
  maxConcurrentJobs: number;
}

type Storage = 'sqlite' | 'postgres';

const packageName = 'sidequest';
const queueName = 'bench';
const pollIntervalMs = 10;

function backendFor(storage: Storage, store: StoreRef) {
  return storage === 'sqlite'
    ? { driver: '@sidequest/sqlite-backend', config: storeField(store, 'path') }
    : { driver: '@sidequest/postgres-backend', config: storeField(store, 'url') };
}

function engineConfig(storage: Storage, store: StoreRef, concurrency: number): Record<string, unknown> {
  return {
    backend: backendFor(storage, store),
    queues: [{ name: queueName, concurrency }],
    maxConcurrentJobs: concurrency,
    fork: false,
    runner: 'inline',
    jobPollingInterval: pollIntervalMs,
    // No signal handlers, no hourly maintenance during a run, errors only in the log.
    gracefulShutdown: false,
    releaseStaleJobsIntervalMin: false,
    cleanupFinishedJobsIntervalMin: false,
    logger: { level: 'error' },
  };
}

function sidequestSystem(storage: Storage): SystemAdapter {
  const backendPackage = `@sidequest/${storage}-backend`;
  return {
    id: `sidequest-${storage}`,
    label: `sidequest ${storage === 'sqlite' ? 'SQLite' : 'PostgreSQL'}`,
    family: 'peer',
    store: storage,
    ...(storage === 'sqlite' ? { durability: 'full' as const } : {}),
    bulkEnqueue: false,
    packageName,
    settings: [
      `sidequest ${peerVersion(packageName) ?? '(not installed)'} with ${backendPackage} ${peerVersion(backendPackage) ?? '(not installed)'} (@sidequest/core and @sidequest/backend pinned to ${peerVersion('@sidequest/core') ?? '?'} by npm overrides)`,
      storage === 'sqlite'
        ? 'a fresh temp file through knex and better-sqlite3; SQLite defaults (rollback journal, synchronous=FULL), so compared with the full mode'
        : 'a fresh database through knex and pg (knex pool defaults)',
      `Engine.start({ fork: false, runner: 'inline', jobPollingInterval: ${pollIntervalMs}, queues: [{ name, concurrency: <the workload's> }], maxConcurrentJobs: <the same> }): jobs run in the worker's own process, no worker threads`,
      'no stale-job release or cleanup during a run, no signal handlers, logger level error',
      'enqueue: Engine.build(Job).queue(name).enqueue(payload) awaited; no bulk call (the backlog is filled with 32 single enqueues in flight)',
      "each connection creates the queue's row if it is missing: sidequest creates it when a worker first starts, by a check and then an insert that workers starting together race on (the loser fails on the unique name), so the producer makes it first, as a deployed app's queue would already exist",
      'the job class lives in bench/systems/sidequest-job.ts: sidequest imports a job by the path of the file that exports its class',
    ],
    storeSharedAcrossProcesses: true,
    createStore: storage === 'sqlite' ? createSqliteStore : createPostgresStore,
    destroyStore: storage === 'sqlite' ? destroySqliteStore : destroyPostgresStore,
    async connect(store): Promise<SystemConnection> {
      const { Engine } = await importPeer<SidequestModule>(packageName);
      // Imported here, not at the top: the job's file needs sidequest itself, which may not be installed yet.
      const { BenchNoopJob: jobClass } = await import('./sidequest-job.ts');
      const engine = new Engine();
      await engine.configure(engineConfig(storage, store, 1));
      const backend = engine.getBackend();
      if (!backend) throw new Error('the sidequest engine has no backend after configure');
      if (!(await backend.getQueue(queueName))) await backend.createNewQueue({ name: queueName, concurrency: 1 });
      let closed = false;
      const close = async () => {
        if (closed) return;
        closed = true;
        globalThis.jobsmithBenchSidequestOnJobStart = undefined;
        await engine.close();
      };
      return {
        async enqueue(job) {
          await engine.build(jobClass).queue(queueName).enqueue(job);
        },
        async startWorker({ concurrency, onJobStart }) {
          globalThis.jobsmithBenchSidequestOnJobStart = onJobStart;
          const config = engine.getConfig();
          if (!config) throw new Error('the sidequest engine is not configured');
          config.queues = [{ name: queueName, concurrency }];
          config.maxConcurrentJobs = concurrency;
          await engine.start(engineConfig(storage, store, concurrency));
          // The engine is the connection's too: stopping the worker closes it, and close() then has nothing left to do.
          return { stop: close };
        },
        close,
      };
    },
  };
}

export const sidequestSqliteSystem = sidequestSystem('sqlite');
export const sidequestPostgresSystem = sidequestSystem('postgres');
