import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { BackendEvent } from '../../src/contract/backend.ts';
import { SqliteConnection } from '../../src/backends/sqlite/sqlite-connection.ts';
import { hubFor } from '../../src/backends/sqlite/sqlite-event-hub.ts';
import { OtherProcessWatch, busyAfterChanges, nextLookInMs, quickLookMs, quickSpellMs, type WatchTimer } from '../../src/backends/sqlite/sqlite-watch.ts';
import { StoreError } from '../../src/domain/errors.ts';
import { FakeClock } from '../../src/testing/fake-clock.ts';

describe('nextLookInMs', () => {
  it('looks every millisecond for a second after another process committed, then at the idle interval', () => {
    expect(nextLookInMs(0, 1, 10)).toBe(quickLookMs);
    expect(nextLookInMs(quickSpellMs - 1, 0, 10)).toBe(quickLookMs);
    expect(nextLookInMs(quickSpellMs, 0, 10)).toBe(10);
    expect(nextLookInMs(Number.POSITIVE_INFINITY, 0, 10)).toBe(10);
  });

  it('looks at the idle interval while every look finds a commit (the file is busy)', () => {
    expect(nextLookInMs(0, busyAfterChanges - 1, 10)).toBe(quickLookMs);
    expect(nextLookInMs(0, busyAfterChanges, 10)).toBe(10);
    expect(nextLookInMs(0, busyAfterChanges + 5, 10)).toBe(10);
  });

  it('never looks less often than the idle interval asks', () => {
    expect(nextLookInMs(0, 1, 0.5)).toBe(0.5);
    expect(nextLookInMs(Number.POSITIVE_INFINITY, 0, 0.5)).toBe(0.5);
  });
});

/** A timer the test runs by hand: it records each delay asked for and keeps the one pending look. */
class ManualTimer implements WatchTimer {
  at = 0;
  readonly delays: number[] = [];
  private pending: (() => void) | null = null;

  now(): number {
    return this.at;
  }

  after(ms: number, look: () => void): () => void {
    this.delays.push(ms);
    this.pending = look;
    return () => {
      if (this.pending === look) this.pending = null;
    };
  }

  /** Runs the pending look `ms` after now, as its timer would. */
  look(ms: number): void {
    const look = this.pending;
    if (!look) throw new Error('no look is pending');
    this.pending = null;
    this.at += ms;
    look();
  }

  get hasPending(): boolean {
    return this.pending !== null;
  }
}

describe('the watch of the file for other processes’ commits', () => {
  let dir: string;
  let connection: SqliteConnection;
  let other: Database.Database;
  let timer: ManualTimer;
  let watch: OtherProcessWatch;
  const changes: BackendEvent[] = [];
  const errors: unknown[] = [];
  const listener = (event: BackendEvent) => {
    if (event.type === 'changed') changes.push(event);
    if (event.type === 'connection-error') errors.push(event.error);
  };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'jobsmith-watch-'));
    const path = join(dir, 'jobs.db');
    connection = new SqliteConnection({ path, synchronous: 'normal', busyTimeoutMs: 5000, clock: new FakeClock(Date.UTC(2026, 0, 1)) });
    await connection.open();
    // Another process's connection to the same file.
    other = new Database(path, { fileMustExist: true });
    timer = new ManualTimer();
    watch = new OtherProcessWatch(connection, 10, timer);
    changes.length = 0;
    errors.length = 0;
    hubFor(connection.hubKey).add(listener);
  });

  afterEach(() => {
    watch.stop();
    vi.restoreAllMocks();
    hubFor(connection.hubKey).delete(listener);
    other.close();
    connection.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const commitElsewhere = (queue: string) => other.prepare('INSERT INTO jobsmith_queues (name) VALUES (?)').run(queue);

  it('looks at the idle interval until another process commits, then every millisecond for a second', () => {
    watch.start();
    timer.look(10);
    timer.look(10);
    expect(changes).toHaveLength(0);
    expect(timer.delays).toEqual([10, 10, 10]);

    commitElsewhere('a');
    timer.look(10);
    expect(changes).toHaveLength(1);
    expect(timer.delays.at(-1)).toBe(quickLookMs);

    // Each commit in the quick spell is seen at the next millisecond's look, and extends the spell.
    timer.look(600);
    commitElsewhere('b');
    timer.look(1);
    expect(changes).toHaveLength(2);
    timer.look(quickSpellMs - 1);
    expect(timer.delays.at(-1)).toBe(quickLookMs);
    timer.look(1);
    expect(timer.delays.at(-1)).toBe(10);
    expect(changes).toHaveLength(2);
  });

  it('looks at the idle interval while each look finds a commit, and quickly again once one finds none', () => {
    watch.start();
    timer.look(10);
    for (let look = 1; look <= busyAfterChanges; look++) {
      commitElsewhere(`busy ${look}`);
      timer.look(timer.delays.at(-1)!);
    }
    expect(changes).toHaveLength(busyAfterChanges);
    expect(timer.delays.slice(-busyAfterChanges)).toEqual([...Array.from({ length: busyAfterChanges - 1 }, () => quickLookMs), 10]);
    commitElsewhere('still busy');
    timer.look(10);
    expect(timer.delays.at(-1)).toBe(10);
    // The first look that finds nothing new: quick again, the last commit being under a second old.
    timer.look(10);
    expect(timer.delays.at(-1)).toBe(quickLookMs);
    expect(changes).toHaveLength(busyAfterChanges + 1);
  });

  it('does not count this connection’s own commits', async () => {
    watch.start();
    timer.look(10);
    await connection.write('test', () => connection.current!.prepare('INSERT INTO jobsmith_queues (name) VALUES (?)').run('own'), true);
    timer.look(10);
    expect(changes).toHaveLength(0);
    expect(timer.delays).toEqual([10, 10, 10]);
  });

  it('passes on a commit by another connection of this process, but is not quickened by it (the hub told its listeners already)', async () => {
    const sibling = new SqliteConnection({ path: join(dir, 'jobs.db'), synchronous: 'normal', busyTimeoutMs: 5000, clock: new FakeClock(Date.UTC(2026, 0, 1)) });
    await sibling.open();
    try {
      watch.start();
      timer.look(10);
      await sibling.write('test', () => sibling.current!.prepare('INSERT INTO jobsmith_queues (name) VALUES (?)').run('sibling'), true);
      timer.look(10);
      expect(changes).toHaveLength(1);
      expect(timer.delays.at(-1)).toBe(10);
      // Another process's commit still quickens it.
      commitElsewhere('elsewhere');
      timer.look(10);
      expect(changes).toHaveLength(2);
      expect(timer.delays.at(-1)).toBe(quickLookMs);
    } finally {
      sibling.close();
    }
  });

  /** Makes every look fail with `code` until restored. */
  const failLooks = (code: string) =>
    vi.spyOn(connection.statements.dataVersion, 'get').mockImplementation(() => {
      throw new Database.SqliteError(`looked and failed (${code})`, code);
    });

  it('reports a failing look once per spell of failures, as a StoreError naming the watch, and keeps looking', () => {
    watch.start();
    timer.look(10);
    const failing = failLooks('SQLITE_IOERR');
    timer.look(10);
    timer.look(10);
    timer.look(10);
    expect(errors).toHaveLength(1);
    const error = errors[0] as StoreError;
    expect(error).toBeInstanceOf(StoreError);
    expect(error.code).toBe('STORE_ERROR');
    expect(error.details).toMatchObject({ operation: 'watch', sqliteCode: 'SQLITE_IOERR' });
    expect(error.cause).toBeInstanceOf(Database.SqliteError);
    expect(timer.hasPending).toBe(true);

    // A look that succeeds ends the spell: it sees the commit made meanwhile, and a new failure is reported again.
    failing.mockRestore();
    commitElsewhere('meanwhile');
    timer.look(10);
    expect(changes).toHaveLength(1);
    failLooks('SQLITE_IOERR');
    timer.look(1);
    expect(errors).toHaveLength(2);
  });

  it('reports SQLITE_BUSY only once the looks have failed for as long as a call waits for a lock', () => {
    watch.start();
    timer.look(10);
    const busy = failLooks('SQLITE_BUSY');
    // A moment of a busy log ends before the busy timeout (5 s here): nothing to report.
    timer.look(10);
    timer.look(4000);
    busy.mockRestore();
    timer.look(1000);
    expect(errors).toHaveLength(0);
    // The spell starts again at the next failure, so 4.99 s of it stays unreported.
    failLooks('SQLITE_BUSY');
    timer.look(10);
    timer.look(4990);
    expect(errors).toHaveLength(0);
    timer.look(10);
    expect(errors).toHaveLength(1);
    expect((errors[0] as StoreError).details).toMatchObject({ operation: 'watch', sqliteCode: 'SQLITE_BUSY' });
    expect((errors[0] as StoreError).transient).toBe(true);
    timer.look(10_000);
    expect(errors).toHaveLength(1);
  });

  it('stops looking when stopped, and starts again at the idle interval', () => {
    watch.start();
    expect(watch.watching).toBe(true);
    watch.stop();
    expect(watch.watching).toBe(false);
    expect(timer.hasPending).toBe(false);
    watch.start();
    expect(timer.delays).toEqual([10, 10]);
  });

  it('an idle interval of 0 turns the watch off', () => {
    const off = new OtherProcessWatch(connection, 0, timer);
    off.start();
    expect(off.watching).toBe(false);
    expect(timer.delays).toEqual([]);
  });
});
