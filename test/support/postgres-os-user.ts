/**
 * Which OS user runs initdb, pg_ctl and postgres. PostgreSQL refuses to run as root, so
 * when the tests run as root (CI containers) the binaries run as the `postgres` account,
 * through runuser or, where there is none, su. Anywhere else (a developer's laptop) they
 * run as the current user, who then also owns the data directory.
 */
import { execFileSync } from 'node:child_process';
import { userInfo } from 'node:os';
import { findExecutable, ServerUnavailableError } from './binaries.ts';

const SERVICE_ACCOUNT = 'postgres';

export interface PostgresOsUser {
  /** Account name, for messages. */
  readonly name: string;
  /** Owner to give the temp folder, or undefined when the current user runs the binaries. */
  readonly owner: { readonly uid: number; readonly gid: number } | undefined;
  /** The command line that runs `file args` as this user. */
  command(file: string, args: readonly string[]): { file: string; args: string[] };
}

let cache: PostgresOsUser | ServerUnavailableError | undefined;

export function postgresOsUser(): PostgresOsUser {
  cache ??= resolve();
  if (cache instanceof ServerUnavailableError) throw cache;
  return cache;
}

function resolve(): PostgresOsUser | ServerUnavailableError {
  if (process.getuid?.() !== 0) {
    return { name: currentUserName(), owner: undefined, command: (file, args) => ({ file, args: [...args] }) };
  }
  const owner = accountIds(SERVICE_ACCOUNT);
  if (owner === undefined) {
    return new ServerUnavailableError(`running as root, and there is no "${SERVICE_ACCOUNT}" account to run PostgreSQL as`);
  }
  // Probe instead of assuming: runuser may be absent (it is util-linux only) or refused by PAM.
  const runuser = findExecutable('runuser', ['/usr/sbin', '/sbin']);
  if (runuser !== undefined && succeeds(runuser, ['-u', SERVICE_ACCOUNT, '--', '/bin/sh', '-c', 'true'])) {
    return { name: SERVICE_ACCOUNT, owner, command: (file, args) => ({ file: runuser, args: ['-u', SERVICE_ACCOUNT, '--', file, ...args] }) };
  }
  const su = findExecutable('su', ['/bin', '/usr/bin']);
  if (su !== undefined && succeeds(su, [SERVICE_ACCOUNT, '-s', '/bin/sh', '-c', 'true'])) {
    // su takes one shell string, so every argument is quoted for /bin/sh.
    return {
      name: SERVICE_ACCOUNT,
      owner,
      command: (file, args) => ({ file: su, args: [SERVICE_ACCOUNT, '-s', '/bin/sh', '-c', ['exec', file, ...args].map(shellQuote).join(' ')] }),
    };
  }
  return new ServerUnavailableError(`running as root, but neither runuser nor su can run commands as "${SERVICE_ACCOUNT}"`);
}

function currentUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid ${String(process.getuid?.() ?? '?')}`;
  }
}

/** uid and gid of `account`, through id(1) so that NSS (LDAP and the like) is honoured. */
function accountIds(account: string): { uid: number; gid: number } | undefined {
  const id = findExecutable('id', ['/usr/bin', '/bin']);
  if (id === undefined) return undefined;
  try {
    const uid = Number(execFileSync(id, ['-u', account], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    const gid = Number(execFileSync(id, ['-g', account], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : undefined;
  } catch {
    return undefined;
  }
}

function succeeds(file: string, args: readonly string[]): boolean {
  try {
    execFileSync(file, args, { stdio: 'ignore', timeout: 10_000, cwd: '/' });
    return true;
  } catch {
    return false;
  }
}

function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}
