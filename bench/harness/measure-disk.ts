import { stat } from 'node:fs/promises';
import Database from 'better-sqlite3';
import { storeField } from '../systems/stores.ts';
import type { SystemAdapter } from '../systems/system-adapter.ts';
import { processBacklogInChild } from './measure-backlog.ts';
import type { DiskOutcome } from './run-outcome.ts';
import type { RunSpec } from './run-spec.ts';

/**
 * Bytes on disk per completed job, for a system on SQLite: its backlog is filled and
 * processed to completion by one worker in its own process with the system's default
 * retention (Jobsmith keeps completed jobs, and so do plainjob and sidequest as the
 * adapters set them up), and that process exits. Then the log is folded into the database
 * with `PRAGMA wal_checkpoint(TRUNCATE)` on a connection of the parent's, which is closed,
 * and every file of the store is measured: the database, and a -wal, -shm or -journal file
 * if one remains. The sum over the jobs is the figure.
 */
export async function measureDiskPerJob(system: SystemAdapter, spec: Omit<RunSpec, 'store'>, childGraceMs: number): Promise<DiskOutcome> {
  if (system.store !== 'sqlite') throw new Error(`${system.id} is not on SQLite; ${spec.workload} measures a SQLite file`);
  const examined: { files?: DiskOutcome['files'] } = {};
  const processed = await processBacklogInChild(system, spec, childGraceMs, async (store) => {
    examined.files = await checkpointAndMeasure(storeField(store, 'path'));
  });
  const measured = examined.files;
  if (measured === undefined) throw new Error(`the files of ${system.id}'s store were not measured`);
  const total = measured.database + measured.wal + measured.shm + measured.journal;
  return {
    kind: 'disk',
    target: spec.jobs,
    processing: processed.outcome,
    files: measured,
    bytesPerJob: total / spec.jobs,
    capped: processed.outcome.capped,
    duplicateRuns: processed.outcome.duplicateRuns,
  };
}

/** Folds the log of the SQLite file at `path` into it, then measures the file and any companion file left. */
export async function checkpointAndMeasure(path: string): Promise<DiskOutcome['files']> {
  const database = new Database(path);
  try {
    const [result] = database.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number; log: number; checkpointed: number }>;
    // A store in rollback-journal mode has no log: SQLite answers busy 0, log -1.
    if (result !== undefined && result.busy !== 0) throw new Error(`wal_checkpoint(TRUNCATE) on ${path} could not finish: another connection is still open`);
  } finally {
    database.close();
  }
  const size = (file: string) =>
    stat(file).then(
      (info) => info.size,
      (error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return 0;
        throw error;
      },
    );
  const [main, wal, shm, journal] = await Promise.all([size(path), size(`${path}-wal`), size(`${path}-shm`), size(`${path}-journal`)]);
  return { database: main, wal, shm, journal };
}

