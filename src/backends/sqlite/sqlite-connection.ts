import { realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { BackendEvent } from '../../contract/backend.ts';
import type { Clock } from '../../domain/clock.ts';
import { BackendUnavailableError, ClosedError, StoreError } from '../../domain/errors.ts';
import { readNamedStatements } from '../statement-files.ts';
import { countLocalWrite, hubFor, hubHasListeners } from './sqlite-event-hub.ts';
import { nextTurn, retryWhileBusy, sqliteCodeOf } from './sqlite-lock-wait.ts';
import { applySqliteMigrations } from './sqlite-migrations.ts';
import type { SqliteSettings, SqliteSynchronous } from './sqlite-url.ts';
import { WriteQueue } from './sqlite-write-queue.ts';

export type Db = Database.Database;

/** The statements each role's file holds, by file; each is prepared once per connection. */
const statementNames = {
  queue: [
    'insert', 'insertShared', 'byKey', 'ensureQueue', 'pausedQueues', 'anyClaimable', 'ready', 'expired', 'expiredHooks', 'promote', 'nextRunAt',
    'start', 'startBatch', 'completeBatch', 'completeMoved', 'cancelExpired', 'renew', 'heldHistory', 'setProgress', 'heldLogs', 'setLogs',
    'retryLater', 'fail', 'cancelRunning', 'hookDone', 'hookDoneBy', 'settledBy', 'takeOverHook', 'dataVersion', 'cancelRequests', 'touchQueue', 'addCounts',
  ],
  admin: [
    'byId', 'byPrefix', 'anyDue', 'requestCancel', 'cancelWaiting', 'retry', 'retried', 'deleteById', 'deleteFinishedById', 'pruneFinished', 'pruneExpired',
    'pruneCounts', 'stateCounts', 'queues', 'buckets', 'oldestQueued', 'waitingForChildren', 'setPaused',
  ],
  steps: ['recordStep', 'stepsOf'],
  flows: [
    'takenId', 'insertFlowJob', 'insertDependency', 'resolveDependencies', 'countDown', 'countDownFinished', 'anyNotCompleted', 'releaseParent', 'finishParent',
    'unfinishedDescendants', 'cancelDescendant', 'requestCancelDescendant', 'childrenOf', 'flowCounts', 'finishedFlowCounts',
  ],
  schedules: ['scheduleById', 'schedules', 'upsertSchedule', 'setScheduleEnabled', 'removeSchedule', 'isActive', 'advanceSchedule', 'fireSchedule'],
  workers: ['upsertWorker', 'deleteWorker', 'purgeWorkers', 'liveWorkers'],
} as const;

type StatementFile = keyof typeof statementNames;
export type StatementName = (typeof statementNames)[StatementFile][number];
export type SqliteStatements = Readonly<Record<StatementName, Database.Statement>>;

let statementTexts: Readonly<Record<StatementName, string>> | null = null;

/**
 * The text of every statement in `sql/*.sql`, read once per process. A name the code needs
 * and its file lacks throws here, at the first open, not at the first call that runs it.
 */
export function sqliteStatementTexts(): Readonly<Record<StatementName, string>> {
  if (statementTexts) return statementTexts;
  const texts = {} as Record<StatementName, string>;
  for (const [file, names] of Object.entries(statementNames) as Array<[StatementFile, readonly StatementName[]]>) {
    const url = new URL(`./sql/${file}.sql`, import.meta.url);
    const statements = readNamedStatements(url);
    for (const name of names) {
      const text = statements[name];
      if (text === undefined) throw new Error(`${url.pathname} has no statement "${name}"`);
      texts[name] = text;
    }
  }
  return (statementTexts = texts);
}

/**
 * The write-ahead log is cut back to this size whenever it restarts: a little above what one
 * autocheckpoint cycle writes (1,000 pages of 4 KiB), so an ordinary cycle never truncates it.
 */
const walSizeLimitBytes = 6 * 1024 * 1024;
/** How often, at most, a pending fold of the log is tried (each try copies the log). */
const walFoldRetryMs = 100;

/** How long a connection's calls may run one after another without letting the event loop turn (see `SqliteConnection.write`). */
const turnEveryMs = 1;

export interface SqliteConnectionOptions {
  path: string;
  synchronous: SqliteSynchronous;
  busyTimeoutMs: number;
  clock: Clock;
}

/**
 * Why better-sqlite3's native addon could not be loaded, as advice, or null when `error` is
 * something else. The addon is built or downloaded by the package's install script, which npm
 * skips under `--ignore-scripts` and, from npm 12, unless the project approves it in
 * `allowScripts`; an addon built for another Node.js needs a rebuild. Either way the file is
 * fine and the message must say what to run, not blame the database.
 */
function missingAddonReason(error: unknown): string | null {
  const message = error instanceof Error ? error.message : '';
  const firstLine = message.split('\n')[0];
  if (/Could not locate the bindings file|better_sqlite3\.node/.test(message) && !/NODE_MODULE_VERSION/.test(message)) {
    return `better-sqlite3's native addon is not installed, because its install script did not run (npm 12 skips install scripts a project has not approved): run \`npm approve-scripts better-sqlite3\` and then \`npm rebuild better-sqlite3\` (${firstLine})`;
  }
  if (/NODE_MODULE_VERSION|was compiled against a different Node\.js version/.test(message)) {
    return `better-sqlite3's native addon was built for another version of Node.js: run \`npm rebuild better-sqlite3\` (${firstLine})`;
  }
  return null;
}

/**
 * The one better-sqlite3 connection a `SqliteBackend` and its roles share: opening it (WAL,
 * migrations), its prepared statements, its writes in turns (sqlite-write-queue.ts) and reads,
 * failures mapped to `StoreError`, the folding of the log after a full disk, and the event
 * hub of its file.
 */
export class SqliteConnection {
  readonly clock: Clock;
  readonly path: string;
  readonly busyTimeoutMs: number;
  /** The file's canonical path: every backend on one file in this process shares its event hub. */
  readonly hubKey: string;
  private readonly synchronous: SqliteSynchronous;
  private db: Db | null = null;
  private opening: Promise<Db> | null = null;
  private prepared: SqliteStatements | null = null;
  /**
   * When (`performance.now()`) to try folding the write-ahead log back next (`foldWal`), set
   * once a write ran out of space; null while no fold is pending.
   */
  private walFoldDueAt: number | null = null;
  /** When (`performance.now()`) a call of this connection last let the event loop turn (see `write`). */
  private lastTurnAt = Number.NEGATIVE_INFINITY;
  /** How the last fold went, for the errors of writes that ran out of room before the next. */
  private lastWalFold = '';
  private readonly writes: WriteQueue;
  private closed = false;
  /** This connection's writes counted into its file's hub (`countLocalWrite`). */
  private countedWrites = 0;

  constructor(options: SqliteConnectionOptions) {
    this.clock = options.clock;
    this.path = options.path;
    this.busyTimeoutMs = options.busyTimeoutMs;
    this.synchronous = options.synchronous;
    this.writes = new WriteQueue({
      db: () => this.handle(),
      busyTimeoutMs: this.busyTimeoutMs,
      beforeTransaction: () => {
        if (this.walFoldDueAt !== null && performance.now() >= this.walFoldDueAt) this.foldWal();
        // Counted in the same turn as the commit that follows, so no look of the watch falls between.
        if (hubHasListeners(this.hubKey)) {
          this.countedWrites++;
          countLocalWrite(this.hubKey);
        }
      },
      failure: (operation, error) => this.failure(operation, error),
    });
    this.hubKey = options.path === ':memory:' ? `:memory:${Math.random()}` : canonicalPath(options.path);
  }

  /** The open connection; the first call opens it (see `openConnection`). */
  async open(): Promise<Db> {
    if (this.closed) throw new ClosedError('The SQLite backend');
    if (this.db) return this.db;
    this.opening ??= this.openConnection().finally(() => {
      this.opening = null;
    });
    return this.opening;
  }

  /** Closes the connection for good; false when it was closed already. */
  close(): boolean {
    if (this.closed) return false;
    this.closed = true;
    if (this.db && !this.db.inTransaction) {
      try {
        this.giveBackFreePages();
      } catch {
        // Another connection holds the write lock (or the volume is full): the pages stay
        // free inside the file, and a later prune or close gives them back.
      }
    }
    this.db?.close();
    this.db = null;
    return true;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The connection if it is open now, without waiting; null otherwise (for the watch of the file). */
  get current(): Db | null {
    return this.db;
  }

  private async openConnection(): Promise<Db> {
    const { path } = this;
    const deadline = performance.now() + this.busyTimeoutMs;
    let db: Db | null = null;
    try {
      // No busy timeout: SQLite would wait for a lock inside the call, blocking the event loop.
      db = new Database(path, { timeout: 0 });
      const opening = db;
      // A new file gives the pages it frees back to the volume (giveBackFreePages) instead of
      // keeping them for good. SQLite takes the mode only before the file's first page is
      // written: before the switch to WAL, which writes it, and the first table. A file made
      // before this keeps its mode (auto_vacuum=NONE: only a VACUUM could change it). Setting it
      // writes the file's header, so it waits for a lock like the switch to WAL; SQLite leaves a
      // file alone that another process gave its first table meanwhile.
      if ((await retryWhileBusy(deadline, () => opening.pragma('page_count', { simple: true }))) === 0) {
        await retryWhileBusy(deadline, () => opening.pragma('auto_vacuum = INCREMENTAL'));
      }
      // Switching a file to WAL needs a lock SQLite would not wait for anyway (it reports
      // SQLITE_BUSY at once): retry, so processes opening a new file together all succeed.
      await retryWhileBusy(deadline, () => opening.pragma('journal_mode = WAL'));
      db.pragma(`synchronous = ${this.synchronous.toUpperCase()}`);
      db.pragma('foreign_keys = ON');
      // A log that grew (a burst, or checkpoints held back by readers) shrinks again when it
      // restarts, instead of keeping its largest size on disk for good.
      db.pragma(`journal_size_limit = ${walSizeLimitBytes}`);
      await retryWhileBusy(deadline, () => applySqliteMigrations(opening, this.clock.now()));
      // A log left larger than that (by a full volume, say) is folded back before the first call.
      if (walFileBytes(path) > walSizeLimitBytes) this.walFoldDueAt = 0;
    } catch (error) {
      db?.close();
      const addonProblem = db === null ? missingAddonReason(error) : null;
      if (addonProblem !== null) throw new BackendUnavailableError('sqlite', addonProblem, error);
      const sqliteCode = sqliteCodeOf(error);
      throw new StoreError(`Cannot open the SQLite database at "${path}" (${dirname(resolve(path))}): ${(error as Error).message}`, {
        cause: error,
        details: { path, ...(sqliteCode === null ? {} : { sqliteCode }) },
        transient: isTransient(sqliteCode),
      });
    }
    if (this.closed) {
      db.close();
      throw new ClosedError('The SQLite backend');
    }
    this.db = db;
    this.prepared = prepareStatements(db);
    return db;
  }

  /** Read-only connection settings, for diagnostics and tests. The backend must be open. */
  settings(): SqliteSettings {
    const db = this.handle();
    const synchronous = ['off', 'normal', 'full', 'extra'][db.pragma('synchronous', { simple: true }) as number] as 'full';
    return {
      journalMode: String(db.pragma('journal_mode', { simple: true })),
      synchronous,
      busyTimeoutMs: this.busyTimeoutMs,
      walSizeLimitBytes: db.pragma('journal_size_limit', { simple: true }) as number,
    };
  }

  /** The open connection, for the synchronous work inside a call; throws when there is none. */
  handle(): Db {
    if (this.db) return this.db;
    if (this.closed) throw new ClosedError('The SQLite backend');
    throw new StoreError(`The SQLite database at "${this.path}" is not open yet: await open() first`, { details: { path: this.path } });
  }

  /** This connection's prepared statements (sql/*.sql). */
  get statements(): SqliteStatements {
    this.handle();
    return this.prepared!;
  }

  /**
   * A call that writes: `fn` runs in a `BEGIN IMMEDIATE` transaction, with any other writes of
   * this backend that wait for the lock at the same time (sqlite-write-queue.ts). `fn` must
   * change nothing outside the database: it may run again.
   *
   * A call, read or write, first lets the event loop turn (`nextTurn`) if it has not turned
   * for one of this connection's calls in the last `turnEveryMs`: the work is synchronous, and
   * without a turn a loop of awaited calls (`for … await enqueue`) starves timers, I/O and a
   * worker in the same process. A turn costs 3–5 µs, about a tenth of a lone enqueue with
   * synchronous=normal; once a millisecond keeps timers and I/O within a millisecond of due
   * (bench/where-the-time-goes.md, issue #21).
   */
  async write<T>(operation: string, fn: () => T, oneStatement = false): Promise<T> {
    // Awaited only when there is something to wait for: each await is a promise and a hop.
    if (this.db === null || this.closed) await this.open();
    if (performance.now() - this.lastTurnAt >= turnEveryMs) await this.turn();
    return this.writes.run(operation, fn, oneStatement);
  }

  private async turn(): Promise<void> {
    await nextTurn();
    this.lastTurnAt = performance.now();
  }

  /** This connection's writes counted into its file's hub: the watch of the file leaves them out (sqlite-watch.ts). */
  get localWrites(): number {
    return this.countedWrites;
  }

  /** Whether any backend on this file in this process listens for events (see `emit`): if not, none need building. */
  listens(): boolean {
    return hubHasListeners(this.hubKey);
  }

  /**
   * Gives the file's free pages back to the volume (`PRAGMA incremental_vacuum`): rows deleted
   * or moved (a prune; the queued rows of a backlog, once run, move to jobsmith_finished)
   * leave pages free that SQLite otherwise keeps in the file for its next writes. Pages in use
   * at the end of the file are moved into the free ones and the file is cut (in WAL mode, by
   * the next checkpoint). Called inside a prune's write, and at close (outside any write; the
   * write lock is not waited for). Costs a page write per page given back; a no-op in a file
   * with none free and in one made before auto_vacuum=INCREMENTAL (see `openConnection`).
   */
  giveBackFreePages(): void {
    this.handle().pragma('incremental_vacuum');
  }

  /** A call that only reads: in WAL mode it needs no lock, except for moments (a log being reset), waited out on a timer. */
  async read<T>(operation: string, fn: () => T): Promise<T> {
    if (this.db === null || this.closed) await this.open();
    if (performance.now() - this.lastTurnAt >= turnEveryMs) await this.turn();
    try {
      return await retryWhileBusy(performance.now() + this.busyTimeoutMs, fn);
    } catch (error) {
      throw this.failure(operation, error);
    }
  }

  /** Tells every backend on this file in this process (see sqlite-event-hub.ts). */
  emit(event: BackendEvent): void {
    for (const listener of [...hubFor(this.hubKey)]) listener(event);
  }

  /**
   * What a failed call throws: store failures become `StoreError`, transient when they may
   * pass by themselves; anything else (`LeaseLostError`, `ClosedError`, …) as it is.
   * Always runs outside a transaction, so a full store can fold its log here. Public for work
   * that runs outside any call (the watch of the file), which reports its failures as events.
   */
  failure(operation: string, error: unknown): unknown {
    const sqliteCode = sqliteCodeOf(error);
    if (sqliteCode === null) return error;
    const walFold = sqliteCode === 'SQLITE_FULL' ? this.afterFull() : undefined;
    return new StoreError(`SQLite ${operation} failed: ${(error as Error).message}`, {
      cause: error,
      details: { operation, sqliteCode, ...(walFold === undefined ? {} : { walFold }) },
      transient: isTransient(sqliteCode),
    });
  }

  /**
   * A write found no space (a full volume, or `max_page_count`). The write-ahead log may hold
   * megabytes that SQLite folds back only past its autocheckpoint size and never gives back
   * to the volume, so a store that once ran full could stay full, even for the `prune` that
   * would free space. Folds it back and cuts it to zero now, and keeps trying before calls
   * (at most every `walFoldRetryMs`) until that succeeds. Says how the fold went, for the error.
   */
  private afterFull(): string {
    if (this.walFoldDueAt !== null && performance.now() < this.walFoldDueAt) return `pending; the last try ${this.lastWalFold}`;
    return this.foldWal();
  }

  /**
   * Copies the whole write-ahead log into the database file and truncates it to zero bytes
   * (`wal_checkpoint(TRUNCATE)`). Without a busy timeout it gives up at once while another
   * connection reads an older snapshot or writes, and it fails while the file cannot grow;
   * either way it is tried again later. That failure is not the failure of the call it
   * precedes, so it is returned, not thrown: `afterFull` reports it in the call's error.
   */
  private foldWal(): string {
    this.walFoldDueAt = performance.now() + walFoldRetryMs;
    try {
      const [result] = this.handle().pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number }>;
      if (result?.busy !== 0) return (this.lastWalFold = 'deferred: another connection is using the log');
      this.walFoldDueAt = null;
      return (this.lastWalFold = 'folded and truncated');
    } catch (error) {
      return (this.lastWalFold = `failed: ${(error as Error).message}`);
    }
  }
}

function prepareStatements(db: Db): SqliteStatements {
  const statements = {} as Record<StatementName, Database.Statement>;
  for (const [name, text] of Object.entries(sqliteStatementTexts()) as Array<[StatementName, string]>) statements[name] = db.prepare(text);
  return statements;
}

/** The file's path with symlinked folders resolved, so every route to one file shares one event hub. */
function canonicalPath(path: string): string {
  const absolute = resolve(path);
  try {
    return join(realpathSync(dirname(absolute)), basename(absolute));
  } catch {
    return absolute;
  }
}

function walFileBytes(path: string): number {
  try {
    return statSync(`${path}-wal`).size;
  } catch {
    return 0;
  }
}

/**
 * Failures that may pass by themselves, which workers back off from and retry: another
 * process holding a lock past the busy timeout, and a full volume (space can come back;
 * see `afterFull`). Anything else (a corrupt file, missing rights) is reported as is.
 */
function isTransient(sqliteCode: string | null): boolean {
  return sqliteCode !== null && (sqliteCode.startsWith('SQLITE_BUSY') || sqliteCode === 'SQLITE_FULL');
}
