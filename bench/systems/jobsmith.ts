import { type Backend, createClient, createWorker, defineJob, type FlowStep, MemoryBackend, step } from '../../src/index.ts';
import {
  createPostgresStore,
  createRedisStore,
  createSqliteStore,
  destroyPostgresStore,
  destroyRedisStore,
  destroySqliteStore,
  storeField,
} from './stores.ts';
import type { BenchJob, FlowWorkerOptions, SystemAdapter, SystemConnection } from './system-adapter.ts';

/** Jobsmith as it ships, on each of its backends. */
type JobsmithStorage = 'memory' | 'sqlite-full' | 'sqlite-normal' | 'postgres' | 'redis';

const jobName = 'bench.noop';

/** Options the worker runs with; listed in the README, so keep them in one place. */
const workerDefaults = 'worker: pruneInterval null (no pruning during a run); prefetch = concurrency on PostgreSQL and Redis, raised to the jobs finished in the last 100 ms (at most 1,000) while jobs finish that fast; on SQLite and memory 0, raised to the jobs finished in the last 20 ms (at most 2 × (50 − concurrency)) while jobs finish that fast, lease 30 s, heartbeat 5 s, pollInterval 1 s (defaults)';
const jobDefaults = 'job: defaults (maxAttempts 3, keepCompleted 1 d, no timeout); no-op handler';
const flowDefaults =
  "flows: client.flow({ c0: step(child, …), …, parent: step(parent, …, { children: [every child] }) }), one call per flow; a child returns its index, the parent reads every child's result with ctx.children(child)";
const ownConnections = 'the client and the worker each open their own connection, as separate parts of an app would';

/** The no-op job. The worker's copy reports each start; the client's copy only names the job. */
function noopJob(onJobStart: (job: BenchJob) => void) {
  return defineJob<BenchJob>({
    name: jobName,
    run(job) {
      onJobStart(job);
    },
  });
}

const enqueueOnly = noopJob(() => {
  throw new Error('the producer side never runs jobs');
});

/** A flow's child returns its index; its parent reads every child's result with `ctx.children()`. */
function flowJobs(options: Pick<FlowWorkerOptions, 'onChildRun' | 'onParentRun'>) {
  const child = defineJob({
    name: 'bench.flow-child',
    run(job: BenchJob) {
      options.onChildRun(job);
      return job.index;
    },
  });
  const parent = defineJob({
    name: 'bench.flow-parent',
    async run(job: BenchJob, ctx) {
      const children = await ctx.children(child);
      options.onParentRun(job, children.filter((read) => read.state === 'completed' && typeof read.result === 'number').length);
    },
  });
  return { child, parent };
}

const flowEnqueueOnly = flowJobs({
  onChildRun: () => {
    throw new Error('the producer side never runs jobs');
  },
  onParentRun: () => {
    throw new Error('the producer side never runs jobs');
  },
});

/**
 * Connects a client (and later a worker) to `backend`: an instance for the memory
 * backend, which the client and worker must share, or a URL, which each opens on its
 * own connection as two parts of an application would.
 */
async function connectTo(backend: Backend | string, onClose: () => Promise<void>): Promise<SystemConnection> {
  const client = createClient({ backend, jobs: [enqueueOnly] });
  // Open and migrate now, so the first timed enqueue does not pay for it.
  await client.backend();
  return {
    async enqueue(job) {
      await client.enqueue(enqueueOnly, job);
    },
    async enqueueBatch(jobs) {
      await client.enqueueMany(jobs.map((payload) => ({ job: enqueueOnly, payload })));
    },
    async startWorker({ concurrency, onJobStart }) {
      const worker = createWorker({ backend, jobs: [noopJob(onJobStart)], concurrency, pruneInterval: null });
      await worker.start();
      return { stop: () => worker.stop() };
    },
    flows: {
      async enqueueFlow(parent, children) {
        const nodes: Record<string, FlowStep> = {};
        for (const child of children) nodes[`c${child.index}`] = step(flowEnqueueOnly.child, child);
        nodes.parent = step(flowEnqueueOnly.parent, parent, { children: Object.keys(nodes) });
        await client.flow(nodes);
      },
      async startWorker({ concurrency, ...handlers }) {
        const { child, parent } = flowJobs(handlers);
        const worker = createWorker({ backend, jobs: [child, parent], concurrency, pruneInterval: null });
        await worker.start();
        return { stop: () => worker.stop() };
      },
    },
    async close() {
      await client.close();
      await onClose();
    },
  };
}

function memorySystem(): SystemAdapter {
  return {
    id: 'memory',
    label: 'Jobsmith memory',
    family: 'jobsmith',
    store: 'memory',
    bulkEnqueue: true,
    flows: true,
    settings: ["backend: 'memory:' (MemoryBackend, shared by the client and worker in one process)", workerDefaults, jobDefaults, flowDefaults],
    storeSharedAcrossProcesses: false,
    async createStore() {
      // The store is the MemoryBackend object that `connect` builds in this process.
      return {};
    },
    async connect() {
      const backend = new MemoryBackend();
      // The client and worker do not own an instance they were given, so this closes it.
      return connectTo(backend, () => backend.close());
    },
    async destroyStore() {},
  };
}

function sqliteSystem(synchronous: 'full' | 'normal'): SystemAdapter {
  const query = synchronous === 'normal' ? '?synchronous=normal' : '';
  return {
    id: `sqlite-${synchronous}`,
    label: `Jobsmith SQLite ${synchronous}`,
    family: 'jobsmith',
    store: 'sqlite',
    durability: synchronous,
    bulkEnqueue: true,
    flows: true,
    settings: [
      `backend: 'sqlite:<fresh temp file>${query}' (WAL, synchronous=${synchronous.toUpperCase()}${synchronous === 'full' ? ', the default' : ''})`,
      ownConnections,
      workerDefaults,
      jobDefaults,
      flowDefaults,
    ],
    storeSharedAcrossProcesses: true,
    createStore: createSqliteStore,
    async connect(store) {
      return connectTo(`sqlite:${storeField(store, 'path')}${query}`, async () => {});
    },
    destroyStore: destroySqliteStore,
  };
}

function postgresSystem(): SystemAdapter {
  return {
    id: 'postgres',
    label: 'Jobsmith PostgreSQL',
    family: 'jobsmith',
    store: 'postgres',
    bulkEnqueue: true,
    flows: true,
    settings: [
      "backend: 'postgres://…/<fresh database>' (PostgresBackend, schema 'jobsmith', pool of 10 per client or worker: the defaults)",
      ownConnections,
      'idle workers wake through LISTEN/NOTIFY (the default)',
      workerDefaults,
      jobDefaults,
      flowDefaults,
    ],
    storeSharedAcrossProcesses: true,
    createStore: createPostgresStore,
    async connect(store) {
      return connectTo(storeField(store, 'url'), async () => {});
    },
    destroyStore: destroyPostgresStore,
  };
}

function redisSystem(): SystemAdapter {
  return {
    id: 'redis',
    label: 'Jobsmith Redis',
    family: 'jobsmith',
    store: 'redis',
    bulkEnqueue: true,
    flows: true,
    settings: [
      "backend: 'redis://…?prefix=<fresh prefix>' (RedisBackend over ioredis; every move one Lua script)",
      ownConnections,
      'idle workers wake through pub/sub (the default)',
      workerDefaults,
      jobDefaults,
      flowDefaults,
    ],
    storeSharedAcrossProcesses: true,
    createStore: createRedisStore,
    async connect(store) {
      return connectTo(`${storeField(store, 'url').replace(/\/$/, '')}?prefix=${storeField(store, 'queue')}`, async () => {});
    },
    destroyStore: destroyRedisStore,
  };
}

export const jobsmithSystems: Readonly<Record<JobsmithStorage, SystemAdapter>> = {
  memory: memorySystem(),
  'sqlite-full': sqliteSystem('full'),
  'sqlite-normal': sqliteSystem('normal'),
  postgres: postgresSystem(),
  redis: redisSystem(),
};
