import type { BackendEvent, EnqueueResult, NewJob } from './backend.ts';

type Listener = (event: BackendEvent) => void;

/** The listeners a backend's `subscribe` adds: every backend keeps them the same way. */
export class BackendListeners {
  private readonly listeners = new Set<Listener>();

  /** Adds a listener; the returned function removes it. */
  add(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Calls every listener; a copy is walked, so one may unsubscribe while being called. */
  emit(event: BackendEvent): void {
    for (const listener of [...this.listeners]) listener(event);
  }

  clear(): void {
    this.listeners.clear();
  }
}

/** One `enqueued` event per queue that gained jobs, with the earliest run time among them. */
export function enqueuedEvents(jobs: readonly NewJob[], results: readonly EnqueueResult[]): BackendEvent[] {
  const queues = new Map<string, number>();
  jobs.forEach((job, index) => {
    if (results[index]?.created) queues.set(job.queue, Math.min(queues.get(job.queue) ?? job.runAt, job.runAt));
  });
  return [...queues].map(([queue, runAt]) => ({ type: 'enqueued', queue, runAt }));
}
