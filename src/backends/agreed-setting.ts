import { InvalidOptionError } from '../domain/errors.ts';

/**
 * A setting a backend's constructor can take both as an option and from its connection URL
 * (`?prefix=` for Redis; `?schema=`, `?poolSize=`, … for PostgreSQL): either one alone, or both
 * when they agree. Two that differ are an `InvalidOptionError` naming both, rather than one of
 * them silently winning.
 */
export function agreedSetting<T extends string | number | boolean>(option: string, given: T | undefined, inUrl: T | undefined): T | undefined {
  if (given !== undefined && inUrl !== undefined && given !== inUrl) {
    throw new InvalidOptionError(option, given, `the ${option} the URL names (${JSON.stringify(inUrl)}), or either one alone`);
  }
  return given ?? inUrl;
}
