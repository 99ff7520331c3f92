interface Ready {
  priority: number;
  runAt: number;
  seq: number;
}

/**
 * Runnable jobs in claim order: priority (highest first), then `runAt`, then enqueue
 * order. A sorted array read from a moving head: claims usually take from the front,
 * which then costs nothing per remaining job; the array is compacted once the head has
 * moved past half of it. Jobs enqueued in order with equal priority append at the end.
 */
export class ReadyIndex<T extends Ready> {
  private items: T[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  add(item: T): void {
    let low = this.head;
    let high = this.items.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (before(this.items[mid]!, item)) low = mid + 1;
      else high = mid;
    }
    if (low === this.items.length) this.items.push(item);
    else this.items.splice(low, 0, item);
  }

  delete(item: T): void {
    const index = this.items.indexOf(item, this.head);
    if (index === this.head) this.head++;
    else if (index > this.head) this.items.splice(index, 1);
    this.compact();
  }

  /** Removes and returns up to `limit` items that pass `accept`, in order. */
  take(limit: number, accept: (item: T) => boolean): T[] {
    const taken: T[] = [];
    let index = this.head;
    // The common case: the front items are the ones wanted.
    while (index < this.items.length && taken.length < limit && accept(this.items[index]!)) taken.push(this.items[index++]!);
    this.head = index;
    if (taken.length < limit) {
      // Skip over items another worker's filter would take, picking out ours.
      const kept: T[] = [];
      for (; index < this.items.length && taken.length < limit; index++) {
        const item = this.items[index]!;
        if (accept(item)) taken.push(item);
        else kept.push(item);
      }
      if (kept.length < index - this.head) {
        this.items = [...kept, ...this.items.slice(index)];
        this.head = 0;
      }
    }
    this.compact();
    return taken;
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}

function before(a: Ready, b: Ready): boolean {
  if (a.priority !== b.priority) return a.priority > b.priority;
  if (a.runAt !== b.runAt) return a.runAt < b.runAt;
  return a.seq < b.seq;
}
