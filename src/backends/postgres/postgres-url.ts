import { InvalidUrlError } from '../../domain/errors.ts';

export interface PostgresUrlOptions {
  /** The connection string for pg, without Jobsmith's own parameters. */
  connectionString: string;
  schema?: string;
  poolSize?: number;
  migrate?: boolean;
  preparedStatements?: boolean;
}

const ownParameters = ['schema', 'poolSize', 'migrate', 'preparedStatements'];

/**
 * `postgres://user:pass@host:5432/db?schema=jobsmith&poolSize=10&migrate=false&preparedStatements=false`.
 * Jobsmith takes `schema`, `poolSize`, `migrate` and `preparedStatements`; every other
 * parameter (sslmode, …) goes to pg.
 */
export function parsePostgresUrl(url: string): PostgresUrlOptions {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidUrlError(url, 'it is not a URL (expected postgres://user:password@host:port/database)');
  }
  if (!parsed.hostname && !parsed.searchParams.get('host')) throw new InvalidUrlError(url, 'it names no host');
  if (parsed.port && !/^\d+$/.test(parsed.port)) throw new InvalidUrlError(url, `port "${parsed.port}" is not a number`);
  const options: PostgresUrlOptions = { connectionString: '' };
  const schema = parsed.searchParams.get('schema');
  if (schema !== null) {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new InvalidUrlError(url, `schema "${schema}" must be a lower-case identifier`);
    options.schema = schema;
  }
  const poolSize = parsed.searchParams.get('poolSize');
  if (poolSize !== null) {
    const size = Number(poolSize);
    if (!Number.isSafeInteger(size) || size < 1) throw new InvalidUrlError(url, `poolSize must be a whole number of 1 or more, not "${poolSize}"`);
    options.poolSize = size;
  }
  const migrate = booleanParameter(url, parsed, 'migrate');
  if (migrate !== undefined) options.migrate = migrate;
  const preparedStatements = booleanParameter(url, parsed, 'preparedStatements');
  if (preparedStatements !== undefined) options.preparedStatements = preparedStatements;
  for (const name of ownParameters) parsed.searchParams.delete(name);
  options.connectionString = parsed.toString();
  return options;
}

function booleanParameter(url: string, parsed: URL, name: string): boolean | undefined {
  const value = parsed.searchParams.get(name);
  if (value === null) return undefined;
  if (value !== 'true' && value !== 'false') throw new InvalidUrlError(url, `${name} must be true or false, not "${value}"`);
  return value === 'true';
}

/**
 * A connection string given to `new PostgresBackend({ connectionString })`: Jobsmith's own
 * parameters taken out and checked as `parsePostgresUrl` does, so one URL means the same as a
 * string or as an option (pg would ignore them). A string that names none of them goes to pg as
 * it is, whatever its form.
 */
export function postgresUrlParts(connectionString: string): PostgresUrlOptions {
  if (!URL.canParse(connectionString)) return { connectionString };
  const parameters = new URL(connectionString).searchParams;
  return ownParameters.some((name) => parameters.has(name)) ? parsePostgresUrl(connectionString) : { connectionString };
}
