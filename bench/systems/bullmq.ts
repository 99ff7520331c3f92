/**
 * BullMQ on the benchmark's Redis (through ioredis, its default client): the Redis queue
 * most Node applications pick.
 */
import { commonJsExport, importPeer, peerVersion } from './peer-module.ts';
import { createRedisStore, destroyRedisStore, storeField } from './stores.ts';
import type { BenchJob, StoreRef, SystemAdapter, SystemConnection } from './system-adapter.ts';

/** The parts of bullmq this adapter uses. */
interface BullQueue {
  waitUntilReady(): Promise<unknown>;
  add(name: string, data: unknown): Promise<unknown>;
  addBulk(jobs: ReadonlyArray<{ name: string; data: unknown }>): Promise<unknown>;
  close(): Promise<void>;
}

interface BullWorker {
  waitUntilReady(): Promise<unknown>;
  on(event: 'error' | 'failed', listener: (...args: unknown[]) => void): unknown;
  close(): Promise<void>;
}

type QueueConstructor = new (name: string, options: Record<string, unknown>) => BullQueue;
type WorkerConstructor = new (name: string, processor: (job: { data: unknown }) => Promise<void>, options: Record<string, unknown>) => BullWorker;

const packageName = 'bullmq';
const jobName = 'bench.noop';

function connectionOf(store: StoreRef) {
  return { host: storeField(store, 'host'), port: Number(storeField(store, 'port')) };
}

export const bullmqSystem: SystemAdapter = {
  id: 'bullmq',
  label: 'BullMQ',
  family: 'peer',
  store: 'redis',
  bulkEnqueue: true,
  packageName,
  settings: [
    `bullmq ${peerVersion(packageName) ?? '(not installed)'} with ioredis ${peerVersion('ioredis') ?? '(not installed)'}`,
    "new Worker(queue, processor, { connection, concurrency: <the workload's> }); everything else default (completed jobs kept, stalled-job checks on)",
    'enqueue: queue.add awaited (single), queue.addBulk with 1,000 jobs (bulk); the producer and the worker each have their own connections',
  ],
  storeSharedAcrossProcesses: true,
  createStore: createRedisStore,
  destroyStore: destroyRedisStore,
  async connect(store): Promise<SystemConnection> {
    const bullmq = await importPeer<Record<string, unknown>>(packageName);
    const Queue = commonJsExport<QueueConstructor>(bullmq, 'Queue');
    const Worker = commonJsExport<WorkerConstructor>(bullmq, 'Worker');
    const name = storeField(store, 'queue');
    const connection = connectionOf(store);
    const queue = new Queue(name, { connection });
    await queue.waitUntilReady();
    return {
      async enqueue(job: BenchJob) {
        await queue.add(jobName, job);
      },
      async enqueueBatch(jobs) {
        await queue.addBulk(jobs.map((data) => ({ name: jobName, data })));
      },
      async startWorker({ concurrency, onJobStart }) {
        const worker = new Worker(
          name,
          async (job) => {
            onJobStart(job.data as BenchJob);
          },
          { connection, concurrency },
        );
        worker.on('error', (error) => console.error('[bullmq] worker error', error));
        await worker.waitUntilReady();
        return { stop: () => worker.close() };
      },
      async close() {
        await queue.close();
      },
    };
  },
};
