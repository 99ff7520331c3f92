import type { SystemAdapter } from './system-adapter.ts';

/**
 * Every system the harness knows, in the order runs alternate and tables show them
 * (Jobsmith first within each store). Adapters are loaded only when asked for, and a
 * peer's adapter imports its library only when it connects, so listing a peer whose
 * package is not installed costs nothing until it is measured. Add a system with one line.
 */
interface SystemEntry {
  readonly id: string;
  /** Peers need bench/node_modules (bench/package.json); Jobsmith systems need only the project. */
  readonly peer: boolean;
  readonly load: () => Promise<SystemAdapter>;
}

const jobsmith = async () => (await import('./jobsmith.ts')).jobsmithSystems;

const systemEntries: readonly SystemEntry[] = [
  { id: 'memory', peer: false, load: async () => (await jobsmith()).memory },
  { id: 'sqlite-full', peer: false, load: async () => (await jobsmith())['sqlite-full'] },
  { id: 'sqlite-normal', peer: false, load: async () => (await jobsmith())['sqlite-normal'] },
  { id: 'plainjob-full', peer: true, load: async () => (await import('./plainjob.ts')).plainjobFullSystem },
  { id: 'plainjob-normal', peer: true, load: async () => (await import('./plainjob.ts')).plainjobNormalSystem },
  { id: 'sidequest-sqlite', peer: true, load: async () => (await import('./sidequest.ts')).sidequestSqliteSystem },
  { id: 'postgres', peer: false, load: async () => (await jobsmith()).postgres },
  { id: 'graphile-default', peer: true, load: async () => (await import('./graphile-worker.ts')).graphileDefaultSystem },
  { id: 'graphile-best', peer: true, load: async () => (await import('./graphile-worker.ts')).graphileBestSystem },
  { id: 'pg-boss', peer: true, load: async () => (await import('./pg-boss.ts')).pgBossSystem },
  { id: 'sidequest-postgres', peer: true, load: async () => (await import('./sidequest.ts')).sidequestPostgresSystem },
  { id: 'redis', peer: false, load: async () => (await jobsmith()).redis },
  { id: 'bullmq', peer: true, load: async () => (await import('./bullmq.ts')).bullmqSystem },
  { id: 'bee-queue', peer: true, load: async () => (await import('./bee-queue.ts')).beeQueueSystem },
];

export const knownSystemIds: readonly string[] = systemEntries.map((entry) => entry.id);

/** Whether any of `ids` is a peer library, which needs the bench's own dependencies installed. */
export function needsPeerPackages(ids: readonly string[]): boolean {
  return systemEntries.some((entry) => entry.peer && ids.includes(entry.id));
}

export async function loadSystem(id: string): Promise<SystemAdapter> {
  const entry = systemEntries.find((candidate) => candidate.id === id);
  if (!entry) throw new Error(`unknown system "${id}"; known: ${knownSystemIds.join(', ')}`);
  const system = await entry.load();
  // The id is written twice (here and in the adapter); a mismatch would mislabel results.
  if (system.id !== id) throw new Error(`system entry "${id}" loaded an adapter whose id is "${system.id}"`);
  if ((system.family === 'peer') !== entry.peer) throw new Error(`system entry "${id}" says peer: ${entry.peer}, but its adapter's family is ${system.family}`);
  return system;
}
