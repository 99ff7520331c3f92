import { readMigrationFolder } from '../statement-files.ts';
import { type PostgresConnection, type SchemaNames, fillPlaceholders, loadStatements, q } from './postgres-connection.ts';

/**
 * Numbered plain-SQL migrations for one schema, one file each in `migrations/`
 * (`NNNN-name.sql`, the number is the version), with `:SCHEMA` for the quoted schema name and
 * `:CHANNEL` for the LISTEN/NOTIFY channel. They are applied at open (unless `migrate: false`)
 * inside one transaction holding an advisory lock, so ten processes starting at once apply
 * each exactly once; each applied version is recorded in the schema's `migrations` table.
 * Never edit a released migration: add the next number.
 *
 * Times are bigint milliseconds since the epoch, taken from the Jobsmith clock rather
 * than `now()`, so a fake clock drives delays and leases in tests exactly as on SQLite.
 */
const migrationsFolder = new URL('./migrations/', import.meta.url);

let migrationFiles: ReadonlyArray<{ version: number; sql: string }> | null = null;

/** The migration files, in version order, read once per process. */
function readMigrationFiles(): ReadonlyArray<{ version: number; sql: string }> {
  migrationFiles ??= readMigrationFolder(migrationsFolder);
  return migrationFiles;
}

/** The migrations with this schema's names filled in, in version order. */
export function postgresMigrations(names: SchemaNames): ReadonlyArray<{ version: number; sql: string }> {
  return readMigrationFiles().map(({ version, sql }) => ({ version, sql: fillPlaceholders(sql, names) }));
}

const migrateStatements = ['ping', 'lockMigrations', 'createSchema', 'createVersionsTable', 'appliedVersions', 'recordVersion'] as const;

/** Applies the migrations this schema lacks; with `migrate` off, only checks the server answers. */
export async function applyPostgresMigrations(connection: PostgresConnection, migrate: boolean): Promise<void> {
  const sql = loadStatements(new URL('./sql/migrate.sql', import.meta.url), migrateStatements, connection);
  if (!migrate) {
    await connection.run('open', (db) => q(db, sql.ping));
    return;
  }
  await connection.inTransaction(undefined, 'migrate', async (db) => {
    await q(db, sql.lockMigrations, [`jobsmith:migrate:${connection.schema}`]);
    await q(db, sql.createSchema);
    await q(db, sql.createVersionsTable);
    const { rows } = await q<{ version: number }>(db, sql.appliedVersions);
    const applied = new Set(rows.map((row) => row.version));
    for (const migration of postgresMigrations(connection)) {
      if (applied.has(migration.version)) continue;
      await q(db, migration.sql);
      await q(db, sql.recordVersion, [migration.version, connection.clock.now()]);
    }
  });
}
