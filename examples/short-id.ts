/**
 * How the demo names a job in its logs: the first 18 characters of its id, as `jobsmith
 * list` shows it, so `npx jobsmith status <short id>` finds it. A job id is a UUIDv7: its
 * first 13 characters are the enqueue millisecond, and the next 5 hold a counter that this
 * process steps for every id within one millisecond, so they tell apart every job the demo
 * enqueues (ids from other processes in the same millisecond may need more characters).
 */
export function shortId(id: string): string {
  return id.slice(0, 18);
}
