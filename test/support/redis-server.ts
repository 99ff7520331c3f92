/**
 * A throwaway Redis server for tests: a redis-server child process of this one, on a
 * random loopback port, with its files in a temp folder, so it never meets the machine's
 * own Redis on 6379. Tests can crash it (SIGKILL), restart it, drop its clients and stop
 * it; `stop()` removes every trace.
 *
 *   const redis = await startRedis({ appendonly: true });
 *   try { await redis.command('SET', 'k', 'v'); } finally { await redis.stop(); }
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { redisServerBinary } from './binaries.ts';
import { freePort, LOOPBACK, looksLikePortInUse } from './free-port.ts';
import { logSince, logSize, logTail } from './log-tail.ts';
import { trackServer } from './process-registry.ts';
import { RespConnectionClosedError, type RespReply, sendOnce } from './resp-client.ts';
import { StopWaiting, waitFor } from './wait.ts';

export interface RedisServerOptions {
  /** AOF persistence; with it, data survives restart() and even kill(). Default false. */
  readonly appendonly?: boolean;
  /** AOF fsync policy (Redis's default: everysec). */
  readonly appendfsync?: 'always' | 'everysec' | 'no';
  /** More redis-server arguments, e.g. ['--enable-debug-command', 'yes']. */
  readonly extraArgs?: readonly string[];
  /** How long a start may take before it fails with the log tail. Default 10 s. */
  readonly startTimeoutMs?: number;
}

/** `shutdown`: SHUTDOWN, which flushes the AOF; `kill`: SIGKILL, a crash. */
export type RedisStopMode = 'shutdown' | 'kill';

export interface RedisServer {
  readonly host: string;
  /** Stays the same across restart, kill and start. */
  readonly port: number;
  /** redis://127.0.0.1:PORT */
  readonly url: string;
  /** Temp folder: Redis's working directory (AOF files) and its log. */
  readonly dir: string;
  readonly logFile: string;
  readonly appendonly: boolean;
  /** redis-server's PID while it runs. */
  readonly pid: number | undefined;
  readonly running: boolean;
  /** Sends one command on a fresh connection and resolves with the reply. */
  command(...args: readonly (string | number)[]): Promise<RespReply>;
  /** CLIENT KILL TYPE normal: drops every client connection; resolves with how many. */
  clientKillAll(): Promise<number>;
  /** Stops (default: SHUTDOWN) and starts again on the same port and folder; resolves once it answers PING. */
  restart(options?: { readonly mode?: RedisStopMode }): Promise<void>;
  /** SIGKILL; the folder stays for `start()`. */
  kill(): Promise<void>;
  /** Starts again on the same port and folder after `kill()` or `stop({ keepData: true })`. */
  start(): Promise<void>;
  /** SHUTDOWN, then removes the temp folder unless `keepData`. Safe to call twice. */
  stop(options?: { readonly keepData?: boolean }): Promise<void>;
  /** The last lines of the server log. */
  logTail(lines?: number): string;
}

export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  const server = new ThrowawayRedis(redisServerBinary(), options);
  try {
    await server.initialize();
  } catch (error) {
    server.killNow();
    throw error;
  }
  return server;
}

/** How many ports to try when the one picked is taken before Redis binds it. */
const PORT_ATTEMPTS = 5;

/** How long SHUTDOWN may take before the process is killed instead. */
const SHUTDOWN_TIMEOUT_MS = 10_000;

class StartFailure extends Error {
  constructor(
    message: string,
    readonly portInUse: boolean,
  ) {
    super(message);
  }
}

interface Running {
  readonly child: ChildProcess;
  /** Resolves when the process has exited; `exited` is set just before. */
  readonly exit: Promise<void>;
  exited: boolean;
}

class ThrowawayRedis implements RedisServer {
  readonly host = LOOPBACK;
  readonly dir: string;
  readonly logFile: string;
  readonly appendonly: boolean;
  private currentPort = 0;
  private process: Running | undefined;
  private removed = false;
  private stopping: Promise<void> | undefined;
  private readonly untrack: () => void;
  private readonly timeoutMs: number;

  constructor(
    private readonly binary: string,
    private readonly options: RedisServerOptions,
  ) {
    this.appendonly = options.appendonly ?? false;
    this.timeoutMs = options.startTimeoutMs ?? 10_000;
    this.dir = mkdtempSync(join(tmpdir(), 'jobsmith-redis-'));
    this.logFile = join(this.dir, 'redis.log');
    this.untrack = trackServer({ label: `redis in ${this.dir}`, killNow: () => this.killNow() });
  }

  get port(): number {
    return this.currentPort;
  }

  get url(): string {
    return `redis://${this.host}:${this.currentPort}`;
  }

  get running(): boolean {
    return this.process !== undefined && !this.process.exited;
  }

  get pid(): number | undefined {
    return this.running ? this.process?.child.pid : undefined;
  }

  logTail(lines?: number): string {
    return logTail(this.logFile, lines);
  }

  /** First start, on a fresh port each time the one picked turns out to be taken. */
  async initialize(): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      this.currentPort = await freePort();
      try {
        await this.launch();
        return;
      } catch (error) {
        if (!(error instanceof StartFailure && error.portInUse && attempt < PORT_ATTEMPTS)) throw error;
      }
    }
  }

  command(...args: readonly (string | number)[]): Promise<RespReply> {
    return sendOnce(this.currentPort, this.host, args);
  }

  async clientKillAll(): Promise<number> {
    // SKIPME defaults to yes: the connection sending the command survives it.
    const killed = await this.command('CLIENT', 'KILL', 'TYPE', 'normal');
    if (typeof killed !== 'number') throw new Error(`CLIENT KILL answered ${JSON.stringify(killed)}`);
    return killed;
  }

  async restart(options: { readonly mode?: RedisStopMode } = {}): Promise<void> {
    this.assertNotRemoved('restart');
    if ((options.mode ?? 'shutdown') === 'kill') await this.kill();
    else await this.shutdown();
    await this.start();
  }

  async kill(): Promise<void> {
    this.assertNotRemoved('kill');
    const running = this.process;
    if (running === undefined || running.exited) return;
    running.child.kill('SIGKILL');
    await exitOf(running);
  }

  async start(): Promise<void> {
    this.assertNotRemoved('start');
    if (this.running) return;
    // Same port as before, on purpose: clients under test reconnect to the address they had.
    await this.launch();
  }

  stop(options: { readonly keepData?: boolean } = {}): Promise<void> {
    if (this.removed) return Promise.resolve();
    this.stopping ??= this.stopAndRemove(options.keepData === true).finally(() => {
      this.stopping = undefined;
    });
    return this.stopping;
  }

  /** Synchronous last resort (process exit, failed start): SIGKILL and remove the folder. */
  killNow(): void {
    const running = this.process;
    if (running !== undefined && !running.exited) running.child.kill('SIGKILL');
    this.remove();
  }

  private async stopAndRemove(keepData: boolean): Promise<void> {
    try {
      await this.shutdown();
    } finally {
      if (!keepData) this.remove();
    }
  }

  /** SHUTDOWN (which fsyncs the AOF when it is on); SIGKILL if Redis refuses or hangs. */
  private async shutdown(): Promise<void> {
    const running = this.process;
    if (running === undefined || running.exited) return;
    try {
      await sendOnce(this.currentPort, this.host, ['SHUTDOWN']);
    } catch (error) {
      // Success looks like this: Redis closes the connection without a reply.
      if (!(error instanceof RespConnectionClosedError)) running.child.kill('SIGKILL');
    }
    if (!(await exitOf(running, SHUTDOWN_TIMEOUT_MS))) {
      running.child.kill('SIGKILL');
      await exitOf(running);
    }
  }

  private remove(): void {
    if (this.removed) return;
    this.removed = true;
    rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
    this.untrack();
  }

  /** Spawns redis-server and waits for PONG; a failure says whether the port was taken. */
  private async launch(): Promise<void> {
    const from = logSize(this.logFile);
    // Output goes straight to a file, not a pipe: nothing to drain, and it is there to quote.
    const logFd = openSync(this.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(this.binary, this.serverArgs(), { cwd: this.dir, stdio: ['ignore', logFd, logFd] });
    } finally {
      closeSync(logFd);
    }
    // A forgotten stop() must not keep the test process alive; the exit handler kills it.
    child.unref();
    const running: Running = {
      child,
      exited: false,
      exit: new Promise((resolve) => {
        child.once('exit', () => {
          running.exited = true;
          resolve();
        });
        child.once('error', () => {
          running.exited = true;
          resolve();
        });
      }),
    };
    this.process = running;

    try {
      await waitFor(
        async () => {
          if (running.exited) throw new StopWaiting('redis-server exited');
          // LOADING (an AOF being replayed) comes back as an error reply: keep waiting.
          // Short deadline: if Redis failed to bind, whoever holds the port may never answer.
          const reply = await sendOnce(this.currentPort, this.host, ['PING'], 1_000);
          if (reply !== 'PONG') throw new Error(`PING answered ${JSON.stringify(reply)}`);
        },
        { timeoutMs: this.timeoutMs, what: `redis on ${this.host}:${this.currentPort} to answer PING` },
      );
    } catch (error) {
      if (!running.exited) {
        child.kill('SIGKILL');
        await exitOf(running);
      }
      const written = logSince(this.logFile, from).trimEnd();
      const message = error instanceof Error ? error.message : String(error);
      throw new StartFailure(
        `${message}\n--- redis log ${this.logFile} ---\n${written !== '' ? written.split('\n').slice(-40).join('\n') : this.logTail()}`,
        looksLikePortInUse(written),
      );
    }
  }

  private serverArgs(): string[] {
    return [
      '--port', String(this.currentPort),
      '--bind', this.host,
      '--dir', this.dir,
      // No RDB snapshots: persistence, when wanted, is the AOF alone, so a test knows what survives.
      '--save', '',
      '--appendonly', this.appendonly ? 'yes' : 'no',
      '--appendfsync', this.options.appendfsync ?? 'everysec',
      // A child we own and wait on: it must not fork into the background.
      '--daemonize', 'no',
      ...(this.options.extraArgs ?? []),
    ];
  }

  private assertNotRemoved(action: string): void {
    if (this.removed) throw new Error(`cannot ${action} redis: it was stopped and its folder ${this.dir} removed (use stop({ keepData: true }) to keep it)`);
  }
}

/**
 * Waits for the process to exit; false if `timeoutMs` passes first. The child is normally
 * unref'd, so while someone waits on it, it is ref'd again: otherwise Node could exit
 * with the wait still pending, as nothing else might keep the event loop alive.
 */
async function exitOf(running: Running, timeoutMs?: number): Promise<boolean> {
  if (running.exited) return true;
  running.child.ref();
  let timer: NodeJS.Timeout | undefined;
  try {
    const timedOut = new Promise<false>((resolve) => {
      if (timeoutMs !== undefined) timer = setTimeout(() => resolve(false), timeoutMs);
    });
    return await Promise.race([running.exit.then(() => true as const), timedOut]);
  } finally {
    clearTimeout(timer);
    running.child.unref();
  }
}
