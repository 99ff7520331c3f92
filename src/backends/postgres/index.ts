// `jobsmith/postgres`: the PostgreSQL backend, for passing your own pg.Pool or options.
export { PostgresBackend } from './postgres-backend.ts';
export type { PgQueryable, PostgresBackendOptions } from './postgres-backend.ts';
export { parsePostgresUrl } from './postgres-url.ts';
export type { PostgresUrlOptions } from './postgres-url.ts';
