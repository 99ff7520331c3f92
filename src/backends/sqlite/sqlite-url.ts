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
  const [path = '', query, extra] = rest.split('?');
  if (path === '') throw new InvalidUrlError(url, 'it names no database file');
  if (extra !== undefined) throw new InvalidUrlError(url, "it has a second '?'; join parameters with &");
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    throw new InvalidUrlError(url, "its path has a stray '%' (write %25 for a literal %)");
  }
  const options: SqliteUrlOptions = { path: decoded };
  for (const [key, value] of new URLSearchParams(query ?? '')) {
    if (key === 'synchronous') {
      const mode = value.toLowerCase();
      if (mode !== 'full' && mode !== 'normal') throw new InvalidUrlError(url, `synchronous must be full or normal, not "${value}"`);
      options.synchronous = mode;
    } else if (key === 'busyTimeout') {
      const ms = Number(value);
      if (value.trim() === '' || !Number.isSafeInteger(ms) || ms < 0) throw new InvalidUrlError(url, `busyTimeout must be milliseconds, not "${value}"`);
      options.busyTimeoutMs = ms;
    } else {
      throw new InvalidUrlError(url, `unknown parameter "${key}"; known: synchronous, busyTimeout`);
    }
  }
  return options;
}

/**
 * The connection's settings as SQLite reports them (`SqliteBackend.settings()`). Here, beside the
 * options they come from, so the backend's public types never name the driver's.
 */
export interface SqliteSettings {
  journalMode: string;
  synchronous: 'full' | 'normal' | 'off' | 'extra';
  busyTimeoutMs: number;
  walSizeLimitBytes: number;
}
