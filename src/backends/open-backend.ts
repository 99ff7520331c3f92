import type { Backend } from '../contract/backend.ts';
import type { Clock } from '../domain/clock.ts';
import { InvalidUrlError } from '../domain/errors.ts';
import { parseSqliteUrl } from './sqlite/sqlite-url.ts';

/** Where Jobsmith stores jobs when nothing else is said. */
export const defaultBackendUrl = 'sqlite:./jobsmith.db';

export interface OpenBackendOptions {
  clock?: Clock;
}

/**
 * Picks and builds a backend from a connection string:
 * - `sqlite:./jobsmith.db`, `sqlite:/abs/path.db`, `sqlite:./jobs.db?synchronous=normal`
 * - `memory:`
 * - `postgres://user:pass@host:5432/db?schema=jobsmith` loads the PostgreSQL backend (needs `pg`).
 * - `redis://host:6379/0?prefix=jobsmith` loads the Redis backend (needs `ioredis`).
 * A malformed or unknown string throws `InvalidUrlError`. Nothing is opened until
 * the backend's `open()` is called.
 */
export async function openBackend(url: string, options: OpenBackendOptions = {}): Promise<Backend> {
  if (typeof url !== 'string' || url.trim() === '') throw new InvalidUrlError(String(url), 'it is empty');
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (!scheme) throw new InvalidUrlError(url, 'it has no scheme; expected sqlite:, memory:, postgres:// or redis://');
  switch (scheme) {
    case 'memory': {
      if (!/^memory:(\/\/)?$/i.test(url)) throw new InvalidUrlError(url, "memory takes no path; use 'memory:'");
      const { MemoryBackend } = await import('./memory/memory-backend.ts');
      return new MemoryBackend(options);
    }
    case 'sqlite': {
      const { SqliteBackend } = await import('./sqlite/sqlite-backend.ts');
      return new SqliteBackend({ ...parseSqliteUrl(url), ...options });
    }
    case 'postgres':
    case 'postgresql': {
      const { parsePostgresUrl } = await import('./postgres/postgres-url.ts');
      const parsed = parsePostgresUrl(url);
      const { PostgresBackend } = await import('./postgres/postgres-backend.ts');
      return new PostgresBackend({ ...parsed, ...options }); // BackendUnavailableError without pg
    }
    case 'redis':
    case 'rediss': {
      const { parseRedisUrl } = await import('./redis/redis-url.ts');
      const parsed = parseRedisUrl(url);
      const { RedisBackend } = await import('./redis/redis-backend.ts');
      return new RedisBackend({ ...parsed, ...options }); // BackendUnavailableError without ioredis
    }
    default:
      throw new InvalidUrlError(url, `unknown scheme "${scheme}:"; expected sqlite:, memory:, postgres:// or redis://`);
  }
}
