/**
 * Graphile Worker on the benchmark's PostgreSQL, twice: as it comes (`graphile-default`)
 * and with the batching its performance page uses for its own figures
 * (`graphile-best`: a local queue of 500, completions and failures batched).
 */
import { importPeer, peerVersion } from './peer-module.ts';
import { createPostgresStore, destroyPostgresStore, storeField } from './stores.ts';
import type { BenchJob, SystemAdapter, SystemConnection } from './system-adapter.ts';

/** The parts of graphile-worker this adapter uses. */
interface GraphileModule {
  run(options: Record<string, unknown>): Promise<GraphileRunner>;
  makeWorkerUtils(options: Record<string, unknown>): Promise<GraphileUtils>;
  Logger: new (factory: (scope: unknown) => (level: string, message: string) => void) => unknown;
}

interface GraphileRunner {
  stop(): Promise<void>;
  readonly promise: Promise<void>;
}

interface GraphileUtils {
  addJob(identifier: string, payload: unknown): Promise<unknown>;
  addJobs(specs: ReadonlyArray<{ identifier: string; payload: unknown }>): Promise<unknown>;
  migrate(): Promise<void>;
  release(): Promise<void>;
}

/** The parts of pg this adapter uses: graphile-worker's own copy, from bench/node_modules. */
interface PgModule {
  Pool: new (options: Record<string, unknown>) => PgPool;
}

interface PgPool {
  on(event: 'error', listener: (error: unknown) => void): unknown;
  on(event: 'connect', listener: (client: { on(event: 'error', listener: (error: unknown) => void): unknown }) => void): unknown;
  end(): Promise<void>;
}

const packageName = 'graphile-worker';
const task = 'bench_noop';

type Tuning = 'default' | 'best';

/** The worker options for each tuning at a given concurrency; `settings` below describes the same. */
function workerOptions(tuning: Tuning, concurrency: number): Record<string, unknown> {
  if (tuning === 'default') return { concurrency };
  return {
    concurrency,
    preset: { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } },
  };
}

/** Connections in the worker's pool: pg's default 10 as graphile-worker's own, or "10 or concurrentJobs + 2, whichever is larger" (maxPoolSize's documentation) for the tuned one. */
function poolSize(tuning: Tuning, concurrency: number): number {
  return tuning === 'default' ? 10 : Math.max(10, concurrency + 2);
}

function graphileSystem(tuning: Tuning): SystemAdapter {
  const settings =
    tuning === 'default'
      ? [
          "run({ concurrency: <the workload's>, taskList }): everything else default (pool of 10, pollInterval 2 s, jobs fetched one at a time, LISTEN/NOTIFY wake-ups)",
        ]
      : [
          "run({ concurrency: <the workload's>, preset: { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } } }), pool of max(10, concurrency + 2)",
          'the batching settings of its performance page (worker.graphile.org/docs/performance), which it reports its best figures with; pool size as its maxPoolSize documentation recommends',
        ];
  return {
    id: `graphile-${tuning}`,
    label: `Graphile Worker ${tuning === 'default' ? 'default' : 'batched'}`,
    family: 'peer',
    store: 'postgres',
    bulkEnqueue: true,
    packageName,
    settings: [
      `graphile-worker ${peerVersion(packageName) ?? '(not installed)'}, on a fresh database (schema graphile_worker)`,
      ...settings,
      'enqueue: WorkerUtils.addJob awaited (single), WorkerUtils.addJobs with 1,000 specs (bulk); the producer has its own WorkerUtils (pool of 10)',
      'a quiet logger (errors only); the adapter makes each pool itself (the documented pgPool option, same size as graphile-worker would make) so it can wait for the pool to close: release() and stop() end their own pools without waiting',
    ],
    storeSharedAcrossProcesses: true,
    createStore: createPostgresStore,
    destroyStore: destroyPostgresStore,
    async connect(store): Promise<SystemConnection> {
      const graphile = await importPeer<GraphileModule>(packageName);
      const pg = await importPeer<PgModule>('pg');
      const connectionString = storeField(store, 'url');
      const logger = new graphile.Logger(() => (level, message) => {
        if (level === 'error') console.error(`[graphile-worker] ${message}`);
      });
      const makePool = (max: number) => {
        const pool = new pg.Pool({ connectionString, max });
        // A connection ended under an idle client (the store being dropped) must not be an uncaught error.
        const report = (error: unknown) => console.error(`[graphile-worker] connection error: ${error instanceof Error ? error.message : String(error)}`);
        pool.on('error', report);
        pool.on('connect', (client) => client.on('error', report));
        return pool;
      };
      const producerPool = makePool(10);
      const utils = await graphile.makeWorkerUtils({ pgPool: producerPool, logger });
      await utils.migrate();
      return {
        async enqueue(job: BenchJob) {
          await utils.addJob(task, job);
        },
        async enqueueBatch(jobs) {
          await utils.addJobs(jobs.map((payload) => ({ identifier: task, payload })));
        },
        async startWorker({ concurrency, onJobStart }) {
          const pool = makePool(poolSize(tuning, concurrency));
          const runner = await graphile.run({
            pgPool: pool,
            logger,
            noHandleSignals: true,
            taskList: { [task]: (payload: unknown) => onJobStart(payload as BenchJob) },
            ...workerOptions(tuning, concurrency),
          });
          // A runner that dies reports through its promise; the harness would otherwise only see a missing job.
          runner.promise.catch((error: unknown) => console.error('[graphile-worker] runner failed', error));
          return {
            async stop() {
              await runner.stop();
              await pool.end();
            },
          };
        },
        async close() {
          await utils.release();
          await producerPool.end();
        },
      };
    },
  };
}

export const graphileDefaultSystem = graphileSystem('default');
export const graphileBestSystem = graphileSystem('best');
