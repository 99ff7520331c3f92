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

/** A flow as FlowProducer.add takes it: a parent job and its children, each on a queue. */
interface BullFlowJob {
  name: string;
  queueName: string;
  data: unknown;
  children?: BullFlowJob[];
}

interface BullFlowProducer {
  add(flow: BullFlowJob): Promise<unknown>;
  close(): Promise<void>;
}

/** The parts of a job a processor uses: a parent reads its children's return values. */
interface BullJob {
  name: string;
  data: unknown;
  getChildrenValues(): Promise<Record<string, unknown>>;
}

type QueueConstructor = new (name: string, options: Record<string, unknown>) => BullQueue;
type WorkerConstructor = new (name: string, processor: (job: BullJob) => Promise<unknown>, options: Record<string, unknown>) => BullWorker;
type FlowProducerConstructor = new (options: Record<string, unknown>) => BullFlowProducer;

const packageName = 'bullmq';
const jobName = 'bench.noop';
const flowChildName = 'bench.flow-child';
const flowParentName = 'bench.flow-parent';

function connectionOf(store: StoreRef) {
  return { host: storeField(store, 'host'), port: Number(storeField(store, 'port')) };
}

export const bullmqSystem: SystemAdapter = {
  id: 'bullmq',
  label: 'BullMQ',
  family: 'peer',
  store: 'redis',
  bulkEnqueue: true,
  flows: true,
  packageName,
  settings: [
    `bullmq ${peerVersion(packageName) ?? '(not installed)'} with ioredis ${peerVersion('ioredis') ?? '(not installed)'}`,
    "new Worker(queue, processor, { connection, concurrency: <the workload's> }); everything else default (completed jobs kept, stalled-job checks on)",
    'enqueue: queue.add awaited (single), queue.addBulk with 1,000 jobs (bulk); the producer and the worker each have their own connections',
    "flows: new FlowProducer({ connection }).add({ parent, children: [every child] }), one call per flow, all on the run's queue; a child returns its index, the parent reads every child's value with job.getChildrenValues()",
  ],
  storeSharedAcrossProcesses: true,
  createStore: createRedisStore,
  destroyStore: destroyRedisStore,
  async connect(store): Promise<SystemConnection> {
    const bullmq = await importPeer<Record<string, unknown>>(packageName);
    const Queue = commonJsExport<QueueConstructor>(bullmq, 'Queue');
    const Worker = commonJsExport<WorkerConstructor>(bullmq, 'Worker');
    const FlowProducer = commonJsExport<FlowProducerConstructor>(bullmq, 'FlowProducer');
    const name = storeField(store, 'queue');
    const connection = connectionOf(store);
    const queue = new Queue(name, { connection });
    await queue.waitUntilReady();
    // Opened on the first flow only: the other workloads never use it.
    let flowProducer: BullFlowProducer | undefined;
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
      flows: {
        async enqueueFlow(parent, children) {
          flowProducer ??= new FlowProducer({ connection });
          await flowProducer.add({
            name: flowParentName,
            queueName: name,
            data: parent,
            children: children.map((data) => ({ name: flowChildName, queueName: name, data })),
          });
        },
        async startWorker({ concurrency, onChildRun, onParentRun }) {
          const worker = new Worker(
            name,
            async (job) => {
              const data = job.data as BenchJob;
              if (job.name === flowChildName) {
                onChildRun(data);
                return data.index;
              }
              const values = await job.getChildrenValues();
              onParentRun(data, Object.values(values).filter((value) => typeof value === 'number').length);
              return null;
            },
            { connection, concurrency },
          );
          worker.on('error', (error) => console.error('[bullmq] worker error', error));
          await worker.waitUntilReady();
          return { stop: () => worker.close() };
        },
      },
      async close() {
        await flowProducer?.close();
        await queue.close();
      },
    };
  },
};
