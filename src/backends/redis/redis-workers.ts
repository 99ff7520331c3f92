import type { LiveWorker, WorkerPresence, WorkerRegistry } from '../../contract/worker-registry.ts';
import type { RedisConnection } from './redis-backend.ts';

/**
 * The live-workers role of the Redis backend: each registration is a JSON string under
 * `P worker:<id>`, listed in `P workers` by expiry, so listing deletes the lapsed ones in the
 * same script (`lua/list-workers.lua`). A heartbeat's `renewLeases` sends the registration in
 * the same MULTI as its renewal (redis-queue.ts).
 */
export class RedisWorkers implements WorkerRegistry {
  constructor(private readonly connection: RedisConnection) {}

  async registerWorker(worker: WorkerPresence, ttlMs: number): Promise<void> {
    await this.connection.script('registerWorker', ...registrationArguments(worker, this.connection.clock.now(), ttlMs));
  }

  async deregisterWorker(workerId: string): Promise<boolean> {
    return ((await this.connection.script('deregisterWorker', workerId)) as number) === 1;
  }

  async listWorkers(): Promise<LiveWorker[]> {
    const texts = (await this.connection.script('listWorkers', this.connection.clock.now())) as string[];
    // The set orders by expiry; the contract lists by id.
    return texts.map((text) => JSON.parse(text) as LiveWorker).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
}

/** The arguments of `lua/register-worker.lua`: the id, the registration as stored, its expiry. */
export function registrationArguments(worker: WorkerPresence, now: number, ttlMs: number): [string, string, number] {
  const { id, host, pid, queues, names, concurrency, running, startedAt } = worker;
  const expiresAt = now + ttlMs;
  const stored: LiveWorker = { id, host, pid, queues, names, concurrency, running, startedAt, lastHeartbeatAt: now, expiresAt };
  return [id, JSON.stringify(stored), expiresAt];
}
