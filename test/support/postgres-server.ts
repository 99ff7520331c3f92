/**
 * A throwaway PostgreSQL server for tests: its own cluster in a temp folder, on a random
 * loopback port, with its unix socket in that folder too, so it never meets the machine's
 * own server (port 5432, /var/run/postgresql). Tests can crash it, restart it, cut its
 * connections and stop it; `stop()` removes every trace.
 *
 *   const pg = await startPostgres();
 *   try { await pg.query('SELECT 1'); } finally { await pg.stop(); }
 */
import { appendFileSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, escapeIdentifier, escapeLiteral, type QueryResult, type QueryResultRow } from 'pg';
import { type PostgresBinaries, postgresBinaries } from './binaries.ts';
import { freePort, LOOPBACK, looksLikePortInUse } from './free-port.ts';
import { logSince, logSize, logTail } from './log-tail.ts';
import { assertSettingsAllowed, HARNESS_CONF, PASSWORD_ROLE, PG_HBA, renderHarnessConf, type Settings, SUPERUSER } from './postgres-config.ts';
import { type PostgresOsUser, postgresOsUser } from './postgres-os-user.ts';
import { isProcessAlive } from './process-alive.ts';
import { trackServer } from './process-registry.ts';
import { runChecked } from './run-command.ts';
import { sleepSync, StopWaiting, waitFor } from './wait.ts';

export interface PostgresServerOptions {
  /** Extra postgresql.conf settings; port, listen addresses, socket folder and fsync are fixed. */
  readonly settings?: Settings;
  /** How long a start or restart may take before it fails with the log tail. Default 30 s. */
  readonly startTimeoutMs?: number;
}

/** `pg_ctl -m`: `immediate` is a crash (recovery on the next start), `fast` a clean shutdown. */
export type PostgresStopMode = 'immediate' | 'fast';

export interface UrlParts {
  /** Default: the superuser, who needs no password. */
  readonly user?: string;
  readonly password?: string;
  /** Default: `postgres`. */
  readonly database?: string;
}

export interface PostgresServer {
  readonly host: string;
  /** Stays the same across restart, kill and start. */
  readonly port: number;
  /** Superuser URL to the `postgres` database; trust auth, no password. */
  readonly url: string;
  /** A login role that must give its password (`jobsmith_test` / `secret`), with CREATE on schema public. */
  readonly passwordRole: { readonly user: string; readonly password: string; readonly url: string };
  /** Temp folder holding the data directory, the socket and the log. */
  readonly dir: string;
  readonly dataDir: string;
  readonly logFile: string;
  /** Postmaster PID while the server runs. */
  readonly pid: number | undefined;
  readonly running: boolean;
  /** A URL for any user, password and database on this server (values are URL-encoded). */
  urlFor(parts: UrlParts): string;
  /** Creates a database; resolves with the superuser URL to it. */
  createDatabase(name: string, options?: { readonly owner?: string }): Promise<string>;
  /** Creates a login role with a password (and CREATE on schema public); resolves with its URL. */
  createRole(name: string, password: string, options?: { readonly superuser?: boolean }): Promise<string>;
  /** Runs one statement on a fresh superuser connection. */
  query<R extends QueryResultRow = QueryResultRow>(sql: string, params?: unknown[], options?: { readonly database?: string }): Promise<QueryResult<R>>;
  /**
   * Terminates every client connection (of `database`, or of all), waiting until those
   * backends have exited; resolves with how many were terminated.
   */
  terminateConnections(database?: string): Promise<number>;
  /** `pg_ctl restart -m <mode>` (default fast) on the same port and data; resolves once it accepts connections. */
  restart(options?: { readonly mode?: PostgresStopMode }): Promise<void>;
  /** Stops at once (`pg_ctl stop -m immediate`, as a crash); the data stays for `start()`. */
  kill(): Promise<void>;
  /** Starts again on the same port and data after `kill()` or `stop({ keepData: true })`. */
  start(): Promise<void>;
  /** Clean shutdown, then removes the temp folder unless `keepData`. Safe to call twice. */
  stop(options?: { readonly keepData?: boolean }): Promise<void>;
  /** The last lines of the server log. */
  logTail(lines?: number): string;
}

export async function startPostgres(options: PostgresServerOptions = {}): Promise<PostgresServer> {
  assertSettingsAllowed(options.settings ?? {});
  const server = new ThrowawayPostgres(postgresBinaries(), postgresOsUser(), options);
  try {
    await server.initialize();
  } catch (error) {
    server.killNow();
    throw error;
  }
  return server;
}

/** How many ports to try when the one picked is taken before the server binds it. */
const PORT_ATTEMPTS = 5;

/** Environment for the binaries: PG* variables (PGDATA, PGPORT, ...) of the developer's shell must not steer them. */
function serverEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('PG')));
}

class StartFailure extends Error {
  constructor(
    message: string,
    readonly portInUse: boolean,
  ) {
    super(message);
  }
}

type State = 'new' | 'running' | 'stopped' | 'removed';

class ThrowawayPostgres implements PostgresServer {
  readonly host = LOOPBACK;
  readonly dir: string;
  readonly dataDir: string;
  readonly logFile: string;
  private currentPort = 0;
  private state: State = 'new';
  private stopping: Promise<void> | undefined;
  private readonly untrack: () => void;
  private readonly timeoutMs: number;
  private readonly env = serverEnv();

  constructor(
    private readonly binaries: PostgresBinaries,
    private readonly osUser: PostgresOsUser,
    private readonly options: PostgresServerOptions,
  ) {
    this.timeoutMs = options.startTimeoutMs ?? 30_000;
    this.dir = mkdtempSync(join(tmpdir(), 'jobsmith-pg-'));
    this.dataDir = join(this.dir, 'data');
    this.logFile = join(this.dir, 'postgres.log');
    // The binaries may run as another user (root -> postgres): that user must own the folder.
    if (osUser.owner !== undefined) chownSync(this.dir, osUser.owner.uid, osUser.owner.gid);
    this.untrack = trackServer({ label: `postgres in ${this.dir}`, killNow: () => this.killNow() });
  }

  get port(): number {
    return this.currentPort;
  }

  get url(): string {
    return this.urlFor({});
  }

  get passwordRole(): PostgresServer['passwordRole'] {
    return { ...PASSWORD_ROLE, url: this.urlFor(PASSWORD_ROLE) };
  }

  get running(): boolean {
    return this.state === 'running';
  }

  get pid(): number | undefined {
    return this.state === 'running' ? this.postmasterPid() : undefined;
  }

  urlFor({ user = SUPERUSER, password, database = 'postgres' }: UrlParts): string {
    const credentials = password === undefined ? encodeURIComponent(user) : `${encodeURIComponent(user)}:${encodeURIComponent(password)}`;
    return `postgres://${credentials}@${this.host}:${this.currentPort}/${encodeURIComponent(database)}`;
  }

  logTail(lines?: number): string {
    return logTail(this.logFile, lines);
  }

  /** initdb, configuration, first start (retrying on a taken port), the password role. */
  async initialize(): Promise<void> {
    await this.runAsOsUser(this.binaries.initdb, [
      '--pgdata', this.dataDir,
      '--username', SUPERUSER,
      '--auth', 'trust', // pg_hba.conf is replaced below; this only silences initdb's warning.
      '--encoding', 'UTF8',
      '--no-locale', // C locale: same sorting and messages on every machine.
      // Skips flushing the fresh cluster to disk: it only matters if the machine loses power
      // before the test ends. The server itself keeps fsync on.
      '--no-sync',
      '--no-instructions',
    ]);
    appendFileSync(join(this.dataDir, 'postgresql.conf'), `\ninclude '${HARNESS_CONF}'\n`);
    this.writeOwnedFile(join(this.dataDir, 'pg_hba.conf'), PG_HBA);

    for (let attempt = 1; ; attempt += 1) {
      this.currentPort = await freePort();
      this.writeOwnedFile(
        join(this.dataDir, HARNESS_CONF),
        renderHarnessConf({ port: this.currentPort, socketDir: this.dir, settings: this.options.settings ?? {} }),
      );
      try {
        await this.launch();
        break;
      } catch (error) {
        if (!(error instanceof StartFailure && error.portInUse && attempt < PORT_ATTEMPTS)) throw error;
      }
    }
    await this.waitUntilReady();
    const role = escapeIdentifier(PASSWORD_ROLE.user);
    await this.query(`CREATE ROLE ${role} LOGIN PASSWORD ${escapeLiteral(PASSWORD_ROLE.password)}; GRANT CREATE ON SCHEMA public TO ${role}`);
  }

  async createDatabase(name: string, options: { readonly owner?: string } = {}): Promise<string> {
    const owner = options.owner === undefined ? '' : ` OWNER ${escapeIdentifier(options.owner)}`;
    await this.query(`CREATE DATABASE ${escapeIdentifier(name)}${owner}`);
    return this.urlFor({ database: name });
  }

  async createRole(name: string, password: string, options: { readonly superuser?: boolean } = {}): Promise<string> {
    const role = escapeIdentifier(name);
    const superuser = options.superuser === true ? 'SUPERUSER' : 'NOSUPERUSER';
    // Since PostgreSQL 15 only the database owner may create in schema public; the role's
    // URL points at the `postgres` database, so it gets that right there.
    await this.query(`CREATE ROLE ${role} LOGIN ${superuser} PASSWORD ${escapeLiteral(password)}; GRANT CREATE ON SCHEMA public TO ${role}`);
    return this.urlFor({ user: name, password });
  }

  async query<R extends QueryResultRow = QueryResultRow>(
    sql: string,
    params: unknown[] = [],
    options: { readonly database?: string } = {},
  ): Promise<QueryResult<R>> {
    return this.withClient(options.database ?? 'postgres', (client) => client.query<R>(sql, params));
  }

  async terminateConnections(database?: string): Promise<number> {
    // The timeout argument (PostgreSQL 14+) makes pg_terminate_backend wait until each
    // backend has exited, so a test can act right after this resolves without racing it.
    const result = await this.query<{ terminated: boolean }>(
      `SELECT pg_terminate_backend(pid, $1) AS terminated
         FROM pg_stat_activity
        WHERE pid <> pg_backend_pid() AND backend_type = 'client backend' AND ($2::text IS NULL OR datname = $2)`,
      [this.timeoutMs, database ?? null],
    );
    return result.rows.filter((row) => row.terminated).length;
  }

  async restart(options: { readonly mode?: PostgresStopMode } = {}): Promise<void> {
    this.assertNotRemoved('restart');
    if (this.state !== 'running') return this.start();
    const from = logSize(this.logFile);
    try {
      // pg_ctl restart starts the postmaster with the options recorded in postmaster.opts;
      // port and socket come from the config files, so they cannot drift.
      await this.pgCtl(['restart', '--wait', '--timeout', this.timeoutSeconds(), '--pgdata', this.dataDir, '--mode', options.mode ?? 'fast', '--log', this.logFile]);
    } catch (error) {
      this.state = this.postmasterAlive() ? 'running' : 'stopped';
      throw this.withLog(error, from);
    }
    this.state = 'running';
    await this.waitUntilReady();
  }

  async kill(): Promise<void> {
    this.assertNotRemoved('kill');
    if (this.state !== 'running') return;
    await this.shutdown('immediate');
  }

  async start(): Promise<void> {
    this.assertNotRemoved('start');
    if (this.state === 'running') return;
    // Same port as before, on purpose: clients under test reconnect to the address they had.
    await this.launch();
    await this.waitUntilReady();
  }

  stop(options: { readonly keepData?: boolean } = {}): Promise<void> {
    if (this.state === 'removed') return Promise.resolve();
    this.stopping ??= this.stopAndRemove(options.keepData === true).finally(() => {
      this.stopping = undefined;
    });
    return this.stopping;
  }

  /** Synchronous last resort (process exit, failed start): SIGQUIT, then SIGKILL; removes the folder. */
  killNow(): void {
    const pid = this.postmasterPid();
    if (pid !== undefined && isProcessAlive(pid)) {
      // SIGQUIT is PostgreSQL's immediate shutdown: the postmaster ends its backends and
      // frees its shared memory. A SIGKILLed postmaster would leave both behind for a while.
      signal(pid, 'SIGQUIT');
      const deadline = Date.now() + 3_000;
      while (isProcessAlive(pid) && Date.now() < deadline) sleepSync(10);
      if (isProcessAlive(pid)) signal(pid, 'SIGKILL');
    }
    this.remove();
  }

  private async stopAndRemove(keepData: boolean): Promise<void> {
    try {
      if (this.state === 'running') {
        try {
          await this.shutdown('fast');
        } catch {
          // A server that will not stop cleanly is still stopped: the crash way.
          await this.shutdown('immediate').catch(() => this.killNow());
        }
      }
    } finally {
      if (!keepData) this.remove();
    }
  }

  private async shutdown(mode: PostgresStopMode): Promise<void> {
    const from = logSize(this.logFile);
    try {
      await this.pgCtl(['stop', '--wait', '--timeout', this.timeoutSeconds(), '--pgdata', this.dataDir, '--mode', mode]);
    } catch (error) {
      this.state = this.postmasterAlive() ? 'running' : 'stopped';
      throw this.withLog(error, from);
    }
    this.state = 'stopped';
  }

  private remove(): void {
    if (this.state === 'removed') return;
    this.state = 'removed';
    rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
    this.untrack();
  }

  /** `pg_ctl start`; a failure says whether the port was taken, so the first start can pick another. */
  private async launch(): Promise<void> {
    const from = logSize(this.logFile);
    try {
      // --log is required, not just tidy: without it the postmaster would inherit pg_ctl's
      // stdout pipe and runCommand would wait for the server to exit.
      await this.pgCtl(['start', '--wait', '--timeout', this.timeoutSeconds(), '--pgdata', this.dataDir, '--log', this.logFile]);
    } catch (error) {
      const written = logSince(this.logFile, from);
      throw new StartFailure(this.withLog(error, from).message, looksLikePortInUse(written));
    }
    this.state = 'running';
  }

  /** pg_ctl -w already waits for "ready" in postmaster.pid; a real query proves TCP and auth work too. */
  private async waitUntilReady(): Promise<void> {
    try {
      await waitFor(
        async () => {
          if (!this.postmasterAlive()) throw new StopWaiting('the postmaster exited');
          await this.withClient('postgres', (client) => client.query('SELECT 1'));
        },
        { timeoutMs: this.timeoutMs, what: `postgres on ${this.host}:${this.currentPort} to accept connections` },
      );
    } catch (error) {
      throw this.withLog(error);
    }
  }

  private async withClient<T>(database: string, use: (client: Client) => Promise<T>): Promise<T> {
    const client = new Client({
      host: this.host,
      port: this.currentPort,
      user: SUPERUSER,
      database,
      // Explicit, so PGSSLMODE and friends in a developer's shell cannot change it.
      ssl: false,
      connectionTimeoutMillis: 5_000,
    });
    // The server may be killed while this client idles; an unhandled 'error' would crash the run.
    client.on('error', () => undefined);
    await client.connect();
    try {
      return await use(client);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  private pgCtl(args: readonly string[]): Promise<unknown> {
    return this.runAsOsUser(this.binaries.pgCtl, args);
  }

  private async runAsOsUser(file: string, args: readonly string[]): Promise<void> {
    const command = this.osUser.command(file, args);
    try {
      // cwd: the user we switch to must be able to enter it (root's home is not).
      await runChecked(command.file, command.args, { cwd: this.dir, env: this.env, timeoutMs: this.timeoutMs + 10_000 });
    } catch (error) {
      // The usual cause when another user runs the binaries: a temp folder under a private home.
      if (this.osUser.owner !== undefined && error instanceof Error && /permission denied/i.test(error.message)) {
        error.message += `\n(ran as OS user "${this.osUser.name}", who must be able to reach ${this.dir}: if TMPDIR is inside a private home, point it at /tmp)`;
      }
      throw error;
    }
  }

  /** Writes a file in the data directory, owned by the OS user the server runs as. */
  private writeOwnedFile(path: string, content: string): void {
    writeFileSync(path, content, { mode: 0o600 });
    if (this.osUser.owner !== undefined) chownSync(path, this.osUser.owner.uid, this.osUser.owner.gid);
  }

  private postmasterPid(): number | undefined {
    const pidFile = join(this.dataDir, 'postmaster.pid');
    if (!existsSync(pidFile)) return undefined;
    try {
      const pid = Number.parseInt(readFileSync(pidFile, 'utf8').split('\n')[0] ?? '', 10);
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined; // Removed between the check and the read: the server just stopped.
    }
  }

  private postmasterAlive(): boolean {
    const pid = this.postmasterPid();
    return pid !== undefined && isProcessAlive(pid);
  }

  private timeoutSeconds(): string {
    return String(Math.ceil(this.timeoutMs / 1_000));
  }

  private assertNotRemoved(action: string): void {
    if (this.state === 'removed') throw new Error(`cannot ${action} postgres: it was stopped and its folder ${this.dir} removed (use stop({ keepData: true }) to keep it)`);
  }

  /** The error with the server log appended: only what this step wrote when there is some, else the tail. */
  private withLog(error: unknown, fromByte?: number): Error {
    const message = error instanceof Error ? error.message : String(error);
    const written = fromByte === undefined ? '' : logSince(this.logFile, fromByte).trimEnd();
    const log = written !== '' ? written.split('\n').slice(-40).join('\n') : this.logTail();
    return new Error(`${message}\n--- postgres log ${this.logFile} ---\n${log}`, { cause: error });
  }
}

/** Signals a process we started; it may have exited since, which is fine. */
function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}
