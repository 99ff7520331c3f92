// Migration 11: SQLite runs `x IN ('a', 'b', 'c')` (more than two constants) by first building a
// temporary b-tree of the constants, each time the statement or trigger runs. In the state check
// of jobsmith_jobs that was a b-tree of six texts built for every enqueue and every change of
// state (about 1.2 µs a run of the INSERT), and in the WHEN of the trigger that moves a finished
// job, one for every failure and cancel. The same rules, written as comparisons joined by OR,
// build none.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteBackend } from '../../src/backends/sqlite/sqlite-backend.ts';
import { sqliteStatementTexts } from '../../src/backends/sqlite/sqlite-connection.ts';
import { closeHandles } from './fixtures/close-handles.ts';
import { newJob } from './fixtures/new-job.ts';

/** An IN list of three or more quoted constants. */
const longInList = /\bIN\s*\(\s*'[^']*'\s*,\s*'[^']*'\s*,/i;

let dir: string;
const opened: Array<SqliteBackend | Database.Database> = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'jobsmith-sqlite-in-lists-'));
});

afterEach(async () => {
  await closeHandles(opened);
  rmSync(dir, { recursive: true, force: true });
});

async function openedFile(): Promise<Database.Database> {
  const file = join(dir, 'jobs.db');
  const backend = new SqliteBackend({ path: file, synchronous: 'normal' });
  opened.push(backend);
  await backend.open();
  const db = new Database(file);
  opened.push(db);
  return db;
}

describe('migration 11: state checks without IN lists', () => {
  it('leaves no IN list of three or more constants in the check of jobsmith_jobs or the WHEN of its triggers', async () => {
    const db = await openedFile();
    const table = db.prepare("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'jobsmith_jobs'").get() as { sql: string };
    expect(table.sql).not.toMatch(longInList);
    const triggers = db.prepare("SELECT name, sql FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = 'jobsmith_jobs'").all() as Array<{ name: string; sql: string }>;
    expect(triggers.map((trigger) => trigger.name).sort()).toEqual(['jobsmith_jobs_attempt_ended', 'jobsmith_jobs_finished', 'jobsmith_jobs_parent_deleted']);
    for (const trigger of triggers) {
      const when = /\bWHEN\b([\s\S]*?)\bBEGIN\b/.exec(trigger.sql)?.[1] ?? '';
      expect(when, trigger.name).not.toMatch(longInList);
    }
  });

  it('builds no temporary b-tree to enqueue a job without a key (one, behind the key test, for a job with one)', async () => {
    const db = await openedFile();
    const text = sqliteStatementTexts().insert;
    const program = db.prepare(`EXPLAIN ${text}`).all(...Array.from({ length: 15 }, () => null)) as Array<{ addr: number; opcode: string; p1: number; p2: number; p4: string | null }>;
    const temporary = program.filter((op) => op.opcode === 'OpenEphemeral');
    // The unique index on (name, key) holds active states only: its predicate's IN list is
    // reached only when the key is not null (`key IS NOT NULL AND state IN (…)`).
    expect(temporary).toHaveLength(1);
    const skipWhenKeyless = program.find((op) => op.opcode === 'IsNull' && op.addr < temporary[0]!.addr && op.p2 > temporary[0]!.addr && op.addr > temporary[0]!.addr - 3);
    expect(skipWhenKeyless).toBeDefined();
  });

  it('still refuses a state that is not one', async () => {
    const db = await openedFile();
    const job = newJob({ runAt: 0, createdAt: 0 });
    const insert = db.prepare(`INSERT INTO jobsmith_jobs (id, name, queue, state, payload, metadata, priority, max_attempts, run_at, created_at)
      VALUES (?, ?, 'default', ?, '{}', '{}', 0, 1, 0, 0)`);
    expect(() => insert.run(job.id, job.name, 'done')).toThrow(/CHECK constraint failed/);
    insert.run(job.id, job.name, 'queued');
  });
});
