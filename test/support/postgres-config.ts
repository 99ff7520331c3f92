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
 * Settings the harness depends on and tests may not change: where the server listens;
 * fsync, because durability tests must see real flushes; and jit, because the JIT a stock
 * server runs once made every claim 100× slower and tests must see what users see.
 */
const RESERVED = new Set(['port', 'listen_addresses', 'unix_socket_directories', 'fsync', 'jit']);

/**
 * What the harness sets beyond the port, listen address and socket folder. Everything
 * else is PostgreSQL's stock configuration as initdb writes it (jit on, shared_buffers
 * 128MB, …): a setting that hides a problem from the tests hides it from users. Each
 * entry says why a throwaway server needs it; bench/README.md lists them
 * (`harnessDeviations`).
 */
const DEFAULTS: Settings = {
  // Stock is 100. The conformance suite keeps a pool of 8 per test and the multi-process
  // tests run several workers with pools each; 200 keeps them from being refused.
  max_connections: 200,
  // Logs go to a file in the temp folder (pg_ctl -l), prefixed with the time, pid, user and
  // database, so a failing test can show what the server saw. Logging only.
  log_line_prefix: '%m [%p] %q%u@%d ',
  // Crash recovery first flushes the whole data directory; file by file that took ~0.7 s
  // of every immediate restart here, one syncfs() call ~10 ms. Just as durable (Linux only).
  ...(process.platform === 'linux' ? { recovery_init_sync_method: 'syncfs' } : {}),
};

/** The harness's settings that differ from a stock server, with why, for bench/README.md. */
export const harnessDeviations: readonly string[] = [
  'port, listen_addresses = 127.0.0.1 and unix_socket_directories: a random loopback port and a socket folder in the temp folder',
  'max_connections = 200 (stock 100): room for every pool the tests and peers open',
  "log_line_prefix = '%m [%p] %q%u@%d ': logging only",
  'recovery_init_sync_method = syncfs (Linux): restarts after a kill flush the data folder in one call; just as durable',
];

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
