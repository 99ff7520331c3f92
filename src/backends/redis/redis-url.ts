import { InvalidUrlError } from '../../domain/errors.ts';

export interface RedisUrlOptions {
  /** The URL for ioredis, without Jobsmith's own parameters. */
  url: string;
  prefix?: string;
}

/** `redis://[:password@]host:6379[/db][?prefix=jobsmith]`; `rediss://` for TLS. */
export function parseRedisUrl(url: string): RedisUrlOptions {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidUrlError(url, 'it is not a URL (expected redis://host:6379)');
  }
  if (!parsed.hostname) throw new InvalidUrlError(url, 'it names no host');
  if (parsed.pathname.length > 1 && !/^\/\d+$/.test(parsed.pathname)) throw new InvalidUrlError(url, `database "${parsed.pathname.slice(1)}" is not a number`);
  const options: RedisUrlOptions = { url: '' };
  const prefix = parsed.searchParams.get('prefix');
  if (prefix !== null) {
    if (!/^[\w.:-]{1,64}$/.test(prefix)) throw new InvalidUrlError(url, `prefix "${prefix}" must be letters, digits, _ . : or -`);
    options.prefix = prefix;
  }
  parsed.searchParams.delete('prefix');
  options.url = parsed.toString();
  return options;
}

/**
 * A URL given to `new RedisBackend({ url })`: its `?prefix=` taken out and checked as
 * `parseRedisUrl` does, so one URL names the same keys as a string or as an option (ioredis
 * would ignore the parameter). A string without one goes to ioredis as it is, whatever its form.
 */
export function redisUrlParts(url: string): RedisUrlOptions {
  return URL.canParse(url) && new URL(url).searchParams.has('prefix') ? parseRedisUrl(url) : { url };
}
