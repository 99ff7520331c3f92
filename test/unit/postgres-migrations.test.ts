import { describe, expect, it } from 'vitest';
import { postgresMigrations } from '../../src/backends/postgres/postgres-migrations.ts';

// The migrations moved from a TypeScript array into numbered files: an existing database
// knows them by these version numbers, so the files must keep them, one each, in order.
describe('postgres migration files', () => {
  const migrations = postgresMigrations({ S: '"some_schema"', channel: 'jobsmith_some_schema' });

  it('are versions 1 to N, one file each, in order', () => {
    expect(migrations.map((migration) => migration.version)).toEqual(migrations.map((_, index) => index + 1));
    expect(migrations.length).toBeGreaterThanOrEqual(6);
  });

  it('have every :SCHEMA and :CHANNEL filled in with the schema’s names', () => {
    for (const { sql } of migrations) {
      expect(sql).not.toMatch(/:(SCHEMA|CHANNEL)\b/);
      expect(sql).toContain('"some_schema".');
    }
    expect(migrations[0]!.sql).toContain("pg_notify('jobsmith_some_schema', 'q:' || queue)");
  });
});
