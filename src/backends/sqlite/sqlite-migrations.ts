import type Database from 'better-sqlite3';
import { readMigrationFolder, readNamedStatements } from '../statement-files.ts';

/**
 * Numbered plain-SQL migrations, one file each in `migrations/` (`NNNN-name.sql`, the number
 * is the version), applied in order at open inside one `BEGIN IMMEDIATE` transaction, so
 * processes that start together apply each exactly once; each applied version is recorded in
 * `jobsmith_migrations`. Never edit a released migration: add the next number.
 * Read once per process, at first import.
 */
export const sqliteMigrations: ReadonlyArray<{ version: number; sql: string }> = readMigrationFolder(new URL('./migrations/', import.meta.url));

let migrateStatements: Readonly<Record<string, string>> | null = null;

function migrateStatement(name: 'createVersionsTable' | 'appliedVersions' | 'recordVersion'): string {
  migrateStatements ??= readNamedStatements(new URL('./sql/migrate.sql', import.meta.url));
  const text = migrateStatements[name];
  if (text === undefined) throw new Error(`sql/migrate.sql has no statement "${name}"`);
  return text;
}

/** Applies the migrations the file lacks, in one `BEGIN IMMEDIATE` transaction. */
export function applySqliteMigrations(db: Database.Database, now: number): void {
  db.exec(migrateStatement('createVersionsTable'));
  db.transaction(() => {
    const applied = new Set((db.prepare(migrateStatement('appliedVersions')).all() as Array<{ version: number }>).map((row) => row.version));
    for (const migration of sqliteMigrations) {
      if (applied.has(migration.version)) continue;
      db.exec(migration.sql);
      db.prepare(migrateStatement('recordVersion')).run(migration.version, now);
    }
  }).immediate();
}
