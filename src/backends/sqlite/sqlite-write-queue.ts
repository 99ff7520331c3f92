import type Database from 'better-sqlite3';
import { isBusy, pause } from './sqlite-lock-wait.ts';

type Db = Database.Database;

interface QueuedWrite {
  operation: string;
  body: () => unknown;
  /** The body writes with one statement (its triggers included), so SQLite's autocommit keeps it atomic. */
  oneStatement: boolean;
  /** `performance.now()` time after which the call stops waiting for the lock. */
  deadline: number;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

export interface WriteQueueHooks {
  /** The open connection; throws (`ClosedError`) when there is none. */
  db(): Db;
  busyTimeoutMs: number;
  /** Runs before each `BEGIN IMMEDIATE`, outside any transaction. */
  beforeTransaction(): void;
  /** What the caller of a failed write sees instead of `error`. Runs outside any transaction. */
  failure(operation: string, error: unknown): unknown;
}

/**
 * The writes of one connection, done in turns. A write waits here while another process holds
 * the write lock (on a timer, see sqlite-lock-wait.ts), and when the lock is had, every write
 * that queued up meanwhile runs in that one transaction, each in a savepoint of its own (a
 * write alone needs none), and they commit together. Each write stays atomic (a body that
 * throws is rolled back to its savepoint and fails alone), and the writes that waited share
 * one turn of the lock and one commit: with four worker processes on one file, a worker's
 * outcome writes pile up while it waits, and each on its own would wait for the lock and then
 * for the disk again.
 *
 * A write of one statement that finds the queue empty runs without `BEGIN IMMEDIATE` and
 * `COMMIT`: SQLite makes the statement its own transaction. Measured on a lone enqueue (a
 * bare better-sqlite3 connection, synchronous=NORMAL), the explicit pair costs 12–18 µs of
 * CPU more than autocommit's 55–61 µs, about a fifth of the call.
 *
 * Bodies run synchronously and must change nothing outside the database: a body whose
 * transaction SQLite rolled back (on SQLITE_FULL, say) runs again. Calls settle only once
 * their transaction has ended.
 */
export class WriteQueue {
  private queue: QueuedWrite[] = [];
  private draining = false;
  private prepared: { db: Db; statements: ReturnType<typeof transactionStatements> } | null = null;

  constructor(private readonly hooks: WriteQueueHooks) {}

  /** Runs `body` in a write transaction; `oneStatement`: it writes with exactly one statement (see above). */
  run<T>(operation: string, body: () => T, oneStatement = false): Promise<T> {
    // A lone one-statement write with nothing queued runs here and now, in autocommit: no
    // queued entry, no drain, one settled promise (a lone enqueue's 3–4 µs of hops, issue #21).
    // A busy lock goes on to the queue below, which waits it out as for any write; nothing was written.
    if (oneStatement && !this.draining && this.queue.length === 0) {
      try {
        this.statements();
        this.hooks.beforeTransaction();
        return Promise.resolve(body());
      } catch (error) {
        if (!isBusy(error)) return Promise.reject(this.hooks.failure(operation, error));
      }
    }
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ operation, body, oneStatement, deadline: performance.now() + this.hooks.busyTimeoutMs, resolve: resolve as (value: unknown) => void, reject });
      if (!this.draining) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      for (let tries = 0; this.queue.length > 0; ) {
        let statements: ReturnType<typeof transactionStatements>;
        try {
          statements = this.statements();
          this.hooks.beforeTransaction();
          if (this.queue.length === 1 && this.queue[0]!.oneStatement) {
            this.runAlone(this.queue[0]!);
            this.queue.shift();
            tries = 0;
            continue;
          }
          statements.begin.run();
        } catch (error) {
          if (!isBusy(error)) {
            this.fail(this.queue.splice(0), error);
            continue;
          }
          // Writes past their deadline give up; the rest wait and try again together.
          const now = performance.now();
          this.fail(
            this.queue.filter((write) => write.deadline <= now),
            error,
          );
          this.queue = this.queue.filter((write) => write.deadline > now);
          if (this.queue.length > 0) await pause(tries++);
          continue;
        }
        tries = 0;
        this.runTransaction(statements, this.queue.splice(0));
      }
    } finally {
      this.draining = false;
    }
  }

  /**
   * Runs a one-statement write in autocommit and settles it. A busy lock is thrown for
   * `drain` to wait out with the write still first in line (nothing was written); any other
   * failure fails the write alone.
   */
  private runAlone(write: QueuedWrite): void {
    let value: unknown;
    try {
      value = write.body();
    } catch (error) {
      if (isBusy(error)) throw error;
      write.reject(this.hooks.failure(write.operation, error));
      return;
    }
    write.resolve(value);
  }

  /** Runs `batch` in the transaction just begun, commits, and settles each call. */
  private runTransaction(statements: ReturnType<typeof transactionStatements>, batch: QueuedWrite[]): void {
    const db = this.prepared!.db;
    const done: Array<{ write: QueuedWrite; value: unknown }> = [];
    const failed: Array<{ write: QueuedWrite; error: unknown }> = [];
    let next = 0;
    // A write alone in its transaction needs no savepoint: if it throws, the whole transaction
    // is rolled back instead (two statements fewer for every lone enqueue or settle).
    const alone = batch.length === 1;
    try {
      for (; next < batch.length; next++) {
        const write = batch[next]!;
        if (!alone) statements.savepoint.run();
        let value: unknown;
        try {
          value = write.body();
        } catch (error) {
          failed.push({ write, error });
          if (db.inTransaction) {
            if (alone) {
              statements.rollback.run();
            } else {
              statements.rollbackToSavepoint.run();
              statements.release.run();
            }
            continue;
          }
          // SQLite ended the whole transaction (it may on SQLITE_FULL or an I/O error): the
          // writes before this one lost their work too, and run again, first in line.
          this.queue.unshift(...done.map((item) => item.write), ...batch.slice(next + 1));
          done.length = 0;
          next = batch.length;
          break;
        }
        if (!alone) statements.release.run();
        done.push({ write, value });
      }
      if (db.inTransaction) statements.commit.run();
    } catch (error) {
      // A statement of the transaction itself failed (COMMIT on a full disk, say): nothing of
      // the batch is stored, and the writes not yet run fail with it.
      let failure = error;
      if (db.inTransaction) {
        try {
          statements.rollback.run();
        } catch (rollbackError) {
          failure = new AggregateError([error, rollbackError], 'A SQLite write failed, and so did rolling its transaction back');
        }
      }
      const settled = new Set(failed.map((item) => item.write));
      failed.push(...[...done.map((item) => item.write), ...batch.slice(next).filter((write) => !settled.has(write))].map((write) => ({ write, error: failure })));
      done.length = 0;
    }
    for (const { write, value } of done) write.resolve(value);
    for (const { write, error } of failed) write.reject(this.hooks.failure(write.operation, error));
  }

  private fail(writes: readonly QueuedWrite[], error: unknown): void {
    for (const write of writes) write.reject(this.hooks.failure(write.operation, error));
  }

  /** The transaction statements, prepared once per connection. */
  private statements(): ReturnType<typeof transactionStatements> {
    const db = this.hooks.db();
    if (this.prepared?.db !== db) this.prepared = { db, statements: transactionStatements(db) };
    return this.prepared.statements;
  }
}

function transactionStatements(db: Db) {
  return {
    begin: db.prepare('BEGIN IMMEDIATE'),
    commit: db.prepare('COMMIT'),
    rollback: db.prepare('ROLLBACK'),
    savepoint: db.prepare('SAVEPOINT jobsmith_write'),
    release: db.prepare('RELEASE jobsmith_write'),
    rollbackToSavepoint: db.prepare('ROLLBACK TO jobsmith_write'),
  };
}
