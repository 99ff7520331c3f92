/**
 * Skip or fail when a server program is missing. On a developer's machine without
 * PostgreSQL or Redis, the tests that need them are skipped and say why; under CI=true a
 * missing program is an error, so a broken CI image cannot pass by skipping everything.
 *
 *   const servers = requireServers('postgres', 'redis');
 *   describe.skipIf(servers.skip)('PostgreSQL backend', () => { ... });
 */
import { postgresBinaries, redisServerBinary, ServerUnavailableError } from './binaries.ts';
import { postgresOsUser } from './postgres-os-user.ts';

export type ServerKind = 'postgres' | 'redis';

export interface ServerRequirement {
  /** True when the tests should be skipped: something is missing and this is not CI. */
  readonly skip: boolean;
  /** Why they are skipped; undefined when every server can start. */
  readonly reason: string | undefined;
}

/** CI=true (or 1, as some providers set it) makes a missing server an error. */
export function isCI(): boolean {
  const value = (process.env.CI ?? '').trim().toLowerCase();
  return value !== '' && value !== 'false' && value !== '0';
}

/** Why `kind` cannot start on this machine, or undefined when it can. */
export function serverUnavailableReason(kind: ServerKind): string | undefined {
  try {
    if (kind === 'postgres') {
      postgresBinaries();
      postgresOsUser();
    } else {
      redisServerBinary();
    }
    return undefined;
  } catch (error) {
    if (error instanceof ServerUnavailableError) return error.message;
    throw error;
  }
}

const warned = new Set<string>();

/**
 * Checks that every server in `kinds` can start here. Throws under CI when one cannot;
 * otherwise returns `skip: true` with the reason, printed once per process so a skipped
 * suite is visible in the output and not only as a grey line.
 */
export function requireServers(...kinds: readonly ServerKind[]): ServerRequirement {
  const reasons = kinds.flatMap((kind) => {
    const reason = serverUnavailableReason(kind);
    return reason === undefined ? [] : [`${kind}: ${reason}`];
  });
  if (reasons.length === 0) return { skip: false, reason: undefined };
  const reason = reasons.join('; ');
  if (isCI()) throw new ServerUnavailableError(`CI is set, so missing test servers are an error, not a skip: ${reason}`);
  if (!warned.has(reason)) {
    warned.add(reason);
    console.warn(`[test/support] skipping tests that need ${kinds.join(' and ')}: ${reason}`);
  }
  return { skip: true, reason };
}
