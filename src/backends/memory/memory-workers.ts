import type { LiveWorker, WorkerPresence, WorkerRegistry } from '../../contract/worker-registry.ts';
import type { MemoryState } from './memory-backend.ts';

/**
 * The memory backend's live workers: one registration per worker id in `MemoryState.workers`,
 * handed out as copies. A lapsed registration is deleted when the list is read.
 */
export class MemoryWorkers implements WorkerRegistry {
  constructor(private readonly state: MemoryState) {}

  async registerWorker(worker: WorkerPresence, ttlMs: number): Promise<void> {
    this.state.assertOpen();
    this.registerNow(worker, ttlMs);
  }

  /** Writes the registration at once, for `registerWorker` and for a heartbeat's `renewLeases`, in the same step. */
  registerNow(worker: WorkerPresence, ttlMs: number): void {
    const now = this.state.clock.now();
    this.state.workers.set(worker.id, { ...copyOf(worker), lastHeartbeatAt: now, expiresAt: now + ttlMs });
  }

  async deregisterWorker(workerId: string): Promise<boolean> {
    this.state.assertOpen();
    return this.state.workers.delete(workerId);
  }

  async listWorkers(): Promise<LiveWorker[]> {
    this.state.assertOpen();
    const now = this.state.clock.now();
    for (const [id, worker] of this.state.workers) if (worker.expiresAt <= now) this.state.workers.delete(id);
    return [...this.state.workers.values()]
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((worker) => ({ ...copyOf(worker), lastHeartbeatAt: worker.lastHeartbeatAt, expiresAt: worker.expiresAt }));
  }
}

/** The presence's own fields, its lists copied, so no caller shares the stored arrays. */
function copyOf(worker: WorkerPresence): WorkerPresence {
  const { id, host, pid, queues, names, concurrency, running, startedAt } = worker;
  return { id, host, pid, queues: queues === null ? null : [...queues], names: [...names], concurrency, running, startedAt };
}
