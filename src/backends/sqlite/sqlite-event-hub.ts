import type { BackendEvent } from '../../contract/backend.ts';

type Listener = (event: BackendEvent) => void;

/**
 * Backend events shared by every SqliteBackend on the same file in this process, so
 * a worker wakes at once when a client with its own connection enqueues. Commits by
 * other processes are seen by each backend's watch of the file (`PRAGMA data_version`),
 * which emits 'changed' and the cancel requests they made into this hub.
 */
const hubs = new Map<string, Set<Listener>>();

export function hubFor(file: string): Set<Listener> {
  let hub = hubs.get(file);
  if (!hub) {
    hub = new Set();
    hubs.set(file, hub);
  }
  return hub;
}

export function releaseHub(file: string): void {
  if (hubs.get(file)?.size === 0) hubs.delete(file);
}

/** Whether anything in this process listens to `file`'s hub (without making one). */
export function hubHasListeners(file: string): boolean {
  return (hubs.get(file)?.size ?? 0) > 0;
}
