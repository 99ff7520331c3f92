/**
 * bee-queue on the benchmark's Redis, with the settings its README gives for speed:
 * no job events sent or received and no job objects kept in memory, on the producer
 * and on the worker alike.
 */
import { importPeer, peerVersion } from './peer-module.ts';
import { createRedisStore, destroyRedisStore, storeField } from './stores.ts';
import type { BenchJob, StoreRef, SystemAdapter, SystemConnection } from './system-adapter.ts';

/** The parts of bee-queue this adapter uses. */
interface BeeQueue {
  ready(): Promise<unknown>;
  createJob(data: unknown): { save(): Promise<unknown> };
  saveAll(jobs: ReadonlyArray<unknown>): Promise<Map<unknown, Error>>;
  process(concurrency: number, handler: (job: { data: unknown }) => Promise<void>): void;
  on(event: 'error', listener: (error: unknown) => void): unknown;
  close(timeoutMs?: number): Promise<void>;
}

type BeeQueueConstructor = new (name: string, settings: Record<string, unknown>) => BeeQueue;

const packageName = 'bee-queue';
const quiet = { getEvents: false, sendEvents: false, storeJobs: false };

function settingsFor(store: StoreRef, isWorker: boolean): Record<string, unknown> {
  return { redis: { host: storeField(store, 'host'), port: Number(storeField(store, 'port')) }, isWorker, ...quiet };
}

export const beeQueueSystem: SystemAdapter = {
  id: 'bee-queue',
  label: 'bee-queue',
  family: 'peer',
  store: 'redis',
  bulkEnqueue: true,
  packageName,
  settings: [
    `bee-queue ${peerVersion(packageName) ?? '(not installed)'} (its own redis 3 client)`,
    'producer: new Queue(name, { isWorker: false, getEvents: false, sendEvents: false, storeJobs: false })',
    "worker: new Queue(name, { getEvents: false, sendEvents: false, storeJobs: false }).process(<the workload's concurrency>, handler); completed jobs kept (removeOnSuccess false, the default)",
    'enqueue: createJob(data).save() awaited (single), saveAll with 1,000 jobs, pipelined (bulk)',
  ],
  storeSharedAcrossProcesses: true,
  createStore: createRedisStore,
  destroyStore: destroyRedisStore,
  async connect(store): Promise<SystemConnection> {
    const module = await importPeer<{ default: BeeQueueConstructor }>(packageName);
    const Queue = module.default;
    const name = storeField(store, 'queue');
    const producer = new Queue(name, settingsFor(store, false));
    producer.on('error', (error) => console.error('[bee-queue] producer error', error));
    await producer.ready();
    return {
      async enqueue(job: BenchJob) {
        await producer.createJob(job).save();
      },
      async enqueueBatch(jobs) {
        const failures = await producer.saveAll(jobs.map((job) => producer.createJob(job)));
        if (failures.size > 0) throw new Error(`bee-queue saveAll failed for ${failures.size} jobs: ${[...failures.values()][0]?.message}`);
      },
      async startWorker({ concurrency, onJobStart }) {
        const worker = new Queue(name, settingsFor(store, true));
        worker.on('error', (error) => console.error('[bee-queue] worker error', error));
        worker.process(concurrency, async (job) => {
          onJobStart(job.data as BenchJob);
        });
        await worker.ready();
        return { stop: () => worker.close(30_000) };
      },
      async close() {
        await producer.close();
      },
    };
  },
};
