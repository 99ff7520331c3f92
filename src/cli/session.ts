import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Client, type JobRecord, type Scheduler, createClient, createScheduler, isJobsmithError, redactUrl } from '../index.ts';
import { CliError } from './cli-errors.ts';
import { type LoadedConfig, findConfigFile, loadConfig, resolveUrl } from './config-file.ts';
import { Terminal, wantsColor } from './terminal.ts';
import { moment } from './time-format.ts';

/** Options every command takes. */
export interface GlobalOptions {
  url?: string;
  config?: string;
  json?: boolean;
  color: boolean;
  verbose?: boolean;
}

/**
 * What one run of the `jobsmith` command works with: the global options, the config file
 * (read only when needed), the store (opened on first use) and the terminal. Closing it
 * lets go of the store.
 */
export class Session {
  private options: GlobalOptions = { color: true };
  private terminalInstance: Terminal | null = null;
  private loaded: Promise<LoadedConfig> | null = null;
  private clientInstance: Client | null = null;
  private schedulerInstance: Scheduler | null = null;

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly cwd: string,
  ) {}

  /** Takes the parsed global options; called before a command's action runs. */
  configure(options: GlobalOptions): void {
    this.options = options;
    this.terminalInstance = new Terminal({ color: wantsColor(options.color, this.env, process.stdout.isTTY === true) });
  }

  get terminal(): Terminal {
    this.terminalInstance ??= new Terminal({ color: wantsColor(this.options.color, this.env, process.stdout.isTTY === true) });
    return this.terminalInstance;
  }

  get json(): boolean {
    return this.options.json === true;
  }

  get verbose(): boolean {
    return this.options.verbose === true;
  }

  get workingDirectory(): string {
    return this.cwd;
  }

  /** The config file's path (from --config, or found here), without loading it; null when there is none. */
  configPath(): string | null {
    if (this.options.config === undefined) return findConfigFile(this.cwd);
    const path = resolve(this.cwd, this.options.config);
    if (!existsSync(path)) throw new CliError('CONFIG', `Config file ${this.options.config} does not exist.`);
    return path;
  }

  /** The config file, loaded once. */
  config(): Promise<LoadedConfig> {
    this.loaded ??= loadConfig(this.options.config, this.cwd);
    return this.loaded;
  }

  /** The store's connection string and where it came from; the config file is read only when neither --url nor JOBSMITH_URL is set. */
  async store(): Promise<{ url: string; from: string }> {
    const early = resolveUrl(this.options.url, this.env, null);
    if (early.from !== 'the default') return early;
    return resolveUrl(undefined, this.env, (await this.config()).config);
  }

  /** The store's connection string with any password hidden, for printing. */
  async safeUrl(): Promise<string> {
    return redactUrl((await this.store()).url);
  }

  /** A client on the store. It is handed job definitions where it needs them (`run`, `enqueue`), so it needs no config. */
  async client(): Promise<Client> {
    if (this.clientInstance) return this.clientInstance;
    this.clientInstance = createClient({ backend: (await this.store()).url });
    return this.clientInstance;
  }

  /** A scheduler on the store that knows the config's jobs (not started). */
  async scheduler(): Promise<Scheduler> {
    if (this.schedulerInstance) return this.schedulerInstance;
    const { url } = await this.store();
    this.schedulerInstance = createScheduler({ backend: url, jobs: (await this.config()).config.jobs ?? [] });
    return this.schedulerInstance;
  }

  /** The store's clock. */
  async now(): Promise<number> {
    return (await (await this.client()).backend()).now();
  }

  /** One job by id or unique prefix. An ambiguous prefix is a usage error that lists the candidates. */
  async job(idOrPrefix: string): Promise<JobRecord> {
    const client = await this.client();
    try {
      return await client.get(idOrPrefix);
    } catch (error) {
      if (!isJobsmithError(error, 'AMBIGUOUS_ID')) throw error;
      const matches = error.details.matches as string[];
      const now = await this.now();
      const rows: string[][] = [];
      for (const id of matches.slice(0, 10)) {
        const job = await client.get(id).catch(() => null);
        rows.push(job ? [id, job.name, job.state, `created ${moment(job.createdAt, now, true)}`] : [id]);
      }
      const widths = [0, 1, 2].map((column) => Math.max(...rows.map((row) => row[column]?.length ?? 0)));
      const candidates = rows.map((row) => `  ${row.map((cell, column) => (column < 3 ? cell.padEnd(widths[column]!) : cell)).join('  ')}`.trimEnd());
      const count = matches.length > 10 ? 'more than 10 jobs' : `${matches.length} jobs`;
      throw new CliError('USAGE', `Id prefix "${idOrPrefix}" matches ${count}; give more of the id:`, { cause: error, detail: candidates });
    }
  }

  /** Text that must never be printed: the password of the store's URL. */
  async secrets(): Promise<string[]> {
    const url = this.options.url ?? this.env.JOBSMITH_URL ?? (this.loaded ? (await this.loaded.catch(() => null))?.config.url : undefined);
    if (!url) return [];
    try {
      const password = new URL(url).password;
      if (password === '') return [];
      return [...new Set([password, decodeURIComponent(password)])];
    } catch {
      return [];
    }
  }

  async close(): Promise<void> {
    await this.schedulerInstance?.close();
    await this.clientInstance?.close();
  }
}
