import { InvalidOptionError } from '../index.ts';

/** How many wrong credentials one client address may send before it is refused for a while. */
export interface AuthFailureLimit {
  /** Wrong credentials allowed within `windowMs`; the next attempt is refused. @default 10 */
  failures?: number;
  /** How far back failures count, and how long a refused address waits after its last one. @default 900000 (15 minutes) */
  windowMs?: number;
}

const defaults = { failures: 10, windowMs: 15 * 60_000 };
/** Addresses remembered at most; past it, the ones whose window has passed are forgotten first. */
const maxTrackedAddresses = 10_000;

/**
 * Counts wrong credentials (a wrong token in the login form, a wrong Bearer token, basic-auth
 * password or session cookie) per client address, and refuses every credential from an address
 * that sent `failures` of them within `windowMs`, until that long after its last failure. A
 * 16-character token is far out of a guesser's reach anyway; this keeps a scanner from trying
 * at the speed of the server, and puts it in the log.
 *
 * Written by hand: the dashboard runs inside the user's own server (Hono on Node, or mounted
 * in theirs), and a rate-limit middleware would count every request rather than wrong
 * credentials, which is what a lockout needs.
 */
export class AuthThrottle {
  private readonly failures: number;
  private readonly windowMs: number;
  /** By address: the times of its recent failures, oldest first. */
  private readonly recent = new Map<string, number[]>();

  constructor(limit: AuthFailureLimit = {}) {
    if (typeof limit !== 'object' || limit === null) throw new InvalidOptionError('authFailureLimit', limit, '{ failures, windowMs } or false');
    this.failures = limit.failures ?? defaults.failures;
    this.windowMs = limit.windowMs ?? defaults.windowMs;
    if (!Number.isInteger(this.failures) || this.failures < 1) throw new InvalidOptionError('authFailureLimit.failures', limit.failures, 'a whole number of at least 1');
    if (!Number.isInteger(this.windowMs) || this.windowMs < 1000) throw new InvalidOptionError('authFailureLimit.windowMs', limit.windowMs, 'whole milliseconds, at least 1000');
  }

  /** Milliseconds until `address` may try again, or 0 when it may now. */
  retryAfterMs(address: string, now: number): number {
    const times = this.live(address, now);
    if (times.length < this.failures) return 0;
    return times.at(-1)! + this.windowMs - now;
  }

  /** Counts a wrong credential from `address`; true when that refuses it from now on. */
  recordFailure(address: string, now: number): boolean {
    const times = this.live(address, now);
    times.push(now);
    if (times.length > this.failures) times.shift();
    this.recent.set(address, times);
    if (this.recent.size > maxTrackedAddresses) this.forgetLapsed(now);
    return times.length >= this.failures;
  }

  /** A right credential clears the address's count. */
  recordSuccess(address: string): void {
    this.recent.delete(address);
  }

  private live(address: string, now: number): number[] {
    const times = this.recent.get(address);
    if (times === undefined) return [];
    // A refused address stays refused until windowMs after its last failure; otherwise only
    // failures within the window count.
    if (times.length >= this.failures && times.at(-1)! + this.windowMs > now) return times;
    const kept = times.filter((time) => time + this.windowMs > now);
    if (kept.length === 0) this.recent.delete(address);
    else this.recent.set(address, kept);
    return kept;
  }

  private forgetLapsed(now: number): void {
    for (const address of [...this.recent.keys()]) this.live(address, now);
    // Still too many (a flood of distinct addresses): forget the oldest entries.
    for (const address of this.recent.keys()) {
      if (this.recent.size <= maxTrackedAddresses) break;
      this.recent.delete(address);
    }
  }
}
