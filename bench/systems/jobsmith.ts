import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Backend, createClient, createWorker, defineJob, MemoryBackend } from '../../src/index.ts';
import type { BenchJob, StoreRef, SystemAdapter, SystemConnection } from './system-adapter.ts';

/** Jobsmith as it ships, on each of its embedded backends. */
type JobsmithStorage = 'memory' | 'sqlite-full' | 'sqlite-normal';

const jobName = 'bench.noop';

/** Options the worker runs with; listed in the README, so keep them in one place. */
const workerDefaults = 'worker: pruneInterval null (no pruning during a run); lease 30 s, heartbeat 5 s, pollInterval 1 s (defaults)';
const jobDefaults = 'job: defaults (maxAttempts 3, keepCompleted 1 d, no timeout); no-op handler';

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
    settings: ["backend: 'memory:' (MemoryBackend, shared by the client and worker in one process)", workerDefaults, jobDefaults],
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
  return {
    id: `sqlite-${synchronous}`,
    label: `Jobsmith SQLite ${synchronous}`,
    family: 'jobsmith',
    settings: [
      `backend: 'sqlite:<fresh temp file>${synchronous === 'normal' ? '?synchronous=normal' : ''}' (WAL, synchronous=${synchronous.toUpperCase()}${synchronous === 'full' ? ', the default' : ''})`,
      'the client and the worker each open their own connection, as separate parts of an app would',
      workerDefaults,
      jobDefaults,
    ],
    storeSharedAcrossProcesses: true,
    async createStore() {
      const directory = await mkdtemp(join(tmpdir(), 'jobsmith-bench-'));
      const path = join(directory, 'jobs.db');
      return { directory, url: `sqlite:${path}${synchronous === 'normal' ? '?synchronous=normal' : ''}` };
    },
    async connect(store) {
      return connectTo(storeField(store, 'url'), async () => {});
    },
    async destroyStore(store) {
      // The directory holds the database and its -wal and -shm files.
      await rm(storeField(store, 'directory'), { recursive: true, force: true });
    },
  };
}

function storeField(store: StoreRef, field: string): string {
  const value = store[field];
  if (value === undefined) throw new Error(`store reference has no "${field}": ${JSON.stringify(store)}`);
  return value;
}

export const jobsmithSystems: Readonly<Record<JobsmithStorage, SystemAdapter>> = {
  memory: memorySystem(),
  'sqlite-full': sqliteSystem('full'),
  'sqlite-normal': sqliteSystem('normal'),
};
