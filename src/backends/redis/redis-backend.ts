import type { Redis, RedisOptions } from 'ioredis';
import type { BackendEvent } from '../../contract/backend.ts';
import { BackendListeners } from '../../contract/backend-listeners.ts';
import type { BackendCapability } from '../../contract/capabilities.ts';
import { ComposedBackend } from '../../contract/composed-backend.ts';
import { type Clock, systemClock } from '../../domain/clock.ts';
import { ClosedError, InvalidOptionError, InvalidStateError, LeaseLostError, StoreError } from '../../domain/errors.ts';
import type { JobRecord } from '../../domain/job-record.ts';
import { agreedSetting } from '../agreed-setting.ts';
import { loadDriver } from '../load-driver.ts';
import { RedisAdmin } from './redis-admin.ts';
import { RedisKeys } from './redis-keys.ts';
import { RedisQueue } from './redis-queue.ts';
import { fieldsToRecord } from './redis-rows.ts';
import { type RedisScriptName, redisScripts } from './redis-scripts.ts';
import { RedisSchedules } from './redis-schedules.ts';
import { RedisWorkers } from './redis-workers.ts';
import { RedisSteps } from './redis-steps.ts';
import { redisUrlParts } from './redis-url.ts';
import { RedisFlows } from './redis-flows.ts';

export interface RedisBackendOptions {
  /** A `redis://` URL (its `?prefix=` sets `prefix`, as in a URL string given to `createClient`), or… */
  url?: string;
  /** …an ioredis connection you already have (Jobsmith duplicates it for pub/sub and does not close it). */
  redis?: Redis;
  /** Every key starts with `{prefix}:`; the braces make it a Cluster hash tag, so one prefix lives in one slot. @default 'jobsmith' */
  prefix?: string;
  /** Called with a loud warning, such as a `maxmemory-policy` that may evict jobs. @default process.emitWarning */
  onWarning?: (message: string) => void;
  clock?: Clock;
}

type ScriptCall = (key: string, ...args: Array<string | number>) => Promise<unknown>;

/** How long a failed SUBSCRIBE to the events channel waits before it is tried again. */
const subscribeRetryMs = 1000;

/**
 * The Redis backend: every state move is one Lua script, ordering comes from sorted sets,
 * idle workers wake through pub/sub, and every attempt's writes are fenced by its lease
 * token inside the script that makes them.
 */
export class RedisBackend extends ComposedBackend {
  /** What this backend can do beyond the three roles (see `BackendCapability`). */
  readonly capabilities: ReadonlySet<BackendCapability> = new Set<BackendCapability>(['change-events', 'live-workers', 'durable-steps', 'flows']);
  readonly kind = 'redis';
  readonly prefix: string;
  private readonly connection: RedisConnection;
  private readonly listeners: BackendListeners;
  private subscriber: Redis | null = null;
  /** The events channel's SUBSCRIBE failed and has not succeeded since (see `subscribeToEvents`). */
  private subscriptionMissing = false;

  constructor(options: RedisBackendOptions) {
    const listeners = new BackendListeners();
    const connection = new RedisConnection(options, listeners);
    super({
      queue: new RedisQueue(connection, listeners),
      admin: new RedisAdmin(connection, listeners),
      schedules: new RedisSchedules(connection),
      workers: new RedisWorkers(connection),
      steps: new RedisSteps(connection),
      flows: new RedisFlows(connection),
    });
    this.connection = connection;
    this.listeners = listeners;
    this.prefix = connection.prefix;
  }

  open(): Promise<void> {
    return this.connection.open();
  }

  async close(): Promise<void> {
    if (this.connection.closed) return;
    this.connection.closed = true;
    this.listeners.clear();
    this.subscriber?.disconnect();
    this.connection.disconnect();
  }

  now(): number {
    return this.connection.clock.now();
  }

  override subscribe(listener: (event: BackendEvent) => void): () => void {
    const unsubscribe = this.listeners.add(listener);
    if (!this.subscriber) {
      const subscriber = this.connection.redis.duplicate({ lazyConnect: false });
      this.subscriber = subscriber;
      subscriber.on('error', (error: unknown) => this.listeners.emit({ type: 'connection-error', error: this.connection.wrap('subscribe', error) }));
      // After a reconnect, ioredis resubscribes; messages sent meanwhile are gone, so everyone looks again.
      subscriber.on('ready', () => {
        if (this.subscriptionMissing) this.subscribeToEvents(subscriber);
        this.listeners.emit({ type: 'changed' });
      });
      subscriber.on('message', (_channel: string, message: string) => {
        if (message.startsWith('q:')) this.listeners.emit({ type: 'enqueued', queue: message.slice(2), runAt: this.connection.clock.now() });
        else if (message.startsWith('c:')) this.listeners.emit({ type: 'cancel-requested', id: message.slice(2) });
      });
      this.subscribeToEvents(subscriber);
    }
    return unsubscribe;
  }

  /**
   * Subscribes to the events channel. ioredis resubscribes by itself after a reconnect, but only
   * to a subscription that once succeeded: a SUBSCRIBE rejected while the server was down (the
   * connection gives up on a command after one retry) would leave this backend's workers to hear
   * of new jobs only at their poll, for good. So a failed one is reported once, as a
   * 'connection-error', and made again: at the next reconnect (see `subscribe`), or after
   * `subscribeRetryMs` when the connection is up and the server refused it.
   */
  private subscribeToEvents(subscriber: Redis): void {
    subscriber.subscribe(this.connection.keys.events).then(
      () => {
        this.subscriptionMissing = false;
      },
      (error: unknown) => {
        if (this.connection.closed) return;
        if (!this.subscriptionMissing) this.listeners.emit({ type: 'connection-error', error: this.connection.wrap('subscribe', error) });
        this.subscriptionMissing = true;
        if (subscriber.status !== 'ready') return;
        setTimeout(() => {
          if (!this.connection.closed && this.subscriptionMissing) this.subscribeToEvents(subscriber);
        }, subscribeRetryMs).unref();
      },
    );
  }

  /** Every key this backend owns, for tests and operators checking that nothing leaks. */
  async keyCount(): Promise<number> {
    let count = 0;
    let cursor = '0';
    do {
      const [next, keys] = await this.connection.redis.scan(cursor, 'MATCH', this.connection.keys.every, 'COUNT', 1000);
      count += keys.length;
      cursor = next;
    } while (cursor !== '0');
    return count;
  }
}

/**
 * What the roles of one Redis backend share: the connection (opened once, on first use),
 * the key names, the clock, and the one way every call reaches Redis, so every failure
 * becomes a `StoreError` naming the server and the operation.
 */
export class RedisConnection {
  readonly prefix: string;
  readonly keys: RedisKeys;
  readonly clock: Clock;
  readonly redis: Redis;
  /** Set by `close`; every call after it throws `ClosedError`. */
  closed = false;
  private readonly ownsConnection: boolean;
  private readonly onWarning: (message: string) => void;
  /** The server's host:port (or socket path), never the password: every error names it. */
  private readonly address: string;
  /** Why the connection last failed; ioredis's own rejection then says only "Connection is closed.". */
  private lastConnectionError: unknown = null;
  private opening: Promise<void> | null = null;

  constructor(options: RedisBackendOptions, listeners: BackendListeners) {
    const driver = loadDriver<typeof import('ioredis')>('redis'); // without ioredis, fail here
    const fromUrl = options.url === undefined ? undefined : redisUrlParts(options.url);
    this.prefix = agreedSetting('prefix', options.prefix, fromUrl?.prefix) ?? 'jobsmith';
    if (!/^[\w.:-]{1,64}$/.test(this.prefix)) throw new InvalidOptionError('prefix', options.prefix, 'letters, digits, _ . : or -, at most 64');
    this.keys = new RedisKeys(this.prefix);
    this.clock = options.clock ?? systemClock;
    this.onWarning = options.onWarning ?? ((message) => process.emitWarning(message, 'JobsmithWarning'));
    const connection: RedisOptions = {
      // Fail a call after one retry, so the worker reports it and backs off itself;
      // reconnect quickly and forever, so it resumes within a second of Redis coming back.
      maxRetriesPerRequest: 1,
      retryStrategy: (times) => Math.min(50 * times, 1000),
      lazyConnect: true,
    };
    if (options.redis) {
      this.redis = options.redis;
      this.ownsConnection = false;
    } else {
      if (!options.url) throw new InvalidOptionError('url', options.url, 'a redis:// URL or an ioredis connection');
      this.redis = new driver.Redis(fromUrl!.url, connection);
      this.ownsConnection = true;
    }
    const { host, port, path } = this.redis.options;
    this.address = path || `${host ?? 'localhost'}:${port ?? 6379}`;
    this.redis.on('error', (error: unknown) => {
      this.lastConnectionError = error;
      listeners.emit({ type: 'connection-error', error: this.wrap('connection', error) });
    });
    this.redis.on('ready', () => (this.lastConnectionError = null));
    // A connection the server closed (a restart, CLIENT KILL) raises no error: say so for the logs.
    this.redis.on('reconnecting', () =>
      listeners.emit({
        type: 'connection-error',
        error: new StoreError(`The Redis connection to ${this.address} was lost; reconnecting`, { transient: true, details: { prefix: this.prefix, address: this.address } }),
      }),
    );
    for (const [name, lua] of Object.entries(redisScripts())) this.redis.defineCommand(`jobsmith_${name}`, { numberOfKeys: 1, lua });
  }

  open(): Promise<void> {
    if (this.closed) return Promise.reject(new ClosedError('The Redis backend'));
    this.opening ??= this.connect().catch((error: unknown) => {
      this.opening = null;
      throw this.wrap('open', error);
    });
    return this.opening;
  }

  /** Closes the connection if Jobsmith opened it (one passed in stays the caller's). */
  disconnect(): void {
    if (this.ownsConnection) this.redis.disconnect();
  }

  /** Runs one script, with P as its key. */
  async script(name: RedisScriptName, ...args: Array<string | number>): Promise<unknown> {
    const command = (this.redis as unknown as Record<string, ScriptCall>)[`jobsmith_${name}`]!;
    return this.call(name, () => command.call(this.redis, this.keys.root, ...args));
  }

  /** The same script several times in one MULTI, which Redis runs back to back with nothing in between. */
  scriptBatch(name: RedisScriptName, calls: ReadonlyArray<Array<string | number>>): Promise<unknown[]> {
    return this.scripts(name, calls.map((args) => ({ name, args })));
  }

  /** Scripts in one MULTI (one round trip), which Redis runs back to back with nothing in between; their replies in order. */
  async scripts(operation: string, calls: ReadonlyArray<{ name: RedisScriptName; args: ReadonlyArray<string | number> }>): Promise<unknown[]> {
    const multi = this.redis.multi() as unknown as Record<string, ScriptCall> & { exec(): Promise<Array<[Error | null, unknown]> | null> };
    for (const { name, args } of calls) void multi[`jobsmith_${name}`]!(this.keys.root, ...args);
    const replies = (await this.call(operation, () => multi.exec())) ?? [];
    return replies.map(([error, out]) => {
      if (error) throw this.wrap(operation, error);
      return out;
    });
  }

  async call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new ClosedError('The Redis backend');
    if (operation !== 'open') await this.open();
    try {
      return await fn();
    } catch (error) {
      throw this.wrap(operation, error);
    }
  }

  /** Jobs' records by id (null for one that does not exist), read in one pipeline. */
  async records(ids: readonly string[]): Promise<Array<JobRecord | null>> {
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) {
      pipeline.hgetall(this.keys.job(id));
      pipeline.lrange(this.keys.progress(id), 0, -1);
      pipeline.lrange(this.keys.logs(id), 0, -1);
      pipeline.lrange(this.keys.attempts(id), 0, -1);
    }
    const replies = (await this.call('get', () => pipeline.exec())) ?? [];
    return ids.map((_id, index) => {
      const list = (offset: number) => (replies[index * 4 + offset]?.[1] ?? []) as string[];
      const fields = replies[index * 4]?.[1] as Record<string, string> | undefined;
      if (!fields || Object.keys(fields).length === 0) return null;
      return fieldsToRecord(fields, list(1), list(2), list(3));
    });
  }

  wrap(operation: string, error: unknown): unknown {
    if (error instanceof StoreError || error instanceof InvalidStateError || error instanceof LeaseLostError || error instanceof ClosedError) return error;
    const message = error instanceof Error ? error.message : String(error);
    if (/DUPLICATE_ID/.test(message)) {
      return new StoreError(`Redis ${operation} at ${this.address} failed: a job with that id already exists (${message})`, { cause: error, details: { operation } });
    }
    const code = (error as { code?: unknown }).code;
    const transient =
      /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|Connection is closed|LOADING|MaxRetriesPerRequest|Stream isn't writeable|enableOfflineQueue/i.test(message) ||
      (typeof code === 'string' && ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE'].includes(code));
    const auth = /NOAUTH|WRONGPASS|invalid password|invalid username-password/i.test(message);
    // "Connection is closed." alone does not say why: the connection's own last error does
    // (ECONNREFUSED, ENOTFOUND for an unknown host, …).
    const why = /Connection is closed/i.test(message) && this.lastConnectionError instanceof Error ? ` (${this.lastConnectionError.message})` : '';
    return new StoreError(`Redis ${operation} at ${this.address} failed${auth ? ': the credentials were rejected' : ''}: ${message}${why}`, {
      cause: error,
      transient: transient && !auth,
      details: { operation, prefix: this.prefix, address: this.address },
    });
  }

  private async connect(): Promise<void> {
    if (this.redis.status === 'wait' || this.redis.status === 'end') await this.redis.connect();
    await this.redis.ping();
    try {
      const [, policy] = (await this.redis.config('GET', 'maxmemory-policy')) as [string, string];
      if (policy && policy !== 'noeviction') {
        this.onWarning(
          `Redis maxmemory-policy is "${policy}", not "noeviction": under memory pressure Redis may evict job keys, and an evicted key is a lost job. Set maxmemory-policy noeviction.`,
        );
      }
    } catch {
      // CONFIG may be disabled (managed Redis); the policy is then the operator's to check.
    }
  }
}
