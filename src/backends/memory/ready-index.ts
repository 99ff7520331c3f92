interface Ready {
  priority: number;
  runAt: number;
  seq: number;
}

/**
 * Runnable jobs in claim order: priority (highest first), then `runAt`, then enqueue
 * order. A sorted array with binary-search insertion: jobs enqueued in order with
 * equal priority append at the end, which is the common case.
 */
export class ReadyIndex<T extends Ready> {
  private items: T[] = [];

  add(item: T): void {
    let low = 0;
    let high = this.items.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (before(this.items[mid]!, item)) low = mid + 1;
      else high = mid;
    }
    this.items.splice(low, 0, item);
  }

  delete(item: T): void {
    const index = this.items.indexOf(item);
    if (index >= 0) this.items.splice(index, 1);
  }

  /** Removes and returns up to `limit` items that pass `accept`, in order. */
  take(limit: number, accept: (item: T) => boolean): T[] {
    const taken: T[] = [];
    const kept: T[] = [];
    let index = 0;
    for (; index < this.items.length && taken.length < limit; index++) {
      const item = this.items[index]!;
      if (accept(item)) taken.push(item);
      else kept.push(item);
    }
    if (taken.length > 0) this.items = [...kept, ...this.items.slice(index)];
    return taken;
  }
}

function before(a: Ready, b: Ready): boolean {
  if (a.priority !== b.priority) return a.priority > b.priority;
  if (a.runAt !== b.runAt) return a.runAt < b.runAt;
  return a.seq < b.seq;
}
