import { InvalidUrlError } from '../../domain/errors.ts';

export type SqliteSynchronous = 'full' | 'normal';

export interface SqliteUrlOptions {
  path: string;
  synchronous?: SqliteSynchronous;
  busyTimeoutMs?: number;
}

/**
 * `sqlite:<path>[?synchronous=full|normal&busyTimeout=ms]`. The path may be relative
 * (`sqlite:./jobs.db`), absolute (`sqlite:/var/lib/jobs.db` or `sqlite:///var/lib/jobs.db`),
 * or `:memory:` for a private in-memory database.
 */
export function parseSqliteUrl(url: string): SqliteUrlOptions {
  let rest = url.replace(/^sqlite:/i, '');
  if (rest.startsWith('//')) rest = rest.slice(2);
  const [path = '', query] = rest.split('?', 2);
  if (path === '') throw new InvalidUrlError(url, 'it names no database file');
  const options: SqliteUrlOptions = { path: decodeURIComponent(path) };
  for (const [key, value] of new URLSearchParams(query ?? '')) {
    if (key === 'synchronous') {
      const mode = value.toLowerCase();
      if (mode !== 'full' && mode !== 'normal') throw new InvalidUrlError(url, `synchronous must be full or normal, not "${value}"`);
      options.synchronous = mode;
    } else if (key === 'busyTimeout') {
      const ms = Number(value);
      if (!Number.isSafeInteger(ms) || ms < 0) throw new InvalidUrlError(url, `busyTimeout must be milliseconds, not "${value}"`);
      options.busyTimeoutMs = ms;
    } else {
      throw new InvalidUrlError(url, `unknown parameter "${key}"; known: synchronous, busyTimeout`);
    }
  }
  return options;
}
