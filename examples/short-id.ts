/**
 * How the demo names a job in its logs. A job id is a UUIDv7: its first 13 characters are
 * the enqueue millisecond, shared by every job enqueued in that millisecond, and the last 12
 * are random. The random tail tells jobs apart.
 */
export function shortId(id: string): string {
  return id.slice(-12);
}
