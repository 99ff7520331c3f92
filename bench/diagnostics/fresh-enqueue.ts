/**
 * What the diagnostics that time SQLite enqueues in fresh processes share
 * (sqlite-enqueue-fresh.ts, sqlite-enqueue-lower-bound.ts): their common options, and
 * plainjob's queue opened as the bench opens it, the child run, and how figures print.
 */
import Database from 'better-sqlite3';
import { median } from '../harness/statistics.ts';
import { importPeer, quietConsole } from '../systems/peer-module.ts';
import { childOutput } from './child-output.ts';

/** The `parseArgs` options every such diagnostic takes; `reps` defaults differ, so each gives its own. */
export function freshEnqueueOptions(defaultReps: number) {
  return {
    mode: { type: 'string', default: 'bulk' },
    synchronous: { type: 'string', default: 'normal' },
    reps: { type: 'string', default: String(defaultReps) },
    jobs: { type: 'string', default: '20000' },
    child: { type: 'string' },
  } as const;
}

export interface FreshEnqueueRun {
  mode: 'bulk' | 'single';
  synchronous: 'normal' | 'full';
  jobCount: number;
}

/** The parsed options of `freshEnqueueOptions`, checked. */
export function freshEnqueueRun(values: { mode: string; synchronous: string; jobs: string }): FreshEnqueueRun {
  const { mode, synchronous } = values;
  if (mode !== 'bulk' && mode !== 'single') throw new Error('--mode is bulk or single');
  if (synchronous !== 'normal' && synchronous !== 'full') throw new Error('--synchronous is normal or full');
  return { mode, synchronous, jobCount: Number(values.jobs) };
}

export interface PlainjobQueue {
  add(type: string, data: unknown): unknown;
  addMany(type: string, data: readonly unknown[]): unknown;
  /** Closes the queue and its connection. */
  close(): void;
}

/** plainjob's queue on a fresh file, in `synchronous` mode (WAL, as `defineQueue` sets it). */
export async function openPlainjobQueue(file: string, synchronous: FreshEnqueueRun['synchronous']): Promise<PlainjobQueue> {
  const plainjob = await importPeer<{
    better(database: Database.Database): unknown;
    defineQueue(options: Record<string, unknown>): { add(type: string, data: unknown): unknown; addMany(type: string, data: readonly unknown[]): unknown; close(): void };
  }>('plainjob');
  const database = new Database(file);
  const queue = plainjob.defineQueue({ connection: plainjob.better(database), logger: quietConsole });
  database.pragma(`synchronous = ${synchronous.toUpperCase()}`);
  return {
    add: (type, data) => queue.add(type, data),
    addMany: (type, data) => queue.addMany(type, data),
    close: () => {
      queue.close();
      database.close();
    },
  };
}

/**
 * Runs `script` (the diagnostic itself, by its file path) as a child measuring `system` in a
 * fresh process, and parses the JSON line it printed last.
 */
export async function childResult<T>(script: string, system: string, run: FreshEnqueueRun, extraArgs: readonly string[] = []): Promise<T> {
  const args = ['--import', 'tsx', script, '--child', system, '--mode', run.mode, '--synchronous', run.synchronous, '--jobs', String(run.jobCount), ...extraArgs];
  const lines = await childOutput(args, `the child measuring ${system}`);
  const result = lines.findLast((line) => line.startsWith('{'));
  if (result === undefined) throw new Error(`the child measuring ${system} printed no result`);
  return JSON.parse(result) as T;
}

/** Figures as "median (lowest–highest)". */
export function medianAndRange(list: readonly number[]): string {
  return `${median([...list]).toFixed(2)} (${Math.min(...list).toFixed(2)}–${Math.max(...list).toFixed(2)})`;
}
