import type { LiveWorker, WorkerPresence, WorkerRegistry } from '../../contract/worker-registry.ts';
import { type PostgresConnection, loadStatements, q } from './postgres-connection.ts';

const workerStatements = ['registerWorker', 'deregisterWorker', 'listWorkers'] as const;

/** A row of the `workers` table as pg returns it (bigints as numbers, text[] as arrays). */
interface PgWorkerRow {
  id: string;
  host: string;
  pid: number;
  queues: string[] | null;
  names: string[];
  concurrency: number;
  running: number;
  started_at: number;
  last_heartbeat_at: number;
  expires_at: number;
}

/**
 * The live-workers role on PostgreSQL: one row per worker in the schema's `workers` table,
 * written by `register_worker()` (migration 7), which the heartbeat's `renewLeases` calls in
 * its own statement. Lapsed rows are deleted when the list is read.
 */
export class PostgresWorkers implements WorkerRegistry {
  private readonly sql: Record<(typeof workerStatements)[number], string>;

  constructor(private readonly connection: PostgresConnection) {
    this.sql = loadStatements(new URL('./sql/workers.sql', import.meta.url), workerStatements, connection);
  }

  async registerWorker(worker: WorkerPresence, ttlMs: number): Promise<void> {
    await this.connection.run('registerWorker', (db) => q(db, this.sql.registerWorker, registrationArguments(worker, this.connection.clock.now(), ttlMs)));
  }

  async deregisterWorker(workerId: string): Promise<boolean> {
    const { rowCount } = await this.connection.run('deregisterWorker', (db) => q(db, this.sql.deregisterWorker, [workerId]));
    return (rowCount ?? 0) > 0;
  }

  async listWorkers(): Promise<LiveWorker[]> {
    const { rows } = await this.connection.run('listWorkers', (db) => q<PgWorkerRow>(db, this.sql.listWorkers, [this.connection.clock.now()]));
    return rows.map((row) => ({
      id: row.id,
      host: row.host,
      pid: row.pid,
      queues: row.queues,
      names: row.names,
      concurrency: row.concurrency,
      running: row.running,
      startedAt: row.started_at,
      lastHeartbeatAt: row.last_heartbeat_at,
      expiresAt: row.expires_at,
    }));
  }
}

/** `register_worker()`'s ten arguments, in its order: `registerWorker` passes them as $1 to $10, `renewLeases` as $4 to $13. */
export function registrationArguments(worker: WorkerPresence, now: number, ttlMs: number): unknown[] {
  return [worker.id, worker.host, worker.pid, worker.queues, worker.names, worker.concurrency, worker.running, worker.startedAt, now, ttlMs];
}
