/**
 * pg-boss on the benchmark's PostgreSQL, with the settings its documentation gives for
 * throughput and latency: workers fetch 1,000 jobs at a time and keep fetching while
 * batches come back full (`burstWhenBatchFull`), and new jobs wake them through
 * LISTEN/NOTIFY instead of the 2 s poll.
 */
import { commonJsExport, importPeer, peerVersion } from './peer-module.ts';
import { createPostgresStore, destroyPostgresStore, storeField } from './stores.ts';
import type { BenchJob, SystemAdapter, SystemConnection } from './system-adapter.ts';

/** The parts of pg-boss this adapter uses. */
interface PgBoss {
  on(event: 'error' | 'warning', listener: (error: unknown) => void): unknown;
  start(): Promise<unknown>;
  stop(options?: { graceful?: boolean; close?: boolean; timeout?: number }): Promise<void>;
  createQueue(name: string, options?: Record<string, unknown>): Promise<void>;
  getQueue(name: string): Promise<unknown>;
  send(name: string, data: object): Promise<string | null>;
  insert(name: string, jobs: ReadonlyArray<{ data: object }>): Promise<unknown>;
  work(name: string, options: Record<string, unknown>, handler: (jobs: ReadonlyArray<{ data: unknown }>) => Promise<void>): Promise<string>;
  offWork(name: string, options?: { id?: string; wait?: boolean }): Promise<void>;
}

type PgBossConstructor = new (options: Record<string, unknown>) => PgBoss;

const packageName = 'pg-boss';
const queue = 'bench_noop';
const batchSize = 1000;

export const pgBossSystem: SystemAdapter = {
  id: 'pg-boss',
  label: 'pg-boss',
  family: 'peer',
  store: 'postgres',
  bulkEnqueue: true,
  packageName,
  settings: [
    `pg-boss ${peerVersion(packageName) ?? '(not installed)'}, on a fresh database (schema pgboss)`,
    "new PgBoss({ connectionString, useListenNotify: true }); createQueue('bench_noop', { notify: true }): new jobs wake workers at once instead of at the next poll",
    `work(queue, { batchSize: ${batchSize}, burstWhenBatchFull: true, localConcurrency: <the workload's concurrency> }, handler): each of the workload's workers fetches up to ${batchSize} jobs per round trip and completes them together; while batches come back full it fetches again without waiting`,
    'enqueue: send awaited (single), insert with 1,000 jobs (bulk); the producer and the worker each have their own PgBoss instance (pool of 10, maintenance on: the defaults)',
    'jobs kept after completion (the default retention)',
  ],
  storeSharedAcrossProcesses: true,
  createStore: createPostgresStore,
  destroyStore: destroyPostgresStore,
  async connect(store): Promise<SystemConnection> {
    const PgBossClass = commonJsExport<PgBossConstructor>(await importPeer<Record<string, unknown>>(packageName), 'PgBoss');
    const connectionString = storeField(store, 'url');
    const open = async () => {
      const boss = new PgBossClass({ connectionString, useListenNotify: true });
      boss.on('error', (error) => console.error('[pg-boss]', error));
      await boss.start();
      return boss;
    };
    const producer = await open();
    // Idempotent enough for the run: the first connection creates it, later ones find it.
    if (!(await producer.getQueue(queue))) await producer.createQueue(queue, { notify: true });
    const workers: PgBoss[] = [];
    return {
      async enqueue(job: BenchJob) {
        await producer.send(queue, job);
      },
      async enqueueBatch(jobs) {
        await producer.insert(
          queue,
          jobs.map((data) => ({ data })),
        );
      },
      async startWorker({ concurrency, onJobStart }) {
        const boss = await open();
        workers.push(boss);
        await boss.work(queue, { batchSize, burstWhenBatchFull: true, localConcurrency: concurrency }, async (batch) => {
          for (const job of batch) onJobStart(job.data as BenchJob);
        });
        return {
          async stop() {
            await boss.offWork(queue, { wait: true });
            await boss.stop({ graceful: true, close: true });
          },
        };
      },
      async close() {
        await producer.stop({ graceful: true, close: true });
      },
    };
  },
};
