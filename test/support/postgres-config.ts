/**
 * The configuration a throwaway PostgreSQL cluster runs with. It lives in files in the
 * data directory (not on the pg_ctl command line) so that every way of starting the
 * cluster (pg_ctl start, pg_ctl restart, a start after a kill) uses the same port and
 * socket folder and never falls back to 5432 or /var/run/postgresql, where the machine's
 * own server lives.
 */

export type SettingValue = string | number | boolean;
export type Settings = Readonly<Record<string, SettingValue>>;

/** Name of the file the harness owns, included from postgresql.conf. */
export const HARNESS_CONF = 'jobsmith-test.conf';

/** Role with a password, so tests can check that wrong credentials are refused. */
export const PASSWORD_ROLE = { user: 'jobsmith_test', password: 'secret' } as const;

/** The superuser initdb creates; it connects without a password (see PG_HBA). */
export const SUPERUSER = 'postgres';

/**
 * Settings the harness depends on and tests may not change: where the server listens,
 * and fsync, because durability tests must see real flushes.
 */
const RESERVED = new Set(['port', 'listen_addresses', 'unix_socket_directories', 'fsync']);

/** Defaults tuned for many small, short-lived servers; fsync and commit semantics stay as in production. */
const DEFAULTS: Settings = {
  max_connections: 200,
  // 128MB by default: several servers run side by side, and test data is tiny.
  shared_buffers: '32MB',
  // Explicit, so a changed default can never make durability tests pass by accident.
  synchronous_commit: 'on',
  full_page_writes: true,
  // No background log collector: pg_ctl -l sends stderr to a file in the temp folder.
  logging_collector: false,
  log_destination: 'stderr',
  log_line_prefix: '%m [%p] %q%u@%d ',
  // pg_hba.conf asks for SCRAM, so passwords must be stored as SCRAM (the default since 14; stated for clarity).
  password_encryption: 'scram-sha-256',
  // JIT compilation only costs time on test-sized queries.
  jit: false,
  // Deterministic timestamps in logs and in SQL that does not set a zone.
  timezone: 'UTC',
  log_timezone: 'UTC',
  // Crash recovery first flushes the whole data directory; file by file that took ~0.7 s
  // of every immediate restart here, one syncfs() call ~10 ms. Just as durable (Linux only).
  ...(process.platform === 'linux' ? { recovery_init_sync_method: 'syncfs' } : {}),
};

function render(value: SettingValue): string {
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  if (typeof value === 'number') return String(value);
  return `'${value.replaceAll("'", "''")}'`;
}

export interface HarnessConfInput {
  readonly port: number;
  readonly socketDir: string;
  readonly settings: Settings;
}

/** Throws when `settings` tries to change what the harness manages; checked before the slow initdb. */
export function assertSettingsAllowed(settings: Settings): void {
  for (const name of Object.keys(settings)) {
    if (RESERVED.has(name)) throw new Error(`postgres setting "${name}" is managed by the test harness and cannot be overridden`);
  }
}

/** The harness's config file: defaults, then the caller's settings, then the fixed ones. */
export function renderHarnessConf({ port, socketDir, settings }: HarnessConfInput): string {
  assertSettingsAllowed(settings);
  const merged: Settings = {
    ...DEFAULTS,
    ...settings,
    port,
    listen_addresses: '127.0.0.1',
    unix_socket_directories: socketDir,
    fsync: true,
  };
  const lines = Object.entries(merged).map(([name, value]) => `${name} = ${render(value)}`);
  return `# Written by test/support/postgres-config.ts; rewritten when the harness picks another port.\n${lines.join('\n')}\n`;
}

/**
 * Client authentication. The superuser is trusted, so the harness and tests connect without
 * a password; every other role must present its SCRAM password, so "wrong password is
 * rejected" is testable. Lines are matched top to bottom: the superuser lines come first.
 */
export const PG_HBA = `# Written by test/support/postgres-config.ts.
# TYPE  DATABASE  USER        ADDRESS        METHOD
local   all       ${SUPERUSER}                   trust
host    all       ${SUPERUSER}    127.0.0.1/32   trust
local   all       all                        scram-sha-256
host    all       all         127.0.0.1/32   scram-sha-256
`;
