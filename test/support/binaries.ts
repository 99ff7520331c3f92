/**
 * Where the server programs are. The harness never installs anything: it uses what the
 * machine has and, when a program is missing, says which and where it looked, so
 * `requireServers` can turn that into a skip (laptop) or a failure (CI).
 */
import { accessSync, constants, readdirSync, realpathSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';

/** Why a server cannot be started here; thrown by the start functions, read by `requireServers`. */
export class ServerUnavailableError extends Error {
  override readonly name = 'ServerUnavailableError';
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first executable `name` on PATH, then in `extraDirs`; undefined when there is none. */
export function findExecutable(name: string, extraDirs: readonly string[] = []): string | undefined {
  const pathDirs = (process.env.PATH ?? '').split(delimiter).filter((dir) => dir !== '');
  for (const dir of [...pathDirs, ...extraDirs]) {
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Package locations that are often not on PATH, newest major first: Debian/Ubuntu keep
 * the server binaries in /usr/lib/postgresql/<major>/bin, RHEL/Fedora in /usr/pgsql-<major>/bin.
 */
function postgresFallbackDirs(): string[] {
  const found: Array<{ major: number; dir: string }> = [];
  const layouts = [
    { root: '/usr/lib/postgresql', major: /^(\d+)$/, bin: (entry: string) => join('/usr/lib/postgresql', entry, 'bin') },
    { root: '/usr', major: /^pgsql-(\d+)$/, bin: (entry: string) => join('/usr', entry, 'bin') },
  ];
  for (const layout of layouts) {
    let entries: string[];
    try {
      entries = readdirSync(layout.root);
    } catch {
      continue; // Not this kind of machine.
    }
    for (const entry of entries) {
      const match = layout.major.exec(entry);
      if (match?.[1] !== undefined) found.push({ major: Number(match[1]), dir: layout.bin(entry) });
    }
  }
  return found.sort((a, b) => b.major - a.major).map((entry) => entry.dir);
}

export interface PostgresBinaries {
  readonly initdb: string;
  readonly pgCtl: string;
  /** The directory both come from; pg_ctl finds `postgres` there, so all three share a version. */
  readonly binDir: string;
}

let postgresCache: PostgresBinaries | ServerUnavailableError | undefined;

/**
 * initdb and pg_ctl from one installation. pg_ctl is located first and initdb is taken
 * from the same real directory: PATH may hold symlinks (here /usr/local/bin points into
 * /usr/lib/postgresql/15/bin), and a cluster made by one major cannot be run by another.
 */
export function postgresBinaries(): PostgresBinaries {
  postgresCache ??= locatePostgres();
  if (postgresCache instanceof ServerUnavailableError) throw postgresCache;
  return postgresCache;
}

function locatePostgres(): PostgresBinaries | ServerUnavailableError {
  const fallbacks = postgresFallbackDirs();
  const pgCtlOnPath = findExecutable('pg_ctl', fallbacks);
  if (pgCtlOnPath === undefined) {
    return new ServerUnavailableError(
      `PostgreSQL server binaries not found: no pg_ctl on PATH or in ${fallbacks.join(', ') || '/usr/lib/postgresql/*/bin'}`,
    );
  }
  const binDir = dirname(realpathSync(pgCtlOnPath));
  const pgCtl = join(binDir, 'pg_ctl');
  const initdb = join(binDir, 'initdb');
  for (const required of [initdb, join(binDir, 'postgres')]) {
    if (!isExecutable(required)) return new ServerUnavailableError(`PostgreSQL installation in ${binDir} is incomplete: ${required} is missing`);
  }
  return { initdb, pgCtl, binDir };
}

let redisCache: string | ServerUnavailableError | undefined;

/** The redis-server executable. */
export function redisServerBinary(): string {
  redisCache ??= findExecutable('redis-server') ?? new ServerUnavailableError('redis-server not found on PATH');
  if (redisCache instanceof ServerUnavailableError) throw redisCache;
  return redisCache;
}
