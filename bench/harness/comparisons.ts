import type { Durability, StoreKind, SystemFamily } from '../systems/system-adapter.ts';

/** What a comparison needs to know about a system; the results JSON records as much. */
export interface ComparedSystem {
  readonly id: string;
  readonly family: SystemFamily;
  readonly store: StoreKind;
  readonly durability?: Durability;
}

/**
 * One "Jobsmith ÷ peer" column: the best Jobsmith figure among `jobsmith` over the best
 * peer figure among `peers`, for the metrics it covers. Comparisons stay within a store
 * (and, on SQLite, within a durability mode), so a ratio never credits Jobsmith for a
 * store that does less work per commit; the BullMQ columns are the exception the
 * targets ask for, and say so in their titles.
 */
export interface Comparison {
  readonly id: string;
  /** The store whose table shows the column. */
  readonly store: StoreKind;
  readonly title: string;
  /** For the notes under the table. */
  readonly explanation: string;
  readonly jobsmith: (system: ComparedSystem) => boolean;
  readonly peers: (system: ComparedSystem) => boolean;
  readonly covers: (metricId: string) => boolean;
}

const everyMetric = () => true;
const processingAndMemory = (metricId: string) => metricId.startsWith('process-') || metricId.startsWith('rss-') || metricId === 'multi-worker';

function sqliteMode(durability: Durability): Comparison {
  const inMode = (system: ComparedSystem) => system.store === 'sqlite' && system.durability === durability;
  return {
    id: `sqlite-${durability}`,
    store: 'sqlite',
    title: `${durability}: Jobsmith ÷ best peer`,
    explanation: `Jobsmith SQLite ${durability} over the best SQLite peer in the same durability mode (synchronous=${durability.toUpperCase()}${durability === 'full' ? ' or a rollback journal with FULL' : ''})`,
    jobsmith: (system) => system.family === 'jobsmith' && inMode(system),
    peers: (system) => system.family === 'peer' && inMode(system),
    covers: everyMetric,
  };
}

function versusBullmq(store: 'sqlite' | 'postgres', label: string): Comparison {
  return {
    id: `${store}-vs-bullmq`,
    store,
    title: `Jobsmith ${label} ÷ BullMQ (Redis)`,
    explanation: `the best Jobsmith ${label} figure over BullMQ's on Redis, for processing and worker memory only (Redis here keeps nothing on disk)`,
    jobsmith: (system) => system.family === 'jobsmith' && system.store === store,
    peers: (system) => system.id === 'bullmq',
    covers: processingAndMemory,
  };
}

export const comparisons: readonly Comparison[] = [
  sqliteMode('full'),
  sqliteMode('normal'),
  versusBullmq('sqlite', 'SQLite'),
  {
    id: 'postgres',
    store: 'postgres',
    title: 'Jobsmith ÷ best peer',
    explanation: 'Jobsmith PostgreSQL over the best PostgreSQL peer',
    jobsmith: (system) => system.family === 'jobsmith' && system.store === 'postgres',
    peers: (system) => system.family === 'peer' && system.store === 'postgres',
    covers: everyMetric,
  },
  versusBullmq('postgres', 'PostgreSQL'),
  {
    id: 'redis',
    store: 'redis',
    title: 'Jobsmith ÷ best peer',
    explanation: 'Jobsmith Redis over the better of BullMQ and bee-queue on the same Redis',
    jobsmith: (system) => system.family === 'jobsmith' && system.store === 'redis',
    peers: (system) => system.family === 'peer' && system.store === 'redis',
    covers: everyMetric,
  },
];
