/**
 * plainjob on SQLite, in the same two durability modes as Jobsmith SQLite: WAL with
 * synchronous FULL, and WAL with synchronous NORMAL (plainjob's own setting). It uses the
 * project's better-sqlite3, so both libraries run on the same SQLite build.
 */
import Database from 'better-sqlite3';
import { importPeer, peerVersion, quietConsole } from './peer-module.ts';
import { createSqliteStore, destroySqliteStore, storeField } from './stores.ts';
import type { BenchJob, Durability, SystemAdapter, SystemConnection } from './system-adapter.ts';

/** The parts of plainjob this adapter uses. */
interface PlainjobModule {
  better(database: Database.Database): unknown;
  defineQueue(options: Record<string, unknown>): PlainjobQueue;
  defineWorker(type: string, processor: (job: { data: string }) => void, options: Record<string, unknown>): PlainjobWorker;
}

interface PlainjobQueue {
  add(type: string, data: unknown): { id: number };
  addMany(type: string, data: readonly unknown[]): { ids: number[] };
  close(): void;
}

interface PlainjobWorker {
  start(): Promise<void>;
  stop(): Promise<void>;
}

const packageName = 'plainjob';
const jobType = 'bench.noop';
const pollIntervalMs = 10;

function plainjobSystem(durability: Durability): SystemAdapter {
  return {
    id: `plainjob-${durability}`,
    label: `plainjob ${durability}`,
    family: 'peer',
    store: 'sqlite',
    durability,
    bulkEnqueue: true,
    packageName,
    settings: [
      `plainjob ${peerVersion(packageName) ?? '(not installed)'} on the project's better-sqlite3, a fresh temp file`,
      durability === 'full'
        ? "WAL, synchronous=FULL (defineQueue sets WAL and synchronous=NORMAL; the adapter then sets PRAGMA synchronous = FULL on the connection)"
        : 'WAL, synchronous=NORMAL (what defineQueue sets itself)',
      `defineWorker(…, { pollIntervall: ${pollIntervalMs} }): a plainjob worker runs one job at a time, so concurrency N is N workers on the same queue and connection`,
      'a quiet logger (its default, console, prints on every poll)',
      'enqueue: queue.add (single), queue.addMany with 1,000 jobs (bulk); both are synchronous calls',
      'the producer and the worker each open their own connection',
    ],
    storeSharedAcrossProcesses: true,
    createStore: createSqliteStore,
    destroyStore: destroySqliteStore,
    async connect(store): Promise<SystemConnection> {
      const plainjob = await importPeer<PlainjobModule>(packageName);
      const open = () => {
        const database = new Database(storeField(store, 'path'));
        const queue = plainjob.defineQueue({ connection: plainjob.better(database), logger: quietConsole });
        if (durability === 'full') database.pragma('synchronous = FULL');
        return queue;
      };
      const producer = open();
      const workerQueues: PlainjobQueue[] = [];
      return {
        async enqueue(job: BenchJob) {
          producer.add(jobType, job);
        },
        async enqueueBatch(jobs) {
          producer.addMany(jobType, jobs);
        },
        async startWorker({ concurrency, onJobStart }) {
          const queue = open();
          workerQueues.push(queue);
          const workers = Array.from({ length: concurrency }, () =>
            plainjob.defineWorker(jobType, (job) => onJobStart(JSON.parse(job.data) as BenchJob), {
              queue,
              logger: quietConsole,
              pollIntervall: pollIntervalMs,
            }),
          );
          // start() resolves when the worker stops; a rejection means it died.
          const loops = workers.map((worker) => worker.start());
          for (const loop of loops) loop.catch((error: unknown) => console.error('[plainjob] worker failed', error));
          return {
            async stop() {
              await Promise.all(workers.map((worker) => worker.stop()));
              await Promise.allSettled(loops);
            },
          };
        },
        async close() {
          for (const queue of workerQueues) queue.close();
          producer.close();
        },
      };
    },
  };
}

export const plainjobFullSystem = plainjobSystem('full');
export const plainjobNormalSystem = plainjobSystem('normal');
