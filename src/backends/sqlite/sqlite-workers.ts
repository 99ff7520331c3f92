import type { LiveWorker, WorkerPresence, WorkerRegistry } from '../../contract/worker-registry.ts';
import type { SqliteConnection } from './sqlite-connection.ts';

/** A row of `jobsmith_workers` as better-sqlite3 returns it. */
interface WorkerRow {
  id: string;
  host: string;
  pid: number;
  queues: string | null;
  names: string;
  concurrency: number;
  running: number;
  started_at: number;
  last_heartbeat_at: number;
  expires_at: number;
}

/**
 * The live-workers role on SQLite: one row per worker in `jobsmith_workers`. Lapsed rows are
 * deleted by the next registration (a write anyway), so listing stays a read that needs no lock.
 */
export class SqliteWorkers implements WorkerRegistry {
  constructor(private readonly connection: SqliteConnection) {}

  async registerWorker(worker: WorkerPresence, ttlMs: number): Promise<void> {
    await this.connection.write('registerWorker', () => this.registerNow(worker, ttlMs));
  }

  /** Writes the registration inside the caller's transaction: `registerWorker`'s, or a heartbeat's `renewLeases`. */
  registerNow(worker: WorkerPresence, ttlMs: number): void {
    const s = this.connection.statements;
    const now = this.connection.clock.now();
    s.purgeWorkers.run(now);
    s.upsertWorker.run(
      worker.id,
      worker.host,
      worker.pid,
      worker.queues === null ? null : JSON.stringify(worker.queues),
      JSON.stringify(worker.names),
      worker.concurrency,
      worker.running,
      worker.startedAt,
      now,
      now + ttlMs,
    );
  }

  async deregisterWorker(workerId: string): Promise<boolean> {
    return this.connection.write('deregisterWorker', () => this.connection.statements.deleteWorker.run(workerId).changes > 0);
  }

  async listWorkers(): Promise<LiveWorker[]> {
    const rows = await this.connection.read('listWorkers', () => this.connection.statements.liveWorkers.all(this.connection.clock.now()) as WorkerRow[]);
    return rows.map(rowToWorker);
  }
}

function rowToWorker(row: WorkerRow): LiveWorker {
  return {
    id: row.id,
    host: row.host,
    pid: row.pid,
    queues: row.queues === null ? null : (JSON.parse(row.queues) as string[]),
    names: JSON.parse(row.names) as string[],
    concurrency: row.concurrency,
    running: row.running,
    startedAt: row.started_at,
    lastHeartbeatAt: row.last_heartbeat_at,
    expiresAt: row.expires_at,
  };
}
