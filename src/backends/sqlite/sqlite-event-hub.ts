import type { BackendEvent } from '../../contract/backend.ts';

type Listener = (event: BackendEvent) => void;

/**
 * Backend events shared by every SqliteBackend on the same file in this process, so
 * a worker wakes at once when a client with its own connection enqueues. Commits by
 * other processes are seen by each backend's watch of the file (`PRAGMA data_version`),
 * which emits 'changed' and the cancel requests they made into this hub.
 */
const hubs = new Map<string, Set<Listener>>();
/** Writes made in this process on each file while its hub had listeners (see `countLocalWrite`). */
const localWrites = new Map<string, number>();

export function hubFor(file: string): Set<Listener> {
  let hub = hubs.get(file);
  if (!hub) {
    hub = new Set();
    hubs.set(file, hub);
  }
  return hub;
}

export function releaseHub(file: string): void {
  if (hubs.get(file)?.size === 0) {
    hubs.delete(file);
    localWrites.delete(file);
  }
}

/**
 * Counts a write about to commit on `file` from a connection of this process, while anyone
 * here listens. The watch of another connection on the file (sqlite-watch.ts) tells by it
 * whether a change it sees may be this process's own, whose events the hub brought already.
 */
export function countLocalWrite(file: string): void {
  localWrites.set(file, (localWrites.get(file) ?? 0) + 1);
}

export function localWritesOf(file: string): number {
  return localWrites.get(file) ?? 0;
}

/** Whether anything in this process listens to `file`'s hub (without making one). */
export function hubHasListeners(file: string): boolean {
  return (hubs.get(file)?.size ?? 0) > 0;
}
